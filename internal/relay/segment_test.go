package relay

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/mcasttools/mcast/internal/sock"
)

func TestSegBatch(t *testing.T) {
	g1 := netip.MustParseAddrPort("239.1.1.1:5001")
	g2 := netip.MustParseAddrPort("239.1.1.2:5001")
	type dg struct {
		dst  netip.AddrPort
		ttl  uint8
		size int
	}
	rep := func(n int, d dg) []dg {
		out := make([]dg, n)
		for i := range out {
			out[i] = d
		}
		return out
	}
	tests := []struct {
		name   string
		merge  bool
		in     []dg
		counts []int // datagrams per run
	}{
		{"one group one size", true, rep(5, dg{g1, 8, 100}), []int{5}},
		{"no merge", false, rep(3, dg{g1, 8, 100}), []int{1, 1, 1}},
		{"group changes", true, []dg{{g1, 8, 100}, {g1, 8, 100}, {g2, 8, 100}, {g1, 8, 100}}, []int{2, 1, 1}},
		{"size changes", true, []dg{{g1, 8, 100}, {g1, 8, 50}, {g1, 8, 50}}, []int{1, 2}},
		{"ttl changes", true, []dg{{g1, 8, 100}, {g1, 9, 100}}, []int{1, 1}},
		{"empty payloads stay apart", true, rep(2, dg{g1, 8, 0}), []int{1, 1}},
		{"at most 64 segments", true, rep(70, dg{g1, 8, 10}), []int{64, 6}},
		{"at most 65000 bytes", true, rep(50, dg{g1, 8, 1400}), []int{46, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b segBatch
			b.add(g2, 1, []byte("stale"), true) // a previous batch
			b.n = 0
			var want []byte
			for i, d := range tt.in {
				p := bytes.Repeat([]byte{byte(i)}, d.size)
				want = append(want, p...)
				b.add(d.dst, d.ttl, p, tt.merge)
			}
			if b.n != len(tt.counts) {
				t.Fatalf("%d runs, want %d", b.n, len(tt.counts))
			}
			var got []byte
			for i, r := range b.runs[:b.n] {
				if r.count != tt.counts[i] || len(r.buf) != r.count*r.size {
					t.Errorf("run %d: %d datagrams in %d bytes of size %d, want %d", i, r.count, len(r.buf), r.size, tt.counts[i])
				}
				got = append(got, r.buf...)
			}
			if !bytes.Equal(got, want) {
				t.Error("the runs do not hold the datagrams in order")
			}
			if b.datagrams() != len(tt.in) {
				t.Errorf("datagrams() = %d, want %d", b.datagrams(), len(tt.in))
			}
			var s segSender
			msgs := s.build(b.runs[:b.n], false)
			for i, m := range msgs {
				seg := len(sock.AppendSegmentSize(nil, 1)) > 0 && b.runs[i].count > 1
				if want := len(sock.AppendTTL(nil, false, 1)); seg {
					want += len(sock.AppendSegmentSize(nil, 1))
					if len(m.OOB) != want {
						t.Errorf("message %d: %d bytes of control messages, want %d", i, len(m.OOB), want)
					}
				} else if len(m.OOB) != want {
					t.Errorf("message %d: %d bytes of control messages, want %d", i, len(m.OOB), want)
				}
			}
			one := s.split(&b.runs[0], false)
			if len(one) != b.runs[0].count || len(one[0].Buffers[0]) != b.runs[0].size {
				t.Errorf("split: %d messages of %d bytes", len(one), len(one[0].Buffers[0]))
			}
		})
	}
}
