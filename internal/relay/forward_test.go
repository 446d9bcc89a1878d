package relay

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// TestSegmentedFlush: queued frames go out as messages of one peer each,
// all of one length but the last, in order, every frame once; when the
// kernel refuses segmentation the relay sends frame by frame from then on.
func TestSegmentedFlush(t *testing.T) {
	r := testRelay(t, "a", "10.0.1.10:7474", "b", "10.0.2.10:7474")
	pb := r.peers[config.NodeID("b")]
	pc := &peer{cfg: config.Peer{Name: "c", Key: testPriv("c").Public()}, udp: &net.UDPAddr{IP: net.IPv4(10, 0, 3, 10), Port: 7474}}
	pairPeer(t, r, pc)
	type q struct {
		p    *peer
		size int
	}
	queue := []q{{pb, 100}, {pc, 100}, {pb, 100}, {pb, 100}, {pc, 60}, {pb, 40}, {pb, 100}, {pc, 100}}
	fill := func(w *sendWork) {
		for i, x := range queue {
			body := bytes.Repeat([]byte{byte(i)}, x.size)
			r.sealTo(w, []*peer{x.p}, relayframe.TypeData, body)
		}
	}
	for _, tt := range []struct {
		name    string
		fail    int
		wantGSO bool
	}{{"segmented", 0, true}, {"refused", 1, false}} {
		f := newFakeIO(1500)
		f.failFrames, f.err = tt.fail, syscall.EIO
		f.link.gso.Store(true)
		r.setIO(f)
		w := newSendWork()
		fill(w)
		r.flush(w)
		if got := r.link.gso.Load(); got != tt.wantGSO {
			t.Errorf("%s: segmentation on %v, want %v", tt.name, got, tt.wantGSO)
		}
		// Reassemble each peer's frames in the order they went out.
		got := map[string][]int{}
		for _, batch := range f.frames {
			for _, m := range batch {
				addr := m.Addr.String()
				seg := len(m.Buffers[0])
				for i, b := range m.Buffers {
					if i < len(m.Buffers)-1 && len(b) != seg || len(b) > seg {
						t.Errorf("%s: message to %s with frames of %d bytes after %d", tt.name, addr, len(b), seg)
					}
					clear := openFrame(t, b)
					got[addr] = append(got[addr], int(clear[0]))
				}
				if (len(m.OOB) > 0) != (len(m.Buffers) > 1) {
					t.Errorf("%s: %d frames with %d bytes of control", tt.name, len(m.Buffers), len(m.OOB))
				}
				if !tt.wantGSO && len(m.Buffers) != 1 {
					t.Errorf("%s: %d frames in one message after the kernel refused", tt.name, len(m.Buffers))
				}
			}
		}
		want := map[string][]int{"10.0.2.10:7474": {0, 2, 3, 5, 6}, "10.0.3.10:7474": {1, 4, 7}}
		for a, w := range want {
			if !slices.Equal(got[a], w) {
				t.Errorf("%s: frames to %s %v, want %v", tt.name, a, got[a], w)
			}
		}
	}
}

// meshRelay is relay a with peers b and c up: b wants 239.1.1.1 and
// 239.1.1.2, c wants 239.1.1.1; extra is added to the config.
func meshRelay(t *testing.T, extra string) (*Relay, *fakeIO) {
	t.Helper()
	r := relayFromConf(t, "node a\nlisten 10.0.1.10:7474\ninterface eth0\nkey /k\npeer b 10.0.2.10:7474\npeer c 10.0.3.10:7474\ngroup 239.1.1.1 239.1.1.2\n"+extra)
	for name, groups := range map[string][]string{"b": {"239.1.1.1", "239.1.1.2"}, "c": {"239.1.1.1"}} {
		p := r.peers[config.NodeID(name)]
		p.up.Store(true)
		for _, g := range groups {
			p.wants[relayframe.Interest{Group: netip.MustParseAddr(g)}] = true
		}
	}
	r.rebuild()
	pairWith(t, r, "b")
	pairWith(t, r, "c")
	f := newFakeIO(1500)
	r.setIO(f)
	return r, f
}

