package relay

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// fanRelay is relay node among peers p1..pN (node's name among them is
// skipped), every peer up, wanting 239.1.1.1 and paired, with `fanout n`.
func fanRelay(t testing.TB, node string, peers, n int) (*Relay, *fakeIO) {
	t.Helper()
	self := 0
	fmt.Sscanf(node, "p%d", &self)
	var b strings.Builder
	fmt.Fprintf(&b, "node %s\nlisten 10.0.%d.10:7474\ninterface eth0\nkey /k\ngroup 239.1.1.1\nfanout %d\n", node, self, n)
	for i := 1; i <= peers; i++ {
		if i != self {
			fmt.Fprintf(&b, "peer p%d 10.0.%d.10:7474 allow 10.0.%d.0/24\n", i, i, i)
		}
	}
	r := relayFromConf(t, b.String())
	for _, p := range r.peers {
		p.up.Store(true)
		p.wants[fanGroup] = true
	}
	r.rebuild()
	for _, p := range r.peers {
		pairPeer(t, r, p)
	}
	f := newFakeIO(1500)
	r.setIO(f)
	return r, f
}

func nameOf(r *Relay, id uint32) string {
	if p := r.table.Load().byID[id]; p != nil {
		return p.cfg.Name
	}
	return fmt.Sprint(id)
}

// sentFrames decodes what r sent through f: per peer name, the bodies.
func sentFrames(t *testing.T, r *Relay, f *fakeIO) map[string][][]byte {
	t.Helper()
	out := map[string][][]byte{}
	for _, batch := range f.frames {
		for _, m := range batch {
			for _, fr := range m.Buffers {
				h, _, _ := relayframe.ParseHeader(fr)
				if h.Type != relayframe.TypeReflect && h.Type != relayframe.TypeData {
					continue
				}
				name := ""
				for _, p := range r.peers {
					if p.udp.String() == m.Addr.String() {
						name = p.cfg.Name
					}
				}
				body := openFrame(t, fr)
				if h.Type == relayframe.TypeData {
					body = append([]byte("data"), body...)
				}
				out[name] = append(out[name], body)
			}
		}
	}
	f.frames = nil
	return out
}

// TestFanoutThroughSeam: with 7 peers wanting a group and `fanout 2`, a
// captured datagram leaves in 2 frames, to the reflectors the rendezvous
// hash ranks first, whose lists name each of the other 5 once.
func TestFanoutThroughSeam(t *testing.T) {
	r, f := fanRelay(t, "p1", 8, 2)
	src := netip.MustParseAddrPort("10.0.1.20:4000")
	for i := 0; i < 3; i++ {
		pkt := AppendIPv4UDP(make([]byte, sock.VNetHdrLen), src, netip.MustParseAddrPort("239.1.1.1:5000"), uint16(i), 4, []byte("payload"))
		w := newSendWork()
		r.capturedFrame(w, pkt, 0, time.Now())
		r.flush(w)
	}
	var rest []uint32
	for _, p := range r.peers {
		rest = append(rest, p.cfg.ID)
	}
	_, ranked := chooseReflectors(r.cfg.ID, fanGroup, rest, 2)
	sent := sentFrames(t, r, f)
	if len(sent) != 2 || len(sent[nameOf(r, ranked[0])]) != 3 || len(sent[nameOf(r, ranked[1])]) != 3 {
		t.Fatalf("frames to %d peers (%v), want 3 each to %s and %s", len(sent), keys(sent), nameOf(r, ranked[0]), nameOf(r, ranked[1]))
	}
	var listed []uint32
	for _, bodies := range sent {
		h, recs, err := relayframe.ParseReflect(bodies[0], nil)
		if err != nil || h.Origin != r.cfg.ID {
			t.Fatalf("fan-out header %+v: %v", h, err)
		}
		if rec, _, err := relayframe.ParseRecord(recs); err != nil || string(rec.Payload) != "payload" || rec.Src != src {
			t.Errorf("record %+v: %v", rec, err)
		}
		listed = append(listed, h.Targets...)
	}
	slices.Sort(listed)
	want := slices.Clone(ranked[2:])
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("targets %v, want the 5 others %v", listed, want)
	}
	st := r.Status()
	if len(st.FanoutGroups) != 1 || st.FanoutGroups[0].Frames != 2 || st.FanoutGroups[0].Wanting != 7 || st.FanoutGroups[0].Reflectors[0] != nameOf(r, ranked[0]) {
		t.Errorf("status fan-out %+v", st.FanoutGroups)
	}
}

