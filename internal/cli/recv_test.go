package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stream"
	"github.com/mcasttools/mcast/internal/wire/streamhdr"
)

// quietHandler is recv's handler as --quiet (or --json) sets it up, for a
// receiver on eth0 (10.0.0.2) hearing 10.0.0.1.
func quietHandler(quiet, jsonOut bool) (*recvHandler, []sock.Datagram) {
	all := []iface.Interface{{Name: "eth0", Index: 2, Up: true, Multicast: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}}}
	nic := &stream.NIC{Name: "eth0", AcceptsOwn: true}
	out := bufio.NewWriter(io.Discard)
	h := &recvHandler{rcv: stream.NewReceiver(time.Now(), func(int) string { return "eth0" }), all: all,
		nics: map[int]*stream.NIC{2: nic}, order: []*stream.NIC{nic}, out: out, enc: json.NewEncoder(out),
		quiet: quiet, jsonOut: jsonOut, tokens: lineBurst, lastRefill: time.Now()}
	ds := make([]sock.Datagram, 64)
	for i := range ds {
		ds[i] = sock.Datagram{Payload: make([]byte, 64), Src: netip.MustParseAddrPort("10.0.0.1:4000"),
			Dst: netip.MustParseAddr("239.1.1.1"), IfIndex: 2, TTL: 1, At: time.Now()}
	}
	return h, ds
}

func number(ds []sock.Datagram, first uint64) {
	for i := range ds {
		streamhdr.Put(ds[i].Payload, streamhdr.Header{TTL: 1, SenderID: 9, Seq: first + uint64(i), SentNs: ds[i].At.UnixNano()})
	}
}

// The receive hot path allocates nothing per batch with --quiet or --json,
// and still counts every datagram per flow and per source.
func TestRecvHandlerAllocs(t *testing.T) {
	for _, tt := range []struct {
		name           string
		quiet, jsonOut bool
	}{{"quiet", true, false}, {"json", false, true}} {
		t.Run(tt.name, func(t *testing.T) {
			h, ds := quietHandler(tt.quiet, tt.jsonOut)
			seq := uint64(0)
			batch := func() {
				number(ds, seq)
				seq += uint64(len(ds))
				h.handle(ds)
			}
			batch() // the flow and the source appear once
			if a := testing.AllocsPerRun(100, batch); a != 0 {
				t.Errorf("%.1f allocations per batch of %d, want 0", a, len(ds))
			}
			tot := h.rcv.Totals()
			if tot.Received != seq || tot.Lost != 0 {
				t.Errorf("received %d lost %d, want %d and 0", tot.Received, tot.Lost, seq)
			}
			if n := h.nics[2]; n.Wire != int(seq) || n.Sources[netip.MustParseAddr("10.0.0.1")] != int(seq) {
				t.Errorf("eth0 counted %d from the wire, %v by source; want %d", n.Wire, n.Sources, seq)
			}
		})
	}
}

func BenchmarkRecvHandlerQuiet(b *testing.B) {
	h, ds := quietHandler(true, false)
	seq := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		number(ds, seq)
		seq += uint64(len(ds))
		h.handle(ds)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ds)), "ns/datagram")
}
