package relay

import (
	"bytes"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// testPriv is the private key of the test relay called name.
func testPriv(name string) crypto.PrivateKey {
	k, _ := crypto.GenerateKey(bytes.NewReader(bytes.Repeat([]byte(name+"/"), 32)))
	return k
}

var (
	nodeLine = regexp.MustCompile(`(?m)^node (\S+)$`)
	peerLine = regexp.MustCompile(`(?m)^peer (\S+) (\S+)`)
)

// relayFromConf is a relay made from the configuration text conf, whose
// peer lines get the test keys of their names.
func relayFromConf(t testing.TB, conf string) *Relay {
	t.Helper()
	conf = peerLine.ReplaceAllStringFunc(conf, func(l string) string {
		return l + " " + testPriv(peerLine.FindStringSubmatch(l)[1]).Public().String()
	})
	cfg, err := config.Parse(strings.NewReader(conf+"private-key /p\n"), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(cfg, Options{PrivateKey: testPriv(nodeLine.FindStringSubmatch(conf)[1]), Key: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The far ends of the sessions the tests set up: the peer's side, by the
// index of its frames (the relay's local index) and by the relay's peer.
var (
	farMu      sync.Mutex
	farByIndex = map[uint32]*crypto.Session{}
	farByPeer  = map[*peer]*crypto.Session{}
)

// pairWith runs a handshake between r and its peer called name (the far
// end played by crypto alone), installs r's session, and returns the
// peer's.
func pairWith(t testing.TB, r *Relay, name string) *crypto.Session {
	t.Helper()
	return pairPeer(t, r, r.peers[config.NodeID(name)])
}

// pairPeer is pairWith for a peer of r's, p, whose key is the test key of
// its name.
func pairPeer(t testing.TB, r *Relay, p *peer) *crypto.Session {
	t.Helper()
	far := &crypto.Static{Key: testPriv(p.cfg.Name), Cipher: r.cfg.Cipher, PSK: r.static.PSK}
	r.smu.Lock()
	defer r.smu.Unlock()
	in, m1, err := r.static.Initiate(crypto.PublicKey(p.cfg.Key), r.newIndex())
	if err != nil {
		t.Fatal(err)
	}
	req, err := far.ReadInit(m1)
	if err != nil {
		t.Fatal(err)
	}
	fs, m2, err := req.Accept(r.newIndex(), r.clock())
	if err != nil {
		t.Fatal(err)
	}
	s, err := in.Finish(m2, r.clock())
	if err != nil {
		t.Fatal(err)
	}
	r.installLocked(p, s)
	farMu.Lock()
	farByIndex[fs.Local], farByPeer[p] = fs, fs
	farMu.Unlock()
	return fs
}

// farEnd is the session of r's peer called name with r (made on first use).
func farEnd(t testing.TB, r *Relay, name string) *crypto.Session {
	farMu.Lock()
	fs := farByPeer[r.peers[config.NodeID(name)]]
	farMu.Unlock()
	if fs == nil {
		fs = pairWith(t, r, name)
	}
	return fs
}

// sealed is a frame of type typ with body, from the far end fs.
func sealed(fs *crypto.Session, typ uint8, body []byte) []byte {
	f, _ := fs.Seal(nil, typ, body)
	return f
}

// openFrame decrypts a frame a test relay sent to a peer paired with it
// and returns its body.
func openFrame(t testing.TB, f []byte) []byte {
	t.Helper()
	h, _, err := relayframe.ParseHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	farMu.Lock()
	fs := farByIndex[h.Index]
	farMu.Unlock()
	if fs == nil {
		t.Fatalf("frame to session %d, which no test paired", h.Index)
	}
	body, err := fs.Open(nil, h, f)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// testRelay is relay node, with peer up, wanting 239.1.1.1, and paired.
func testRelay(t testing.TB, node, listen, peer, peerAddr string) *Relay {
	t.Helper()
	r := relayFromConf(t, "node "+node+"\nlisten "+listen+"\ninterface eth0\nkey /k\npeer "+peer+" "+peerAddr+"\ngroup 239.1.1.1\n")
	p := r.peers[config.NodeID(peer)]
	p.up.Store(true)
	p.wants[relayframe.Interest{Group: netip.MustParseAddr("239.1.1.1")}] = true
	r.rebuild()
	pairWith(t, r, peer)
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
		fb := farEnd(t, r, "b")
		frames := make([][]byte, 2100)
		for i := range frames {
			rec := relayframe.Record{Kind: relayframe.KindDatagram, TTL: 1, IPID: uint16(i), ID: uint64(i + 1), Src: src2, Dst: dst, Payload: payload}
			body, _ := relayframe.AppendRecord(nil, &rec)
			frames[i] = sealed(fb, relayframe.TypeData, body)
		}
		r.setIO(newFakeIO(1500))
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

// TestCopiesAreNotForwarded: a datagram captured from an address that a
// peer's hello names as one it re-emits from is that relay's copy: counted
// as a loop and sent nowhere, while the group's other datagrams go on.
func TestCopiesAreNotForwarded(t *testing.T) {
	a := testRelay(t, "a", "10.0.1.10:7474", "b", "10.0.2.10:7474")
	g := netip.MustParseAddr("239.1.1.1")
	copied := netip.MustParseAddrPort("10.0.1.11:40000") // b's re-emissions, on a's LAN
	body, err := relayframe.AppendHello(nil, &relayframe.Hello{Interests: []relayframe.Interest{{Group: g}}, Sources: []netip.AddrPort{copied}})
	if err != nil {
		t.Fatal(err)
	}
	hello := sealed(farEnd(t, a, "b"), relayframe.TypeHello, body)
	now := time.Now()
	a.onFrame(&recvWork{}, netip.MustParseAddrPort("10.0.2.10:7474"), hello, now)
	if c := a.table.Load().copies; !c[copied] {
		t.Fatalf("b's hello did not register its source: %v", c)
	}
	w := newSendWork()
	dst := netip.AddrPortFrom(g, 5001)
	a.onCaptured(w, copied, dst, 1, 1, false, []byte("a copy"), now)
	a.onCaptured(w, netip.MustParseAddrPort("10.0.1.20:40000"), dst, 2, 1, false, []byte("an original"), now)
	a.sealPending(w)
	if got := a.stats.drops[DropLoop].Load(); got != 1 {
		t.Errorf("%d loop drops, want 1", got)
	}
	if got := a.stats.captured.snapshot()["239.1.1.1"]; got != 1 {
		t.Errorf("%d datagrams captured for peers, want 1", got)
	}
	if w.nmsg != 1 {
		t.Fatalf("%d frames queued, want 1", w.nmsg)
	}
	clear := openFrame(t, w.msgs[0].Buffers[0])
	rec, rest, err := relayframe.ParseRecord(clear)
	if err != nil || len(rest) != 0 || string(rec.Payload) != "an original" {
		t.Errorf("the frame holds %q and %d more bytes (%v), want the original alone", rec.Payload, len(rest), err)
	}
}
