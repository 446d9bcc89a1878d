package relay

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// BenchmarkCapture: the sending relay's work per captured datagram (pack,
// and seal once per frame for its one peer), without the sockets.
func BenchmarkCapture(b *testing.B) {
	for _, size := range []int{64, 1400} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			src, dst := netip.MustParseAddrPort("10.0.1.10:40000"), netip.MustParseAddrPort("239.1.1.1:5001")
			payload := make([]byte, size)
			r := testRelay(b, "a", "10.0.1.10:7474", "b", "10.0.2.10:7474")
			w := newSendWork()
			now := time.Now()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.onCaptured(w, src, dst, uint16(i), 1, false, payload, now)
				if i%32 == 31 {
					r.sealPending(w)
					w.nframe, w.nmsg = 0, 0
				}
			}
		})
	}
}

// BenchmarkReceive: the receiving relay's work per datagram (open, dedupe,
// queue the re-emission) for frames of one datagram each, in both source
// modes, without the sockets.
func BenchmarkReceive(b *testing.B) {
	for _, source := range []string{"original", "relay"} {
		for _, size := range []int{64, 1400} {
			b.Run(source+"/"+strconv.Itoa(size), func(b *testing.B) {
				dst := netip.MustParseAddrPort("239.1.1.1:5001")
				src2 := netip.MustParseAddrPort("10.0.2.20:40000")
				payload := make([]byte, size)
				r := testRelay(b, "a", "10.0.1.10:7474", "b", "10.0.2.10:7474")
				s := farEnd(b, r, "b")
				// Frames are sealed a ring at a time, just before they are
				// handled, so that they are in the cache as frames just read
				// from a socket are.
				const ring = 128
				frames := make([][]byte, ring)
				var body []byte
				seal := func(from int) {
					for k := range frames {
						i := from + k
						rec := relayframe.Record{Kind: relayframe.KindDatagram, TTL: 1, IPID: uint16(i), ID: uint64(i + 1), Src: src2, Dst: dst, Payload: payload}
						binary.BigEndian.PutUint64(payload, uint64(i))
						body, _ = relayframe.AppendRecord(body[:0], &rec)
						frames[k], _ = s.Seal(frames[k][:0], relayframe.TypeData, body)
					}
				}
				fio := newFakeIO(1500)
				fio.discard = true
				if source == "relay" {
					r.cfg.Source = config.SourceRelay
					r.table.Load().cfg.Source = config.SourceRelay
					fio.link.udp4 = true
					fio.link.emitGSO.Store(true)
				}
				r.setIO(fio)
				w := &recvWork{}
				from := netip.MustParseAddrPort("10.0.2.10:7474")
				// Timed by hand, sealing excluded (StopTimer costs more than
				// the work timed).
				var spent time.Duration
				for i := 0; i < b.N; i += ring {
					seal(i)
					n := min(ring, b.N-i)
					t0 := time.Now()
					for k := 0; k < n; k++ {
						r.onFrame(w, from, frames[k], t0)
						if k%32 == 31 {
							w.out4.n = 0 // as flushEmit does after sending
							w.seg4.n = 0
						}
					}
					spent += time.Since(t0)
					w.out4.n, w.seg4.n = 0, 0
				}
				b.ReportMetric(float64(spent.Nanoseconds())/float64(b.N), "ns/dgram")
				b.ReportMetric(0, "ns/op")
				b.StopTimer()
				if got := r.stats.emitted.snapshot()["239.1.1.1"]; got != uint64(b.N) {
					b.Fatalf("emitted %d of %d", got, b.N)
				}
			})
		}
	}
}
