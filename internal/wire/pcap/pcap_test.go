package pcap_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcasttools/mcast/internal/wire/pcap"
)

func TestRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := pcap.NewWriter(&buf, pcap.LinkEthernet, 64)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 678901000, time.UTC)
	recs := []pcap.Record{
		{Time: t0, OrigLen: 3, Data: []byte{1, 2, 3}},
		{Time: t0.Add(time.Second), OrigLen: 100, Data: bytes.Repeat([]byte{7}, 64)},
		{Time: t0.Add(2 * time.Second), OrigLen: 0, Data: []byte{}},
	}
	for _, r := range recs {
		if err := w.Write(r.Time, r.Data, r.OrigLen); err != nil {
			t.Fatal(err)
		}
	}
	// Oversized data is cut to the snap length.
	if err := w.Write(t0, bytes.Repeat([]byte{9}, 100), 100); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, pcap.Record{Time: t0, OrigLen: 100, Data: bytes.Repeat([]byte{9}, 64)})

	r, err := pcap.NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != pcap.LinkEthernet {
		t.Errorf("link type %d", r.LinkType())
	}
	var got []pcap.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rec.Time = rec.Time.UTC()
		got = append(got, rec)
	}
	if d := cmp.Diff(recs, got); d != "" {
		t.Errorf("records (-want +got):\n%s", d)
	}
}

// tcpdump-lab.pcap was written by tcpdump -w on a lab node: 24 IGMP and MLD packets.
func TestReadTcpdump(t *testing.T) {
	f, err := os.Open("testdata/tcpdump-lab.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcap.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(rec.Data) < 14 || rec.Time.Year() < 2020 {
			t.Errorf("record %d: %d bytes at %s", n, len(rec.Data), rec.Time)
		}
		n++
	}
	if n != 24 {
		t.Errorf("read %d records, want 24", n)
	}
}

func TestBadFiles(t *testing.T) {
	good, err := os.ReadFile("testdata/tcpdump-lab.pcap")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "0 of 24 bytes"},
		{"short header", good[:10], "10 of 24 bytes"},
		{"garbage", []byte(strings.Repeat("garbage!", 10)), "magic number"},
		{"truncated record header", good[:24+5], "5 of 16 bytes"},
		{"truncated record", good[:24+16+10], "10 of"},
		{"huge record", append(append([]byte{}, good[:24+8]...), 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0), "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := readAll(tt.in)
			if !errors.Is(err, pcap.ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want ErrFormat containing %q", err, tt.want)
			}
		})
	}
	if _, err := pcap.NewWriter(io.Discard, pcap.LinkEthernet, 0); err == nil {
		t.Error("NewWriter with snap length 0: no error")
	}
}

func readAll(b []byte) error {
	r, err := pcap.NewReader(bytes.NewReader(b))
	if err != nil {
		return err
	}
	for {
		if _, err := r.Next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

func FuzzReader(f *testing.F) {
	good, err := os.ReadFile("testdata/tcpdump-lab.pcap")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:100])
	f.Add([]byte{0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = readAll(b)
	})
}
