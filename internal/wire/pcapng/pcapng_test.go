package pcapng_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/wire/pcap"
	"github.com/mcasttools/mcast/internal/wire/pcapng"
)

func readAll(t testing.TB, r io.Reader) ([]pcapng.Record, error) {
	t.Helper()
	nr, err := pcapng.NewReader(r)
	if err != nil {
		return nil, err
	}
	var out []pcapng.Record
	for {
		rec, err := nr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, rec)
	}
}

// The files tshark and dumpcap wrote in a lab (testdata/README.md) read
// whole: every packet tcpdump -r counts, with its interface, link type,
// length and a time within the capture.
func TestReadToolFiles(t *testing.T) {
	for name, want := range map[string]int{"testdata/tshark.pcapng": 27, "testdata/dumpcap.pcapng": 34} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			recs, err := readAll(t, bufio.NewReader(f))
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != want {
				t.Fatalf("%d packets, want %d", len(recs), want)
			}
			day := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
			for i, r := range recs {
				if r.LinkType != pcap.LinkEthernet || r.Iface != "eth0" || r.OrigLen != len(r.Data) || len(r.Data) < 14 ||
					r.Time.Before(day) || r.Time.After(day.Add(24*time.Hour)) {
					t.Errorf("packet %d: link %d iface %q len %d of %d at %s", i, r.LinkType, r.Iface, len(r.Data), r.OrigLen, r.Time)
				}
			}
		})
	}
}

// ng builds pcapng blocks in one byte order.
type ng struct {
	order binary.AppendByteOrder
	buf   bytes.Buffer
}

func (w *ng) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	w.buf.Write(w.order.AppendUint32(w.order.AppendUint32(nil, typ), n))
	w.buf.Write(body)
	w.buf.Write(w.order.AppendUint32(nil, n))
}

func (w *ng) section() {
	b := w.order.AppendUint32(nil, 0x1a2b3c4d)
	b = w.order.AppendUint16(w.order.AppendUint16(b, 1), 0)
	b = w.order.AppendUint64(b, ^uint64(0))
	w.block(0x0a0d0d0a, b)
}

func (w *ng) iface(link uint16, name string, tsresol byte) {
	b := w.order.AppendUint16(nil, link)
	b = w.order.AppendUint16(b, 0)
	b = w.order.AppendUint32(b, 0)
	if name != "" {
		b = w.order.AppendUint16(w.order.AppendUint16(b, 2), uint16(len(name)))
		b = append(b, name...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	if tsresol != 0 {
		b = w.order.AppendUint16(w.order.AppendUint16(b, 9), 1)
		b = append(b, tsresol, 0, 0, 0)
	}
	b = append(b, 0, 0, 0, 0)
	w.block(1, b)
}

func (w *ng) epb(id uint32, ts uint64, data []byte, orig int) {
	b := w.order.AppendUint32(nil, id)
	b = w.order.AppendUint32(b, uint32(ts>>32))
	b = w.order.AppendUint32(b, uint32(ts))
	b = w.order.AppendUint32(b, uint32(len(data)))
	b = w.order.AppendUint32(b, uint32(orig))
	w.block(6, append(b, data...))
}

// Sections in both byte orders, several interfaces with their own link
// types, names and timestamp resolutions, simple and obsolete packet
// blocks, and blocks to skip.
func TestReadCrafted(t *testing.T) {
	w := &ng{order: binary.BigEndian}
	w.section()
	w.iface(pcap.LinkEthernet, "eth0", 0)                // microseconds
	w.iface(pcap.LinkLinuxSLL2, "any", 9)                // nanoseconds
	w.block(4, []byte{0, 0, 0, 0})                       // name resolution: skipped
	w.epb(0, 1_700_000_000_123_456, []byte{1, 2, 3}, 60) // cut by the snap length
	w.epb(1, 1_700_000_000_123_456_789, []byte{4, 5}, 2)
	le := &ng{order: binary.LittleEndian}
	le.section()
	le.iface(pcap.LinkRaw, "", 0x80|20) // 2^-20 s
	le.block(3, append(le.order.AppendUint32(nil, 5), 9, 9, 9, 9, 9))
	ts := uint64(1_700_000_000)<<20 | 1<<19 // .5 s
	opb := le.order.AppendUint16(nil, 0)
	opb = le.order.AppendUint16(opb, 0)
	opb = le.order.AppendUint32(opb, uint32(ts>>32))
	opb = le.order.AppendUint32(opb, uint32(ts))
	opb = le.order.AppendUint32(opb, 1)
	opb = le.order.AppendUint32(opb, 1)
	le.block(2, append(opb, 7))
	recs, err := readAll(t, io.MultiReader(&w.buf, &le.buf))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		link  uint32
		iface string
		at    time.Time
		data  []byte
		orig  int
	}{
		{pcap.LinkEthernet, "eth0", time.Unix(1_700_000_000, 123_456_000), []byte{1, 2, 3}, 60},
		{pcap.LinkLinuxSLL2, "any", time.Unix(1_700_000_000, 123_456_789), []byte{4, 5}, 2},
		{pcap.LinkRaw, "", time.Unix(0, 0), []byte{9, 9, 9, 9, 9}, 5},
		{pcap.LinkRaw, "", time.Unix(1_700_000_000, 500_000_000), []byte{7}, 1},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, wt := range want {
		r := recs[i]
		if r.LinkType != wt.link || r.Iface != wt.iface || !r.Time.Equal(wt.at) || !bytes.Equal(r.Data, wt.data) || r.OrigLen != wt.orig {
			t.Errorf("record %d: %+v, want %+v", i, r, wt)
		}
	}
}

// A file cut anywhere, or with a lying length, fails with ErrFormat or
// ends cleanly between blocks; never a panic.
func TestReadBad(t *testing.T) {
	good, err := os.ReadFile("testdata/tshark.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < 600; n++ {
		if _, err := readAll(t, bytes.NewReader(good[:n])); err != nil && !errors.Is(err, pcapng.ErrFormat) {
			t.Fatalf("cut to %d bytes: %v", n, err)
		}
	}
	if _, err := readAll(t, bytes.NewReader(good[:0])); !errors.Is(err, pcapng.ErrFormat) {
		t.Errorf("empty file: %v", err)
	}
	lying := bytes.Clone(good)
	binary.LittleEndian.PutUint32(lying[4:], 1<<30)
	if _, err := readAll(t, bytes.NewReader(lying)); !errors.Is(err, pcapng.ErrFormat) {
		t.Errorf("section of 1 GiB: %v", err)
	}
	w := &ng{order: binary.LittleEndian}
	w.section()
	w.epb(0, 0, []byte{1}, 1)
	if _, err := readAll(t, &w.buf); !errors.Is(err, pcapng.ErrFormat) {
		t.Errorf("packet before any interface: %v", err)
	}
}

// FuzzReader: any bytes read as a pcapng file give records or an error
// wrapping ErrFormat, never a panic, and no record longer than its block.
func FuzzReader(f *testing.F) {
	for _, name := range []string{"testdata/tshark.pcapng", "testdata/dumpcap.pcapng"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 2000)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := readAll(t, bytes.NewReader(b))
		if err != nil && !errors.Is(err, pcapng.ErrFormat) {
			t.Fatalf("error of no known cause: %v", err)
		}
		for _, r := range recs {
			if len(r.Data) > len(b) {
				t.Fatalf("record of %d bytes from %d", len(r.Data), len(b))
			}
		}
	})
}
