package relay

import (
	"encoding/binary"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// hostLabel is a flow label as a Linux host's socket puts on its flow.
const hostLabel = 0x9abcd

// fromHost6 gives pkt, an AppendIPv6UDP packet, a host's flow label
// instead of the relay tag (the label is in no checksum).
func fromHost6(pkt []byte) []byte {
	binary.BigEndian.PutUint32(pkt[0:4], 6<<28|hostLabel)
	return pkt
}

// TestFlowTag: the tag is a fixed function of the content (relays of one
// mesh must agree on it, whatever their version), never 0 and 20 bits
// wide; AppendIPv6UDP puts it in the flow label, where relayedCopy finds
// it, and a host's label or none is not taken for it.
func TestFlowTag(t *testing.T) {
	src, dst := netip.MustParseAddrPort("[fe80::1]:5353"), netip.MustParseAddrPort("[ff02::fb]:5353")
	// The values as an independent implementation (CRC-32C, SplitMix64's
	// finalizer, in Python) computes them.
	for _, tt := range []struct {
		payload string
		want    uint32
	}{
		{"", 0x8fdb3},
		{"a probe", 0x211bc},
		{"the same datagram", 0x0cdcd},
	} {
		if got := flowTag(src, dst, []byte(tt.payload)); got != tt.want {
			t.Errorf("flowTag(%q) = %#x, want %#x (a changed tag splits meshes of mixed versions)", tt.payload, got, tt.want)
		}
	}
	base := flowTag(src, dst, []byte("x"))
	for name, tag := range map[string]uint32{
		"payload":     flowTag(src, dst, []byte("y")),
		"source port": flowTag(netip.AddrPortFrom(src.Addr(), 5354), dst, []byte("x")),
		"source":      flowTag(netip.MustParseAddrPort("[fe80::2]:5353"), dst, []byte("x")),
		"group":       flowTag(src, netip.MustParseAddrPort("[ff05::fb]:5353"), []byte("x")),
	} {
		if tag == base {
			t.Errorf("another %s, the same tag %#x", name, tag)
		}
	}
	for i := range 100000 {
		var p [4]byte
		binary.BigEndian.PutUint32(p[:], uint32(i))
		if tag := flowTag(src, dst, p[:]); tag == 0 || tag > flowLabelMask {
			t.Fatalf("tag %#x of payload %d", tag, i)
		}
	}

	pkt := AppendIPv6UDP(nil, src, dst, 255, []byte("a probe"))
	s, d, _, payload, err := ParseIPv6UDP(pkt)
	if err != nil {
		t.Fatal(err)
	}
	if pkt[0]>>4 != 6 || binary.BigEndian.Uint32(pkt[0:4])>>20&0xff != 0 {
		t.Errorf("version and traffic class %#x, want 6 and 0", pkt[0:2])
	}
	if got := flowLabel(pkt); got != 0x211bc || !relayedCopy(got, s, d, payload) {
		t.Errorf("flow label %#x of a re-emission, want its tag 0x211bc", got)
	}
	if relayedCopy(flowLabel(fromHost6(pkt)), s, d, payload) || relayedCopy(0, s, d, payload) {
		t.Error("a host's packet taken for a relay's copy")
	}
}

// TestSeenMarks: a key keeps markCaptured once given, takes the origin of
// the latest re-emission, and loses both when it expires.
func TestSeenMarks(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := newSeenSet(time.Second, 4, nil)
	c.Mark(1, t0, originMark(7))
	if m, ok := c.Lookup(1, t0); !ok || m != originMark(7) {
		t.Fatalf("marks %#x %v, want the origin %#x", m, ok, originMark(7))
	}
	c.Mark(1, t0.Add(time.Millisecond), markCaptured)
	c.Add(1, t0.Add(2*time.Millisecond))
	if m, _ := c.Lookup(1, t0); m != markCaptured|originMark(7) {
		t.Errorf("marks %#x after capture, want captured and the origin kept", m)
	}
	c.Mark(1, t0.Add(3*time.Millisecond), originMark(8))
	if m, _ := c.Lookup(1, t0); m != markCaptured|originMark(8) {
		t.Errorf("marks %#x after a re-emission for another peer, want captured and the new origin", m)
	}
	if _, ok := c.Lookup(1, t0.Add(1004*time.Millisecond)); ok {
		t.Error("remembered past the span")
	}
	c.Mark(1, t0.Add(2*time.Second), originMark(9))
	if m, ok := c.Lookup(1, t0.Add(2*time.Second)); !ok || m != originMark(9) {
		t.Errorf("marks %#x of an expired key added again, want the new origin alone", m)
	}
	for _, id := range []uint32{0, 1, 1 << 15, config.NodeID("a"), 0xffffffff} {
		if m := originMark(id); m == 0 || m&^markOrigin != 0 {
			t.Errorf("originMark(%#x) = %#x", id, m)
		}
	}
}

// TestLoops: which records the emit path takes for copies.
func TestLoops(t *testing.T) {
	b, c := originMark(config.NodeID("b")), originMark(config.NodeID("c"))
	for _, tt := range []struct {
		name  string
		marks uint16
		seen  bool
		v6    bool
		want  bool
	}{
		{"IPv4, unseen", 0, false, false, false},
		{"IPv4, seen", b, true, false, true},
		{"IPv6, unseen", 0, false, true, false},
		{"IPv6, captured on this LAN", markCaptured, true, true, true},
		{"IPv6, captured and re-emitted for b", markCaptured | b, true, true, true},
		{"IPv6, re-emitted for b: b's next transmission", b, true, true, false},
		{"IPv6, re-emitted for c: c's copy of it", c, true, true, true},
		{"IPv6, re-emitted for no peer", 0, true, true, true},
	} {
		if got := loops(tt.marks, tt.seen, tt.v6, b); got != tt.want {
			t.Errorf("%s: loop %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestCapturedIPv6Copies: five identical IPv6 datagrams from a host all
// go to the peer; a relay's re-emission (its flow label the tag) is a copy,
// counted and sent nowhere; identical IPv4 datagrams with one
// identification are still one transmission.
func TestCapturedIPv6Copies(t *testing.T) {
	r, f := meshRelay(t, "group ff05::1:1\n")
	r.peers[config.NodeID("b")].wants[relayframe.Interest{Group: grp6.Addr()}] = true
	r.rebuild()
	w := newSendWork()
	now := time.Now()
	frame := func(pkt []byte) []byte { return append(make([]byte, sock.VNetHdrLen), pkt...) }
	for i := range 5 {
		r.capturedFrame6(w, frame(fromHost6(AppendIPv6UDP(nil, src6, grp6, 255, []byte("again")))), 0, now.Add(time.Duration(i)*50*time.Millisecond))
	}
	r.capturedFrame6(w, frame(AppendIPv6UDP(nil, src6, grp6, 255, []byte("a copy"))), 0, now)
	src4, dst4 := netip.MustParseAddrPort("10.0.1.20:4000"), netip.MustParseAddrPort("239.1.1.1:5000")
	for range 2 {
		r.onCaptured(w, src4, dst4, 7, 1, false, []byte("once"), now)
	}
	r.flush(w)
	_, groups := sentTo(t, r, f)
	if got := groups["10.0.2.10:7474"]; len(got) != 6 || got[0] != grp6.Addr().String() || got[5] != "239.1.1.1" {
		t.Errorf("b got datagrams of %v, want five of %s and one of 239.1.1.1", got, grp6.Addr())
	}
	if got := r.stats.ownSeen.Load(); got != 2 {
		t.Errorf("own_emissions_seen %d, want 2 (the relay's IPv6 copy, the IPv4 repeat)", got)
	}
}

// TestForgedTagAndIdenticalFlood: a host that forges the relay tag on its
// datagram only keeps that datagram from being carried (the genuine host's
// identical datagram after it still goes); a flood of one identical
// datagram holds one slot of the seen table, evicting nothing.
func TestForgedTagAndIdenticalFlood(t *testing.T) {
	r, f := meshRelay(t, "group ff05::1:1\n")
	r.peers[config.NodeID("b")].wants[relayframe.Interest{Group: grp6.Addr()}] = true
	r.rebuild()
	w := newSendWork()
	now := time.Now()
	frame := func(pkt []byte) []byte { return append(make([]byte, sock.VNetHdrLen), pkt...) }
	r.capturedFrame6(w, frame(AppendIPv6UDP(nil, src6, grp6, 255, []byte("forged"))), 0, now)
	r.capturedFrame6(w, frame(fromHost6(AppendIPv6UDP(nil, src6, grp6, 255, []byte("forged")))), 0, now)
	r.flush(w)
	if _, groups := sentTo(t, r, f); len(groups["10.0.2.10:7474"]) != 1 {
		t.Errorf("b got %d datagrams, want the genuine one", len(groups["10.0.2.10:7474"]))
	}
	flood := frame(fromHost6(AppendIPv6UDP(nil, src6, grp6, 255, []byte("flood"))))
	for i := range 20000 {
		r.capturedFrame6(w, flood, 0, now.Add(time.Duration(i)*time.Microsecond))
		if i%64 == 0 {
			r.sealPending(w)
			w.nframe, w.nmsg = 0, 0
		}
	}
	if r.seen.evicted != 0 {
		t.Errorf("%d keys evicted by a flood of one datagram", r.seen.evicted)
	}
	if got := r.stats.captured.snapshot()[grp6.Addr().String()]; got != 20001 {
		t.Errorf("captured %d, want every datagram of the flood and the genuine one", got)
	}
}

// TestEmitIPv6Copies: identical IPv6 datagrams one peer carries (with
// their own datagram IDs) are each re-emitted, with the relay tag in their
// flow label; the same content carried by another peer too is a copy
// (`loop`), and so is content this relay captured on its LAN; IPv4 keeps
// the identification as the judge.
func TestEmitIPv6Copies(t *testing.T) {
	r, f := meshRelay(t, "group ff05::1:1\n")
	f.link.ipv6 = true
	w := &recvWork{}
	now := time.Now()
	var id uint64
	send := func(peer, addr string, src, dst netip.AddrPort, ipid uint16, payload string) {
		id++
		rec := relayframe.Record{Kind: relayframe.KindDatagram, TTL: 9, IPID: ipid, ID: id, Src: src, Dst: dst, Payload: []byte(payload)}
		body, _ := relayframe.AppendRecord(nil, &rec)
		r.onDatagram(w, netip.MustParseAddrPort(addr), sealed(farEnd(t, r, peer), relayframe.TypeData, body), 0, now)
	}
	far := netip.MustParseAddrPort("[fd00:2::20]:5353")
	for range 3 {
		send("b", "10.0.2.10:7474", far, grp6, 0, "again")
	}
	send("c", "10.0.3.10:7474", far, grp6, 0, "again")
	w6 := newSendWork()
	r.capturedFrame6(w6, append(make([]byte, sock.VNetHdrLen), fromHost6(AppendIPv6UDP(nil, src6, grp6, 255, []byte("ours")))...), 0, now)
	send("b", "10.0.2.10:7474", src6, grp6, 0, "ours")
	src4, dst4 := netip.MustParseAddrPort("10.0.2.20:4000"), netip.MustParseAddrPort("239.1.1.1:5000")
	send("b", "10.0.2.10:7474", src4, dst4, 5, "v4")
	send("b", "10.0.2.10:7474", src4, dst4, 5, "v4")
	send("b", "10.0.2.10:7474", src4, dst4, 6, "v4")
	r.flushEmit(w)
	var v6, v4 int
	for _, batch := range f.packets {
		for _, m := range batch {
			pkt := m.Buffers[0]
			if pkt[0]>>4 == 4 {
				v4++
				continue
			}
			v6++
			s, d, _, payload, err := ParseIPv6UDP(pkt)
			if err != nil || s != far || d != grp6 || string(payload) != "again" {
				t.Errorf("emitted %s > %s %q (%v)", s, d, payload, err)
			}
			if !relayedCopy(flowLabel(pkt), s, d, payload) {
				t.Errorf("re-emission without the relay tag: flow label %#x", flowLabel(pkt))
			}
		}
	}
	if v6 != 3 || v4 != 2 {
		t.Errorf("%d IPv6 and %d IPv4 packets emitted, want 3 and 2", v6, v4)
	}
	if got := r.stats.drops[DropLoop].Load(); got != 3 {
		t.Errorf("%d loop drops, want 3 (c's copy, the LAN's own content, the IPv4 repeat)", got)
	}
}

// TestIPv6HotPathAllocs: capturing IPv6 datagrams (tag check included) and
// re-emitting a peer's allocate nothing per datagram once warm.
func TestIPv6HotPathAllocs(t *testing.T) {
	r, _ := meshRelay(t, "group ff05::1:1\n")
	r.peers[config.NodeID("b")].wants[relayframe.Interest{Group: grp6.Addr()}] = true
	r.rebuild()
	f := newFakeIO(1500)
	f.discard, f.link.ipv6 = true, true
	r.setIO(f)
	pkt := append(make([]byte, sock.VNetHdrLen), fromHost6(AppendIPv6UDP(nil, src6, grp6, 255, make([]byte, 1000)))...)
	w := newSendWork()
	now := time.Now()
	capture := testing.AllocsPerRun(1000, func() {
		r.capturedFrame6(w, pkt, 0, now)
		r.flush(w)
	})
	if capture != 0 {
		t.Errorf("%.1f allocations per captured IPv6 datagram", capture)
	}
	fb := farEnd(t, r, "b")
	frames := make([][]byte, 1100)
	for i := range frames {
		rec := relayframe.Record{Kind: relayframe.KindDatagram, TTL: 1, ID: uint64(i + 1), Src: netip.MustParseAddrPort("[fd00:2::20]:5353"), Dst: grp6, Payload: make([]byte, 1000)}
		body, _ := relayframe.AppendRecord(nil, &rec)
		frames[i] = sealed(fb, relayframe.TypeData, body)
	}
	rw := &recvWork{}
	i := 0
	recv := testing.AllocsPerRun(1000, func() {
		r.onFrame(rw, netip.MustParseAddrPort("10.0.2.10:7474"), frames[i], now)
		i++
		r.flushEmit(rw)
	})
	if recv != 0 {
		t.Errorf("%.1f allocations per received IPv6 frame", recv)
	}
	if got := r.stats.emitted.snapshot()[grp6.Addr().String()]; got < 1000 {
		t.Errorf("emitted %d, want every datagram", got)
	}
}

// BenchmarkFlowTag: the tag's cost, paid once per IPv6 datagram captured
// with a flow label and once per IPv6 re-emission.
func BenchmarkFlowTag(b *testing.B) {
	for _, size := range []int{64, 1400} {
		payload := make([]byte, size)
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				flowTag(src6, grp6, payload)
			}
		})
	}
}
