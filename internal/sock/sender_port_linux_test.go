package sock

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// A Sender from a fixed port (SourcePort) opens beside a Listener bound to
// that port on the same host, as an mDNS responder's does beside its
// listener on 5353, and its datagrams arrive from that port.
func TestDialSourcePortBesideListener(t *testing.T) {
	a, b := vethPair(t)
	group := netip.MustParseAddr("239.9.9.7")
	const port = 41700
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	here, err := Listen(ctx, group, port, a)
	if err != nil {
		t.Fatal(err)
	}
	defer here.Close()
	there, err := Listen(ctx, group, port, b)
	if err != nil {
		t.Fatal(err)
	}
	defer there.Close()
	s, err := Dial(group, port, SendOptions{IfIndex: a, Source: netip.MustParseAddr("10.9.0.1"), SourcePort: port, TTL: 255, NoLoop: true})
	if err != nil {
		t.Fatalf("a sender from port %d beside a listener on it: %v", port, err)
	}
	defer s.Close()
	if got := s.LocalAddr().Port(); got != port {
		t.Errorf("sender bound to port %d, want %d", got, port)
	}
	if err := s.Send([]byte("from the fixed port")); err != nil {
		t.Fatal(err)
	}
	d, err := there.Read(ctx, make([]byte, 100))
	if err != nil {
		t.Fatal(err)
	}
	if d.Src != netip.MustParseAddrPort("10.9.0.1:41700") || d.TTL != 255 || string(d.Payload) != "from the fixed port" {
		t.Errorf("got %q from %v ttl %d, want it from 10.9.0.1:41700 with TTL 255", d.Payload, d.Src, d.TTL)
	}
}
