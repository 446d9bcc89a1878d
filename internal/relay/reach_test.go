package relay

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"golang.org/x/net/dns/dnsmessage"
)

// reflector is a relay on two fake interfaces, iot (10.0.1.10/24) and lan
// (10.0.2.10/24), with the config lines more.
func reflector(t testing.TB, more string) (*Relay, *fakeIO, *fakeIO) {
	t.Helper()
	r := relayFromConf(t, "node r1\nlisten 127.0.0.1:7474\ninterface iot\ninterface lan\n"+more)
	iot, lan := newFakeIO(1500), newFakeIO(1500)
	lan.link.addr4 = netip.MustParseAddr("10.0.2.10")
	lan.link.bcast4 = netip.MustParseAddr("10.0.2.255")
	r.setIO(iot, lan)
	return r, iot, lan
}

// emittedTo lists the destinations of the packets f emitted.
func emittedTo(f *fakeIO) []string {
	var out []string
	for _, b := range f.packets {
		for _, m := range b {
			out = append(out, m.Addr.(*net.IPAddr).IP.String())
		}
	}
	return out
}

// capture feeds one datagram captured on interface i to the forward path.
func capture(r *Relay, i int, src, dst string, ipid uint16, payload string) {
	w := newSendWork()
	w.from = i
	r.onCaptured(w, netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst), ipid, 255, false, []byte(payload), time.Now())
	r.flush(w)
}

// TestReflectAllowOneWay: with "allow mdns from iot to lan", an mDNS
// datagram captured on iot is re-emitted on lan with its source, port and
// TTL 255, one captured on lan is not re-emitted on iot, and a group no
// allow line names crosses both ways. No peers are needed.
func TestReflectAllowOneWay(t *testing.T) {
	r, iot, lan := reflector(t, "service mdns\ngroup 239.1.1.1\nallow mdns from iot to lan\n")
	capture(r, 0, "10.0.1.20:5353", "224.0.0.251:5353", 1, "query from iot")
	capture(r, 1, "10.0.2.20:5353", "224.0.0.251:5353", 2, "answer from lan")
	capture(r, 1, "10.0.2.20:4000", "239.1.1.1:5000", 3, "group from lan")
	capture(r, 0, "10.0.1.20:5353", "224.0.0.251:9999", 4, "mdns group, other port")
	if got := emittedTo(lan); len(got) != 1 || got[0] != "224.0.0.251" {
		t.Fatalf("lan got %v, want the mDNS datagram from iot alone", got)
	}
	if got := emittedTo(iot); len(got) != 1 || got[0] != "239.1.1.1" {
		t.Fatalf("iot got %v, want 239.1.1.1 alone (mDNS may not go back)", got)
	}
	src, dst, _, ttl, payload, err := ParseIPv4UDP(lan.packets[0][0].Buffers[0])
	if err != nil || src.String() != "10.0.1.20:5353" || dst.String() != "224.0.0.251:5353" || ttl != 255 || string(payload) != "query from iot" {
		t.Errorf("re-emitted %v -> %v ttl %d %q (%v), want the original with TTL 255", src, dst, ttl, payload, err)
	}
	if got := r.Status().Reflected; got != 2 {
		t.Errorf("reflected %d, want 2", got)
	}
}

// TestReflectNoLoop: the relay's re-emission on lan, captured there again,
// is not re-emitted on iot (nor twice anywhere).
func TestReflectNoLoop(t *testing.T) {
	r, iot, lan := reflector(t, "group 239.1.1.1\n")
	capture(r, 0, "10.0.1.20:4000", "239.1.1.1:5000", 7, "once")
	capture(r, 1, "10.0.1.20:4000", "239.1.1.1:5000", 7, "once") // its own re-emission
	capture(r, 0, "10.0.1.20:4000", "239.1.1.1:5000", 7, "once") // and again on iot
	if got := emittedTo(lan); len(got) != 1 {
		t.Errorf("lan got %v, want one copy", got)
	}
	if got := emittedTo(iot); len(got) != 0 {
		t.Errorf("iot got %v, want nothing back", got)
	}
	if got := r.stats.ownSeen.Load(); got != 2 {
		t.Errorf("%d copies seen again, want 2", got)
	}
}

// TestReflectRangeNeedsMembers: a group of a configured range crosses to
// an interface only once members appear there; the relay then joins it on
// the other interface so that its capture hears it.
func TestReflectRangeNeedsMembers(t *testing.T) {
	r, iot, lan := reflector(t, "group 239.2.0.0/16\n")
	capture(r, 0, "10.0.1.20:4000", "239.2.0.1:5000", 1, "nobody wants")
	if got := emittedTo(lan); len(got) != 0 {
		t.Fatalf("lan got %v before any member", got)
	}
	g := netip.MustParseAddr("239.2.0.1")
	lan.members = map[netip.Addr]int{g: 1}
	r.tick(context.Background(), time.Now(), false)
	if !iot.joined[g] || lan.joined[g] {
		t.Errorf("joins: iot %v lan %v, want the group joined on iot alone", iot.joined, lan.joined)
	}
	capture(r, 0, "10.0.1.20:4000", "239.2.0.1:5000", 2, "now wanted")
	if got := emittedTo(lan); len(got) != 1 {
		t.Errorf("lan got %v, want the group once members are there", got)
	}
	if want := []relayframe.Interest{{Group: g}}; len(r.local) != 1 || r.local[0] != want[0] {
		t.Errorf("interests %v, want the lan member's group", r.local)
	}
}

