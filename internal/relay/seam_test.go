package relay

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// TestForwardThroughSeam: a datagram the capture reads (a virtio-net
// header, then the IPv4 packet) reaches the fake's frame writer sealed for
// each peer that wants its group, and for no other; a datagram of a group
// no peer wants is sent nowhere.
func TestForwardThroughSeam(t *testing.T) {
	r, f := meshRelay(t, "")
	src := netip.MustParseAddrPort("10.0.1.20:4000")
	now := time.Now()
	w := newSendWork()
	for _, dst := range []string{"239.1.1.2:5000", "239.1.1.9:5000"} {
		pkt := AppendIPv4UDP(make([]byte, sock.VNetHdrLen), src, netip.MustParseAddrPort(dst), 7, 4, []byte("payload "+dst))
		r.capturedFrame(w, pkt, 0, now)
	}
	r.flush(w)
	var to []string
	for _, batch := range f.frames {
		for _, m := range batch {
			to = append(to, m.Addr.(*net.UDPAddr).String())
			if len(m.Buffers) != 1 {
				t.Fatalf("%d frames in one message, want 1", len(m.Buffers))
			}
			body := openFrame(t, m.Buffers[0])
			rec, rest, err := relayframe.ParseRecord(body)
			if err != nil || len(rest) != 0 {
				t.Fatalf("frame body: %v, %d bytes more", err, len(rest))
			}
			if rec.Src != src || rec.Dst.String() != "239.1.1.2:5000" || rec.TTL != 4 || rec.IPID != 7 || string(rec.Payload) != "payload 239.1.1.2:5000" {
				t.Errorf("record %+v", rec)
			}
		}
	}
	if len(to) != 1 || to[0] != "10.0.2.10:7474" {
		t.Errorf("frames sent to %v, want b (10.0.2.10:7474) alone", to)
	}
}

// TestEmitThroughSeam: a frame from a peer reaches the fake's local
// emitter once, as an IPv4 packet from the original source; the same
// datagram again, in another frame, is dropped as a duplicate, and the
// same frame again as a replay.
func TestEmitThroughSeam(t *testing.T) {
	r := testRelay(t, "a", "10.0.1.10:7474", "b", "10.0.2.10:7474")
	fb := farEnd(t, r, "b")
	f := newFakeIO(1500)
	r.setIO(f)
	src, dst := netip.MustParseAddrPort("10.0.2.20:40000"), netip.MustParseAddrPort("239.1.1.1:5001")
	rec := relayframe.Record{Kind: relayframe.KindDatagram, TTL: 3, IPID: 9, ID: 42, Src: src, Dst: dst, Payload: []byte("hello")}
	body, _ := relayframe.AppendRecord(nil, &rec)
	frame := func(uint64) []byte { return sealed(fb, relayframe.TypeData, body) }
	from := netip.MustParseAddrPort("10.0.2.10:7474")
	w := &recvWork{}
	now := time.Now()
	first := frame(1)
	r.onDatagram(w, from, append([]byte(nil), first...), 0, now)
	r.onDatagram(w, from, frame(2), 0, now) // the same datagram again
	r.onDatagram(w, from, first, 0, now)    // the same frame again
	r.flushEmit(w)
	var pkts [][]byte
	for _, batch := range f.packets {
		for _, m := range batch {
			if a := m.Addr.(*net.IPAddr).IP.String(); a != "239.1.1.1" {
				t.Errorf("packet to %s, want 239.1.1.1", a)
			}
			pkts = append(pkts, m.Buffers[0])
		}
	}
	if len(pkts) != 1 {
		t.Fatalf("%d packets emitted, want 1", len(pkts))
	}
	s, d, id, ttl, payload, err := ParseIPv4UDP(pkts[0])
	if err != nil || s != src || d != dst || id != 9 || ttl != 3 || string(payload) != "hello" {
		t.Errorf("emitted %v -> %v id %d ttl %d %q (%v)", s, d, id, ttl, payload, err)
	}
	if got := r.stats.drops[DropDuplicate].Load(); got != 1 {
		t.Errorf("%d duplicates dropped, want 1", got)
	}
	if got := r.stats.drops[DropReplay].Load(); got != 1 {
		t.Errorf("%d replays dropped, want 1", got)
	}
	if len(f.datagrams) != 0 {
		t.Errorf("%d batches through the source relay sockets, want none", len(f.datagrams))
	}
}

// TestEmitSourceRelayThroughSeam: with `source relay`, a datagram from a
// peer leaves through the relay's own UDP socket (the fake's datagram
// emitter) with its payload alone.
func TestEmitSourceRelayThroughSeam(t *testing.T) {
	r := testRelay(t, "a", "10.0.1.10:7474", "b", "10.0.2.10:7474")
	r.cfg.Source = config.SourceRelay
	r.table.Load().cfg.Source = config.SourceRelay
	f := newFakeIO(1500)
	f.link.udp4 = true
	r.setIO(f)
	rec := relayframe.Record{Kind: relayframe.KindDatagram, TTL: 3, ID: 1, Src: netip.MustParseAddrPort("10.0.2.20:40000"), Dst: netip.MustParseAddrPort("239.1.1.1:5001"), Payload: []byte("hello")}
	body, _ := relayframe.AppendRecord(nil, &rec)
	fr := sealed(farEnd(t, r, "b"), relayframe.TypeData, body)
	w := &recvWork{}
	r.onDatagram(w, netip.MustParseAddrPort("10.0.2.10:7474"), fr, 0, time.Now())
	r.flushEmit(w)
	if len(f.packets) != 0 || len(f.datagrams) != 1 || len(f.datagrams[0]) != 1 {
		t.Fatalf("%d packet batches, %d datagram batches; want the datagram alone", len(f.packets), len(f.datagrams))
	}
	m := f.datagrams[0][0]
	if string(m.Buffers[0]) != "hello" || m.Addr.String() != "239.1.1.1:5001" {
		t.Errorf("sent %q to %v", m.Buffers[0], m.Addr)
	}
}

// TestTickThroughSeam: a tick joins the configured group through the seam,
// reads the memberships there, and says hello to the peer through the
// frame writer.
func TestTickThroughSeam(t *testing.T) {
	r := testRelay(t, "a", "10.0.1.10:7474", "b", "10.0.2.10:7474")
	f := newFakeIO(1500)
	g := netip.MustParseAddr("239.1.1.1")
	f.members = map[netip.Addr]int{g: 2} // the relay's own join and a member
	r.setIO(f)
	r.tick(context.Background(), time.Now(), true)
	if !f.joined[g] || len(f.joined) != 1 {
		t.Errorf("joined %v, want 239.1.1.1", f.joined)
	}
	if len(f.frames) != 1 || len(f.frames[0]) != 1 {
		t.Fatalf("%d batches of frames, want one hello", len(f.frames))
	}
	hello, err := relayframe.ParseHello(openFrame(t, f.frames[0][0].Buffers[0]), nil)
	if err != nil || len(hello.Interests) != 1 || hello.Interests[0].Group != g {
		t.Errorf("hello %+v (%v), want interest in 239.1.1.1", hello, err)
	}
}
