package sock

import (
	"context"
	"net/netip"
	"testing"
	"time"
)

// Datagrams the kernel drops because the receive buffer is full are
// counted (SO_RXQ_OVFL on the next datagram read, SO_MEMINFO at any time),
// and Pending says whether datagrams wait in the buffer.
func TestListenerDropsAndPending(t *testing.T) {
	a, b := vethPair(t)
	group := netip.MustParseAddr("239.9.9.10")
	// The smallest buffer the kernel grants holds a few datagrams.
	l, err := ListenConfig{Groups: []netip.Addr{group}, Port: 41800, IfIndex: b, RcvBuf: 1}.Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s, err := Dial(group, 41800, SendOptions{IfIndex: a, Source: netip.MustParseAddr("10.9.0.1"), TTL: 1, NoLoop: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if l.Pending() {
		t.Fatal("pending before anything was sent")
	}
	p := make([]byte, 1000)
	const sent = 200
	for range sent {
		if err := s.Send(p); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the datagrams crossed the pair (veth delivers them from a
	// softirq, soon after the send).
	deadline := time.Now().Add(5 * time.Second)
	for l.Drops() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !l.Pending() {
		t.Fatal("the full buffer is not pending")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bt := NewBatch(64, 2048)
	read := 0
	for l.Pending() {
		ds, err := l.ReadBatch(ctx, bt)
		if err != nil {
			t.Fatal(err)
		}
		read += len(ds)
	}
	drops := l.Drops()
	if drops == 0 || read+int(drops) != sent {
		t.Fatalf("read %d, %d dropped: want %d in all", read, drops, sent)
	}
	// The next datagram read carries the counter as a control message.
	if err := s.Send(p); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadBatch(ctx, bt); err != nil {
		t.Fatal(err)
	}
	if got := l.seenDrops.Load(); got != uint32(drops) {
		t.Errorf("SO_RXQ_OVFL said %d drops, SO_MEMINFO %d", got, drops)
	}
}
