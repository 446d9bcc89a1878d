package sock

import (
	"context"
	"net/netip"
	"os/exec"
	"testing"
	"time"
)

// A Duplex joined on vb hears a group datagram sent from a Duplex on va,
// with its destination, TTL, interface and sender, and answers it unicast.
func TestDuplexGroupAndAnswer(t *testing.T) {
	a, b := vethPair(t)
	// The answer goes from one local address to another: over lo, which a
	// fresh namespace has down.
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
	group := netip.MustParseAddr("239.9.9.10")
	open := func(port uint16, ifindex int, joins ...DuplexJoin) *Duplex {
		t.Helper()
		d, err := DuplexConfig{Bind: netip.AddrPortFrom(netip.IPv4Unspecified(), port), IfIndex: ifindex, Joins: joins, TTL: 1}.Open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		d.SetReadDeadline(time.Now().Add(5 * time.Second))
		return d
	}
	listener := open(7400, b, DuplexJoin{Group: group})
	asker := open(7401, a)
	if err := asker.WriteTo([]byte("ping"), netip.Addr{}, netip.AddrPortFrom(group, 7400)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	d, err := listener.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	want := netip.MustParseAddrPort("10.9.0.1:7401")
	if string(d.Payload) != "ping" || d.Dst != group || d.Src != want || d.TTL != 1 || d.IfIndex != b || d.At.IsZero() {
		t.Fatalf("got %+v", d)
	}
	self := netip.MustParseAddr("10.9.0.2")
	if err := listener.WriteTo([]byte("pong"), self, d.Src); err != nil {
		t.Fatal(err)
	}
	if d, err = asker.Read(buf); err != nil || string(d.Payload) != "pong" || d.Src != netip.AddrPortFrom(self, 7400) || d.Dst != want.Addr() {
		t.Fatalf("answer: %+v %v", d, err)
	}
	if got := (DuplexJoin{Source: want.Addr(), Group: group}).String(); got != "(10.9.0.1, 239.9.9.10)" {
		t.Errorf("join text %q", got)
	}
}
