package relay

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

func TestChecksumMatchesWordSum(t *testing.T) {
	naive := func(b []byte) uint16 {
		var s uint32
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
		return finish(s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200; n++ {
		b := make([]byte, n*7)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if n%5 == 0 {
			for i := range b {
				b[i] = 0xff
			}
		}
		if got, want := finish(checksum(0, b)), naive(b); got != want {
			t.Fatalf("%d bytes: %#x, want %#x", len(b), got, want)
		}
	}
}

// testRelay is relay a, with peer b up and wanting 239.1.1.1.
func testRelay(t testing.TB, node, listen, peer, peerAddr string) *Relay {
	t.Helper()
	conf := "node " + node + "\nlisten " + listen + "\ninterface eth0\nkey /k\npeer " + peer + " " + peerAddr + "\ngroup 239.1.1.1\n"
	cfg, err := config.Parse(strings.NewReader(conf), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(cfg, Options{Key: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	p := r.peers[config.NodeID(peer)]
	p.up.Store(true)
	p.wants[relayframe.Interest{Group: netip.MustParseAddr("239.1.1.1")}] = true
	r.rebuild()
	return r
}

// TestHotPathAllocs: capturing a datagram (pack, seal when a frame fills)
// and handling a frame from a peer (open, dedupe, build the packet to
// re-emit) allocate nothing per datagram once warm.
func TestHotPathAllocs(t *testing.T) {
	src, dst := netip.MustParseAddrPort("10.0.1.10:40000"), netip.MustParseAddrPort("239.1.1.1:5001")
	for _, size := range []int{64, 1400} {
		payload := make([]byte, size)
		r := testRelay(t, "a", "10.0.1.10:7474", "b", "10.0.2.10:7474")
		w := newSendWork()
		var id uint16
		now := time.Now()
		capture := testing.AllocsPerRun(2000, func() {
			id++
			r.onCaptured(w, src, dst, id, 1, false, payload, now)
			if id%8 == 0 {
				r.sealPending(w)
				w.nframe, w.nmsg = 0, 0 // as flush does after sending
			}
		})
		if capture != 0 {
			t.Errorf("%d B: %.1f allocations per captured datagram", size, capture)
		}

		// Frames from b, each with one datagram (from a sender on b's LAN),
		// sealed beforehand.
		src2 := netip.MustParseAddrPort("10.0.2.20:40000")
		b := testRelay(t, "b", "10.0.2.10:7474", "a", "10.0.1.10:7474")
		frames := make([][]byte, 2100)
		for i := range frames {
			rec := relayframe.Record{Kind: relayframe.KindDatagram, TTL: 1, IPID: uint16(i), ID: uint64(i + 1), Src: src2, Dst: dst, Payload: payload}
			body, _ := relayframe.AppendRecord(nil, &rec)
			frames[i] = b.keys.Seal(nil, relayframe.Header{Type: relayframe.TypeData, Sender: b.cfg.ID, Seq: uint64(i + 1)}, body)
		}
		r.io = &osIO{mtu: 1500}
		rw := &recvWork{}
		from := netip.MustParseAddrPort("10.0.2.10:7474")
		_ = from
		i := 0
		recv := testing.AllocsPerRun(2000, func() {
			r.onFrame(rw, from, frames[i], now)
			i++
			if rw.out4.n >= 16 {
				rw.out4.n = 0 // as flushEmit does after sending
			}
		})
		if recv != 0 {
			t.Errorf("%d B: %.1f allocations per received frame", size, recv)
		}
		for k, v := range r.stats.drops {
			if v.Load() > 0 {
				t.Logf("drop %s: %d", k, v.Load())
			}
		}
		if got := r.stats.emitted.snapshot()["239.1.1.1"]; got < 2000 {
			t.Errorf("%d B: emitted %d, want every datagram", size, got)
		}
	}
}

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
				s := testRelay(b, "b", "10.0.2.10:7474", "a", "10.0.1.10:7474")
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
						frames[k] = s.keys.Seal(frames[k][:0], relayframe.Header{Type: relayframe.TypeData, Sender: s.cfg.ID, Seq: uint64(i + 1)}, body)
					}
				}
				r.io = &osIO{mtu: 1500}
				if source == "relay" {
					r.cfg.Source = config.SourceRelay
					r.table.Load().cfg.Source = config.SourceRelay
					r.io.ue4 = discard{}
					r.io.emitGSO.Store(true)
				}
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

// discard is a batchConn that takes every message.
type discard struct{}

func (discard) ReadBatch([]ipv4.Message, int) (int, error)       { return 0, nil }
func (discard) WriteBatch(ms []ipv4.Message, _ int) (int, error) { return len(ms), nil }