// TestReflectNotForwarder: two relays on the same two LANs, peers of each
// other with `lan`: the one the election does not pick re-emits nothing;
// alone (its peer down), it does.
func TestReflectNotForwarder(t *testing.T) {
	g := netip.MustParseAddr("224.0.0.251")
	// Pick the node names so that the other relay wins the group.
	self, other := "r1", "r2"
	if Forwarder(g, []uint32{config.NodeID(self), config.NodeID(other)}) == config.NodeID(self) {
		self, other = other, self
	}
	r := relayFromConf(t, "node "+self+"\nlisten 10.0.1.10:7474\ninterface iot\ninterface lan\nservice mdns\npeer "+other+" 10.0.1.11:7474 lan\n")
	iot, lan := newFakeIO(1500), newFakeIO(1500)
	r.setIO(iot, lan)
	for _, p := range r.peers {
		p.lastSeen.Store(time.Now().UnixNano())
		p.up.Store(true)
	}
	r.mu.Lock()
	r.rebuild()
	r.mu.Unlock()
	capture(r, 0, "10.0.1.20:5353", "224.0.0.251:5353", 1, "the other relay's")
	if got := emittedTo(lan); len(got) != 0 {
		t.Fatalf("lan got %v from the relay not elected", got)
	}
	for _, p := range r.peers {
		p.up.Store(false)
	}
	r.mu.Lock()
	r.rebuild()
	r.mu.Unlock()
	capture(r, 0, "10.0.1.20:5353", "224.0.0.251:5353", 2, "ours now")
	if got := emittedTo(lan); len(got) != 1 {
		t.Errorf("lan got %v once alone, want one", got)
	}
}

// TestReflectAllocs: reflection adds no allocation per datagram.
func TestReflectAllocs(t *testing.T) {
	r, _, lan := reflector(t, "service mdns\n")
	lan.discard = true
	w := newSendWork()
	src, dst := netip.MustParseAddrPort("10.0.1.20:5353"), netip.MustParseAddrPort("224.0.0.251:5353")
	payload := make([]byte, 200)
	now := time.Now()
	var id uint16
	r.onCaptured(w, src, dst, 0, 255, false, payload, now)
	r.flush(w)
	n := testing.AllocsPerRun(2000, func() {
		id++
		r.onCaptured(w, src, dst, id, 255, false, payload, now)
		if id%8 == 0 {
			r.flush(w)
		}
	})
	if n != 0 {
		t.Errorf("%.1f allocations per reflected datagram", n)
	}
}

// mdnsQuery is an mDNS query for the PTR records of service type typ.
func mdnsQuery(t testing.TB, typ string) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{})
	b.StartQuestions()
	if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(typ + ".local."), Type: dnsmessage.TypePTR, Class: dnsmessage.ClassINET}); err != nil {
		t.Fatal(err)
	}
	m, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReflectMDNSType: with `mdns-type _ipp._tcp`, a query for _ipp._tcp
// crosses and one for _airplay._tcp is dropped (counted), without an
// allocation per datagram.
func TestReflectMDNSType(t *testing.T) {
	r, _, lan := reflector(t, "service mdns\nmdns-type _ipp._tcp\n")
	capture(r, 0, "10.0.1.20:5353", "224.0.0.251:5353", 1, string(mdnsQuery(t, "_ipp._tcp")))
	capture(r, 0, "10.0.1.20:5353", "224.0.0.251:5353", 2, string(mdnsQuery(t, "_airplay._tcp")))
	if got := emittedTo(lan); len(got) != 1 {
		t.Fatalf("lan got %v, want the _ipp._tcp query alone", got)
	}
	if got := r.Status().Drops[DropServiceType]; got != 1 {
		t.Errorf("%d service-type drops, want 1", got)
	}
	lan.discard = true
	w := newSendWork()
	src, dst := netip.MustParseAddrPort("10.0.1.20:5353"), netip.MustParseAddrPort("224.0.0.251:5353")
	q := mdnsQuery(t, "_ipp._tcp")
	now := time.Now()
	var id uint16
	n := testing.AllocsPerRun(1000, func() {
		id++
		r.onCaptured(w, src, dst, id, 255, false, q, now)
		if id%8 == 0 {
			r.flush(w)
		}
	})
	if n != 0 {
		t.Errorf("%.1f allocations per filtered datagram", n)
	}
}

// TestReflectServiceJoins: a service's groups, IPv6 too, are joined on
// every interface, so that the capture sockets (the IPv6 one is a raw
// socket) hear them, and the querier asks on every interface.
func TestReflectServiceJoins(t *testing.T) {
	r, iot, lan := reflector(t, "service mdns\n")
	r.tick(context.Background(), time.Now(), false)
	for _, f := range []*fakeIO{iot, lan} {
		if !f.joined[mdns4] || !f.joined[mdns6] || len(f.joined) != 2 {
			t.Errorf("joined %v, want 224.0.0.251 and ff02::fb", f.joined)
		}
		if f.queries != 1 {
			t.Errorf("%d queries, want 1 on each interface", f.queries)
		}
	}
}
