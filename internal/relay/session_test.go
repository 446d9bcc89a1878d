package relay

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// clockRelay is test relay node (at 10.0.N.10, peer the other) whose
// clock is *now.
func clockRelay(t *testing.T, node, peer string, now *time.Time) (*Relay, *fakeIO) {
	t.Helper()
	addr := map[string]string{"a": "10.0.1.10:7474", "b": "10.0.2.10:7474"}
	conf := "node " + node + "\nlisten " + addr[node] + "\ninterface eth0\nkey /k\npeer " + peer + " " + addr[peer] + " " +
		testPriv(peer).Public().String() + "\ngroup 239.1.1.1\ninterest all\nprivate-key /p\n"
	cfg, err := config.Parse(strings.NewReader(conf), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(cfg, Options{PrivateKey: testPriv(node), Key: bytes.Repeat([]byte{1}, 32), Clock: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeIO(1500)
	r.setIO(f)
	return r, f
}

// deliver hands every frame written to from's fake to relay to, as read
// from address at, and returns how many; kicks are run as ticks.
func deliver(from *fakeIO, to *Relay, at string, now time.Time) int {
	n := 0
	w := &recvWork{}
	for _, batch := range from.frames {
		for _, m := range batch {
			for _, b := range m.Buffers {
				to.onDatagram(w, netip.MustParseAddrPort(at), bytes.Clone(b), 0, now)
				n++
			}
		}
	}
	from.frames = nil
	return n
}

// settle exchanges frames between a and b until neither has anything to
// send, running a tick wherever a kick is pending.
func settle(t *testing.T, a, b *Relay, fa, fb *fakeIO, now time.Time) {
	t.Helper()
	for range 10 {
		for _, r := range []*Relay{a, b} {
			select {
			case <-r.kick:
				r.tick(context.Background(), now, true)
			default:
			}
		}
		if deliver(fa, b, "10.0.1.10:7474", now)+deliver(fb, a, "10.0.2.10:7474", now) == 0 && len(a.kick)+len(b.kick) == 0 {
			return
		}
	}
	t.Fatal("the relays never settled")
}

func cur(r *Relay, peer string) *crypto.Session { return r.peers[config.NodeID(peer)].cur.Load() }

// TestSessionsThroughSeam: a relay that starts handshakes with its peer on
// its first tick; both then send with one session, and learn each other's
// interests. The initiator rekeys after RekeyAfter by the injected clock,
// the old session is forgotten at RejectAfter, and a restart of a with its
// clock set back an hour gives a new session (new keys) that b adopts,
// with counters from 0 again.
func TestSessionsThroughSeam(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	a, fa := clockRelay(t, "a", "b", &now)
	b, fb := clockRelay(t, "b", "a", &now)
	a.tick(context.Background(), now, true)
	if len(fa.frames) != 1 || fa.frames[0][0].Buffers[0][3] != relayframe.TypeInit {
		t.Fatalf("a's first tick wrote %d batches, want one initiation", len(fa.frames))
	}
	settle(t, a, b, fa, fb, now)
	sa, sb := cur(a, "b"), cur(b, "a")
	if sa == nil || sb == nil || sa.Remote != sb.Local || sb.Remote != sa.Local || !sa.Initiator || sb.Initiator {
		t.Fatalf("sessions %+v / %+v", sa, sb)
	}
	if !peerWants(a, "b") || !peerWants(b, "a") {
		t.Fatal("the relays did not learn each other's interests")
	}

	now = now.Add(crypto.RekeyAfter + time.Second)
	a.tick(context.Background(), now, false)
	settle(t, a, b, fa, fb, now)
	if s := cur(a, "b"); s == sa || s == nil || cur(b, "a").Local != s.Remote {
		t.Fatal("a did not rekey after RekeyAfter")
	}
	if a.sessions[sa.Local] == nil {
		t.Error("the replaced session no longer receives")
	}
	now = now.Add(crypto.RejectAfter)
	a.tick(context.Background(), now, false)
	if a.sessions[sa.Local] != nil {
		t.Error("the replaced session outlived RejectAfter")
	}
	settle(t, a, b, fa, fb, now)

	// a restarts with its clock an hour behind.
	before := cur(b, "a")
	back := now.Add(-time.Hour)
	a2, fa2 := clockRelay(t, "a", "b", &back)
	a2.tick(context.Background(), back, true)
	for range 5 {
		deliver(fa2, b, "10.0.1.10:7474", now)
		deliver(fb, a2, "10.0.2.10:7474", back)
		select {
		case <-a2.kick:
			a2.tick(context.Background(), back, true)
		default:
		}
		select {
		case <-b.kick:
			b.tick(context.Background(), now, true)
		default:
		}
	}
	s2 := cur(a2, "b")
	if s2 == nil || cur(b, "a") == before || cur(b, "a").Local != s2.Remote {
		t.Fatal("b did not take up the restarted relay's new session")
	}
	if s2.Sent() > 3 {
		t.Errorf("the restarted relay's counter is at %d: it starts again from 0", s2.Sent())
	}
	if !peerWants(a2, "b") {
		t.Error("the restarted relay did not learn b's interests")
	}
}

// peerWants reports whether r has peer up and wanting 239.1.1.1.
func peerWants(r *Relay, peer string) bool {
	p := r.peers[config.NodeID(peer)]
	r.mu.Lock()
	defer r.mu.Unlock()
	return p.up.Load() && p.wants[relayframe.Interest{Group: netip.MustParseAddr("239.1.1.1")}]
}

// TestSimultaneousHandshakes: two relays that start at once both initiate;
// whichever sessions each ends up sending with, the other receives it,
// and data flows both ways.
func TestSimultaneousHandshakes(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	a, fa := clockRelay(t, "a", "b", &now)
	b, fb := clockRelay(t, "b", "a", &now)
	a.tick(context.Background(), now, true)
	b.tick(context.Background(), now, true)
	settle(t, a, b, fa, fb, now)
	for _, c := range []struct {
		from, to *Relay
		peer     string
	}{{a, b, "b"}, {b, a, "a"}} {
		s := cur(c.from, c.peer)
		if s == nil || c.to.sessions[s.Remote] == nil {
			t.Fatalf("%s sends with a session %s does not have", c.from.cfg.Node, c.peer)
		}
	}
	if !peerWants(a, "b") || !peerWants(b, "a") {
		t.Fatal("the relays did not learn each other's interests")
	}
	// Later hellos still open at the other end.
	before := b.stats.drops[DropUnknownSession].Load() + b.stats.drops[DropAuth].Load()
	now = now.Add(time.Second)
	a.tick(context.Background(), now, true)
	deliver(fa, b, "10.0.1.10:7474", now)
	if after := b.stats.drops[DropUnknownSession].Load() + b.stats.drops[DropAuth].Load(); after != before {
		t.Errorf("b dropped %d of a's frames", after-before)
	}
}
