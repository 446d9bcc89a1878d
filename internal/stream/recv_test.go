package stream_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stream"
	"github.com/mcasttools/mcast/internal/wire/streamhdr"
)

// batch makes n datagrams with the mcast header, sequence numbers from
// first, as one sender's batch arrives.
func batch(n int, first uint64, size int) []sock.Datagram {
	ds := make([]sock.Datagram, n)
	now := time.Unix(1700000000, 0)
	for i := range ds {
		p := make([]byte, size)
		streamhdr.Put(p, streamhdr.Header{TTL: 1, SenderID: 7, Seq: first + uint64(i), SentNs: now.UnixNano() - 1000})
		ds[i] = sock.Datagram{Payload: p, Src: netip.MustParseAddrPort("10.0.0.1:4000"), Dst: netip.MustParseAddr("239.1.1.1"),
			IfIndex: 2, TTL: 1, At: now}
	}
	return ds
}

func renumber(ds []sock.Datagram, first uint64) {
	for i := range ds {
		streamhdr.Put(ds[i].Payload, streamhdr.Header{TTL: 1, SenderID: 7, Seq: first + uint64(i), SentNs: ds[i].At.UnixNano() - 1000})
	}
}

// Accounting a datagram of a known flow allocates nothing: in order,
// reordered, duplicate, and from a foreign sender.
func TestReceiverAddAllocs(t *testing.T) {
	r := stream.NewReceiver(time.Now(), func(int) string { return "eth0" })
	ds := batch(64, 0, 64)
	for _, d := range ds {
		r.Add(d)
	}
	foreign := ds[0]
	foreign.Payload = []byte("iperf2 or socat")
	r.Add(foreign)
	seq := uint64(64)
	tests := []struct {
		name string
		run  func()
	}{
		{"in order", func() {
			renumber(ds, seq)
			seq += 64
			for _, d := range ds {
				r.Add(d)
			}
		}},
		{"duplicate", func() {
			for _, d := range ds {
				r.Add(d)
			}
		}},
		{"reordered", func() {
			renumber(ds, seq)
			seq += 64
			for i := len(ds) - 1; i >= 0; i-- {
				r.Add(ds[i])
			}
		}},
		{"foreign", func() { r.Add(foreign) }},
		{"in order, AddTo", func() {
			renumber(ds, seq)
			seq += 64
			var ev stream.Event
			for i := range ds {
				r.AddTo(&ev, &ds[i])
			}
		}},
	}
	for _, tt := range tests {
		if a := testing.AllocsPerRun(100, tt.run); a != 0 {
			t.Errorf("%s: %.1f allocations, want 0", tt.name, a)
		}
	}
	if got := r.Totals(); got.Duplicates == 0 || got.Reordered == 0 || got.Foreign == 0 {
		t.Errorf("totals %+v: the cases did not run as meant", got)
	}
}

func BenchmarkReceiverAdd(b *testing.B) {
	r := stream.NewReceiver(time.Now(), func(int) string { return "eth0" })
	ds := batch(64, 0, 64)
	seq := uint64(0)
	var ev stream.Event
	b.ReportAllocs()
	for b.Loop() {
		renumber(ds, seq)
		seq += 64
		for i := range ds {
			r.AddTo(&ev, &ds[i])
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/datagram")
}