// sentTo decodes what r sent through f: per peer address, the frames (as
// sent) and the group of each datagram in them, in order.
func sentTo(t *testing.T, r *Relay, f *fakeIO) (frames map[string][][]byte, groups map[string][]string) {
	t.Helper()
	frames, groups = map[string][][]byte{}, map[string][]string{}
	for _, batch := range f.frames {
		for _, m := range batch {
			a := m.Addr.String()
			for _, fr := range m.Buffers {
				frames[a] = append(frames[a], bytes.Clone(fr))
				body := openFrame(t, fr)
				for len(body) > 0 {
					rec, rest, err := relayframe.ParseRecord(body)
					if err != nil {
						t.Fatal(err)
					}
					groups[a] = append(groups[a], rec.Dst.Addr().String())
					body = rest
				}
			}
		}
	}
	return frames, groups
}

// TestFramesPerPeerSet: datagrams of a group that two peers want travel in
// one frame body, sealed for each under its session (docs/relay.md,
// "Seal-once fan-out"); those of a group only one peer wants, in frames to
// that peer alone.
func TestFramesPerPeerSet(t *testing.T) {
	r, f := meshRelay(t, "")
	w := newSendWork()
	now := time.Now()
	src := netip.MustParseAddrPort("10.0.1.20:4000")
	g1, g2 := netip.MustParseAddrPort("239.1.1.1:5000"), netip.MustParseAddrPort("239.1.1.2:5000")
	for i, d := range []netip.AddrPort{g1, g2, g1, g2, g1} {
		r.onCaptured(w, src, d, uint16(i), 1, false, []byte{byte(i)}, now)
	}
	r.flush(w)
	frames, groups := sentTo(t, r, f)
	b, c := "10.0.2.10:7474", "10.0.3.10:7474"
	if got := strings.Join(groups[b], " "); got != "239.1.1.1 239.1.1.1 239.1.1.1 239.1.1.2 239.1.1.2" {
		t.Errorf("to b: %s", got)
	}
	if got := strings.Join(groups[c], " "); got != "239.1.1.1 239.1.1.1 239.1.1.1" {
		t.Errorf("to c: %s", got)
	}
	if len(frames[b]) != 2 || len(frames[c]) != 1 || len(frames[b][0]) != len(frames[c][0]) {
		t.Errorf("frames: %d to b, %d to c; want b's first one, the group both want, to carry c's frame's body", len(frames[b]), len(frames[c]))
	}
	if bytes.Equal(frames[b][0][relayframe.HeaderLen:], frames[c][0][relayframe.HeaderLen:]) {
		t.Error("b and c got the same ciphertext: one key for two peers")
	}
}

// TestRateCaps: a group's cap drops what exceeds it before any peer gets
// it; a peer's cap keeps a datagram from that peer only; both counted.
func TestRateCaps(t *testing.T) {
	src := netip.MustParseAddrPort("10.0.1.20:4000")
	g1 := netip.MustParseAddrPort("239.1.1.1:5000")
	now := time.Now()

	// rate-limit-group 5: a burst of 1.5 tokens, so at one instant one
	// datagram of three passes.
	r, f := meshRelay(t, "rate-limit-group 5\n")
	w := newSendWork()
	for i := range 3 {
		r.onCaptured(w, src, g1, uint16(i), 1, false, []byte{byte(i)}, now)
	}
	r.flush(w)
	_, groups := sentTo(t, r, f)
	if len(groups["10.0.2.10:7474"]) != 1 || len(groups["10.0.3.10:7474"]) != 1 || r.stats.drops[DropRateGroup].Load() != 2 {
		t.Errorf("group cap: to b %v, to c %v, %d counted", groups["10.0.2.10:7474"], groups["10.0.3.10:7474"], r.stats.drops[DropRateGroup].Load())
	}

	// rate-limit-peer 5, c's bucket spent: the datagram goes to b alone.
	r, f = meshRelay(t, "rate-limit-peer 5\n")
	r.peers[config.NodeID("c")].rate.Allow(5, now)
	w = newSendWork()
	r.onCaptured(w, src, g1, 1, 1, false, []byte{1}, now)
	r.flush(w)
	_, groups = sentTo(t, r, f)
	if len(groups["10.0.2.10:7474"]) != 1 || len(groups["10.0.3.10:7474"]) != 0 || r.stats.drops[DropRatePeer].Load() != 1 {
		t.Errorf("peer cap: to b %v, to c %v, %d counted", groups["10.0.2.10:7474"], groups["10.0.3.10:7474"], r.stats.drops[DropRatePeer].Load())
	}
}