func keys(m map[string][][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// reflectRecord is a datagram of origin's LAN (10.0.N.20) with ID id.
func reflectRecord(origin int, id uint64) []byte {
	rec := relayframe.Record{Kind: relayframe.KindDatagram, TTL: 3, ID: id, Src: netip.MustParseAddrPort(fmt.Sprintf("10.0.%d.20:4000", origin)),
		Dst: netip.MustParseAddrPort("239.1.1.1:5001"), Payload: []byte(fmt.Sprintf("datagram %d", id))}
	b, _ := relayframe.AppendRecord(nil, &rec)
	return b
}

func reflectBody(origin uint32, targets []uint32, recs ...[]byte) []byte {
	b, err := relayframe.AppendReflect(nil, &relayframe.Reflect{Origin: origin, Targets: targets})
	if err != nil {
		// Hostile lists the encoder refuses, written by hand.
		b = nil
		b = append(b, byte(origin>>24), byte(origin>>16), byte(origin>>8), byte(origin), byte(len(targets)>>8), byte(len(targets)))
		for _, t := range targets {
			b = append(b, byte(t>>24), byte(t>>16), byte(t>>8), byte(t))
		}
	}
	for _, r := range recs {
		b = append(b, r...)
	}
	return b
}

// role finds, for origin p2 and the relays p1..p8, the reflectors
// (ranked first) and the last ranked peer.
func roles(origin string, n int) (ranked []string) {
	var rest []uint32
	for i := 1; i <= 8; i++ {
		if name := fmt.Sprintf("p%d", i); name != origin {
			rest = append(rest, config.NodeID(name))
		}
	}
	_, r := chooseReflectors(config.NodeID(origin), fanGroup, rest, n)
	for _, id := range r {
		for i := 1; i <= 8; i++ {
			if config.NodeID(fmt.Sprintf("p%d", i)) == id {
				ranked = append(ranked, fmt.Sprintf("p%d", i))
			}
		}
	}
	return ranked
}

func emittedCount(f *fakeIO) int {
	n := 0
	for _, b := range f.packets {
		n += len(b)
	}
	return n
}

// TestReflectorPassesOn: the first reflector of p2's group re-emits p2's
// fan-out frame on its LAN and passes it on to its targets, one frame
// each, naming p2 and listing no one.
func TestReflectorPassesOn(t *testing.T) {
	ranked := roles("p2", 2)
	r, f := fanRelay(t, ranked[0], 8, 2)
	targets := []uint32{config.NodeID(ranked[2]), config.NodeID(ranked[3])}
	from := netip.MustParseAddrPort("10.0.2.10:7474")
	w := &recvWork{}
	r.onDatagram(w, from, sealed(farEnd(t, r, "p2"), relayframe.TypeReflect, reflectBody(config.NodeID("p2"), targets, reflectRecord(2, 1), reflectRecord(2, 2))), 0, time.Now())
	r.flushEmit(w)
	if n := emittedCount(f); n != 2 {
		t.Errorf("%d datagrams re-emitted, want 2", n)
	}
	sent := sentFrames(t, r, f)
	if got := keys(sent); !slices.Equal(got, []string{ranked[2], ranked[3]}) && !slices.Equal(got, []string{ranked[3], ranked[2]}) {
		t.Fatalf("passed on to %v, want %s and %s", got, ranked[2], ranked[3])
	}
	for name, bodies := range sent {
		h, recs, err := relayframe.ParseReflect(bodies[0], nil)
		if len(bodies) != 1 || err != nil || h.Origin != config.NodeID("p2") || len(h.Targets) != 0 || string(recs) != string(reflectRecord(2, 1))+string(reflectRecord(2, 2)) {
			t.Errorf("to %s: %d frames, header %+v (%v)", name, len(bodies), h, err)
		}
	}
	st := r.Status()
	if st.ReflectorFrames != 1 || peerStatus(st, "p2").ReflectedFor != 1 || peerStatus(st, ranked[2]).ReflectedTo != 1 {
		t.Errorf("reflector %d, for p2 %d, to %s %d", st.ReflectorFrames, peerStatus(st, "p2").ReflectedFor, ranked[2], peerStatus(st, ranked[2]).ReflectedTo)
	}
}

func peerStatus(st Status, name string) PeerStatus {
	for _, p := range st.Peers {
		if p.Name == name {
			return p
		}
	}
	return PeerStatus{}
}

// TestReflectHostile: what an insider could send through the fan-out is
// refused and counted, and nothing is emitted twice.
func TestReflectHostile(t *testing.T) {
	ranked := roles("p2", 2)
	p2 := config.NodeID("p2")
	refl, last := ranked[0], ranked[len(ranked)-1]
	long := make([]uint32, relayframe.MaxTargets+1)
	for i := range long {
		long[i] = uint32(i + 1)
	}
	for _, tt := range []struct {
		name, at, from string
		body           []byte
		drop           string
		emitted        int
	}{
		{"list too long", refl, "p2", reflectBody(p2, long, reflectRecord(2, 1)), DropReflectList, 0},
		{"list naming the origin", refl, "p2", reflectBody(p2, []uint32{config.NodeID(last), p2}, reflectRecord(2, 1)), DropReflectList, 0},
		{"list naming the reflector", refl, "p2", reflectBody(p2, []uint32{config.NodeID(refl)}, reflectRecord(2, 1)), DropReflectList, 0},
		{"list naming a peer twice", refl, "p2", reflectBody(p2, []uint32{config.NodeID(last), config.NodeID(last)}, reflectRecord(2, 1)), DropReflectList, 0},
		{"list naming a stranger", refl, "p2", reflectBody(p2, []uint32{12345}, reflectRecord(2, 1)), DropReflectList, 0},
		{"second hop", last, refl, reflectBody(p2, []uint32{config.NodeID(ranked[3])}, reflectRecord(2, 1)), DropReflectHop, 0},
		{"origin unknown", last, refl, reflectBody(12345, nil, reflectRecord(2, 1)), DropReflectOrigin, 0},
		{"origin is the receiver", last, refl, reflectBody(config.NodeID(last), nil, reflectRecord(2, 1)), DropReflectOrigin, 0},
		{"forged origin from a peer not chosen", refl, ranked[len(ranked)-2], reflectBody(p2, nil, reflectRecord(2, 1)), DropReflectNotChosen, 0},
		{"origin's allow applies", last, refl, reflectBody(p2, nil, reflectRecord(5, 1)), DropSpoofedSource, 0},
		{"a reflector's own datagram as the origin's passes", last, refl, reflectBody(p2, nil, reflectRecord(2, 1)), "", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, f := fanRelay(t, tt.at, 8, 2)
			var n int
			fmt.Sscanf(tt.from, "p%d", &n)
			w := &recvWork{}
			r.onDatagram(w, netip.MustParseAddrPort(fmt.Sprintf("10.0.%d.10:7474", n)), sealed(farEnd(t, r, tt.from), relayframe.TypeReflect, tt.body), 0, time.Now())
			r.flushEmit(w)
			if tt.drop != "" && r.stats.drops[tt.drop].Load() != 1 {
				t.Errorf("%s drops %d, want 1 (drops %v)", tt.drop, r.stats.drops[tt.drop].Load(), r.Status().Drops)
			}
			if got := emittedCount(f); got != tt.emitted {
				t.Errorf("%d emitted, want %d", got, tt.emitted)
			}
			if sent := sentFrames(t, r, f); len(sent) != 0 {
				t.Errorf("passed on to %v", keys(sent))
			}
		})
	}
}

// TestReflectReplayThroughTwoReflectors: one datagram of p2's reaching a
// target through both of its reflectors, and directly, is emitted once:
// dedupe is per origin, whichever relay passed it on.
func TestReflectReplayThroughTwoReflectors(t *testing.T) {
	ranked := roles("p2", 2)
	target := ranked[len(ranked)-1]
	r, f := fanRelay(t, target, 8, 2)
	w := &recvWork{}
	now := time.Now()
	body := reflectBody(config.NodeID("p2"), nil, reflectRecord(2, 77))
	for _, via := range ranked[:2] {
		var n int
		fmt.Sscanf(via, "p%d", &n)
		r.onDatagram(w, netip.MustParseAddrPort(fmt.Sprintf("10.0.%d.10:7474", n)), sealed(farEnd(t, r, via), relayframe.TypeReflect, body), 0, now)
	}
	r.onDatagram(w, netip.MustParseAddrPort("10.0.2.10:7474"), sealed(farEnd(t, r, "p2"), relayframe.TypeData, reflectRecord(2, 77)), 0, now)
	r.flushEmit(w)
	if got := emittedCount(f); got != 1 {
		t.Errorf("%d emitted, want 1", got)
	}
	if d := r.stats.drops[DropDuplicate].Load(); d != 2 {
		t.Errorf("%d duplicates, want 2", d)
	}
	if v := peerStatus(r.Status(), "p2").ReflectedVia; v != 2 {
		t.Errorf("p2's records through reflectors %d, want 2", v)
	}
}

// TestFanoutFragmentsFit: a datagram that fits a data frame but not one
// with a target list beside it is cut into fragments, and every fan-out
// frame fits the underlay MTU.
func TestFanoutFragmentsFit(t *testing.T) {
	r, f := fanRelay(t, "p1", 16, 2)
	payload := make([]byte, 1400)
	pkt := AppendIPv4UDP(make([]byte, sock.VNetHdrLen), netip.MustParseAddrPort("10.0.1.20:4000"), netip.MustParseAddrPort("239.1.1.1:5000"), 1, 4, payload)
	w := newSendWork()
	r.capturedFrame(w, pkt, 0, time.Now())
	r.flush(w)
	frags := 0
	for _, batch := range f.frames {
		for _, m := range batch {
			for _, fr := range m.Buffers {
				if 28+len(fr) > 1500 {
					t.Errorf("a frame of %d bytes: over the MTU with its IP and UDP headers", len(fr))
				}
			}
		}
	}
	for _, bodies := range sentFrames(t, r, f) {
		for _, b := range bodies {
			_, recs, err := relayframe.ParseReflect(b, nil)
			if err != nil {
				t.Fatal(err)
			}
			for len(recs) > 0 {
				rec, next, err := relayframe.ParseRecord(recs)
				if err != nil {
					t.Fatal(err)
				}
				if rec.Kind == relayframe.KindFragment {
					frags++
				}
				recs = next
			}
		}
	}
	if frags != 4 || r.stats.fragmented.Load() != 1 {
		t.Errorf("%d fragments to the 2 reflectors, %d datagrams fragmented; want 2 each, 1", frags, r.stats.fragmented.Load())
	}
}

// TestReflectorAllocs: passing a fan-out frame on (open, re-emit, build
// and seal a frame per target, send) and handling a reflected frame
// allocate nothing per frame once warm.
func TestReflectorAllocs(t *testing.T) {
	ranked := roles("p2", 2)
	for _, tt := range []struct {
		at, from string
		targets  []uint32
	}{
		{ranked[0], "p2", []uint32{config.NodeID(ranked[2]), config.NodeID(ranked[3]), config.NodeID(ranked[4])}},
		{ranked[3], ranked[0], nil},
	} {
		r, f := fanRelay(t, tt.at, 8, 2)
		f.discard = true
		fs := farEnd(t, r, tt.from)
		const runs = 300
		frames := make([][]byte, runs+2)
		for i := range frames {
			frames[i] = sealed(fs, relayframe.TypeReflect, reflectBody(config.NodeID("p2"), tt.targets, reflectRecord(2, uint64(i+1))))
		}
		var n int
		fmt.Sscanf(tt.from, "p%d", &n)
		from := netip.MustParseAddrPort(fmt.Sprintf("10.0.%d.10:7474", n))
		w := &recvWork{}
		now := time.Now()
		k := 0
		allocs := testing.AllocsPerRun(runs, func() {
			r.onDatagram(w, from, frames[k], 0, now)
			r.flushEmit(w)
			k++
		})
		if allocs > 0 {
			t.Errorf("at %s from %s: %.1f allocations per frame, want 0", tt.at, tt.from, allocs)
		}
		if emittedCount(f) != 0 || r.stats.emitted.snapshot()["239.1.1.1"] != runs+1 {
			t.Errorf("at %s: %d emitted, want %d", tt.at, r.stats.emitted.snapshot()["239.1.1.1"], runs+1)
		}
	}
}
