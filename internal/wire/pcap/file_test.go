package pcap_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/wire/pcap"
)

func TestReadFile(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, pcap.LinkRaw, 64)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := w.Write(time.Unix(int64(i), 0), []byte{0x45, byte(i)}, 2); err != nil {
			t.Fatal(err)
		}
	}
	name := filepath.Join(t.TempDir(), "three.pcap")
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	lt, recs, err := pcap.ReadFile(name)
	if err != nil || lt != pcap.LinkRaw || len(recs) != 3 || recs[2].Data[1] != 2 || recs[0].Data[1] != 0 {
		t.Fatalf("ReadFile: link %d, %d records, %v", lt, len(recs), err)
	}
	if err := os.WriteFile(name, buf.Bytes()[:buf.Len()-1], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, recs, err := pcap.ReadFile(name); !errors.Is(err, pcap.ErrFormat) || len(recs) != 2 {
		t.Errorf("cut file: %d records, %v; want 2 and ErrFormat", len(recs), err)
	}
	if _, _, err := pcap.ReadFile(filepath.Join(t.TempDir(), "none.pcap")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
