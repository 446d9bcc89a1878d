package members_test

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/members"
)

func peer(name string, k byte, addr string) config.Peer {
	return config.Peer{Name: name, ID: config.NodeID(name), Key: key(k), Addr: netip.MustParseAddrPort(addr)}
}

func TestTableStates(t *testing.T) {
	now := time.Unix(1000, 0)
	tb := members.NewTable()
	if ch, err := tb.Admit("vm2", "10.0.2.10:7475", peer("vm2", 2, "10.0.2.10:7474"), now); !ch || err != nil {
		t.Fatalf("Admit = %v, %v", ch, err)
	}
	if ch, _ := tb.Admit("vm2", "10.0.2.10:7475", peer("vm2", 2, "10.0.2.10:7474"), now.Add(time.Second)); ch {
		t.Error("the same member admitted again changed the peers")
	}
	// Another node's key under a new name is refused.
	if _, err := tb.Admit("evil", "10.0.9.9:7475", peer("evil", 2, "10.0.9.9:7474"), now); err == nil {
		t.Error("a member with vm2's key admitted")
	}
	tb.Suspect("vm2", now.Add(2*time.Second))
	if got := tb.Count(); got[members.Suspect] != 1 || len(tb.Peers()) != 1 {
		t.Errorf("suspect: counts %v, peers %v (a suspect still gets data)", got, tb.Peers())
	}
	if !tb.Gone("vm2", members.Dead, now.Add(5*time.Second)) || len(tb.Peers()) != 0 {
		t.Error("a dead member still a peer")
	}
	if tb.Gone("vm2", members.Dead, now.Add(6*time.Second)) {
		t.Error("dead twice")
	}
	// Its key is free again once it is dead: it restarts under its name.
	if ch, err := tb.Admit("vm2", "10.0.2.10:7475", peer("vm2", 2, "10.0.2.10:7474"), now.Add(9*time.Second)); !ch || err != nil {
		t.Fatalf("rejoin: %v, %v", ch, err)
	}
	ev := tb.Events()
	kinds := []string{}
	for _, e := range ev {
		kinds = append(kinds, e.Kind)
	}
	if len(kinds) != 3 || kinds[0] != members.EventJoined || kinds[1] != members.EventFailed || kinds[2] != members.EventJoined {
		t.Errorf("events %v", kinds)
	}
	m := tb.Members()[0]
	if m.State != members.Alive || !m.Since.Equal(now.Add(9*time.Second)) {
		t.Errorf("member %+v", m)
	}
}

// TestTableBounded: a flood of new names keeps the table and the event
// log bounded; the dead are forgotten first.
func TestTableBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	tb := members.NewTable()
	refused := 0
	for i := 0; i < members.MaxMembers+500; i++ {
		name := "n" + strconv.Itoa(i)
		var k [32]byte
		copy(k[:], name)
		p := config.Peer{Name: name, ID: config.NodeID(name), Key: k}
		if _, err := tb.Admit(name, "x", p, now); err != nil {
			refused++
			tb.Refused(name, err.Error(), now)
		}
		if i == 10 {
			tb.Gone("n0", members.Dead, now)
		}
	}
	if n := len(tb.Members()); n != members.MaxMembers {
		t.Errorf("%d members kept, want %d", n, members.MaxMembers)
	}
	if refused != 499 || len(tb.Events()) != members.MaxEvents {
		t.Errorf("refused %d (want 499: one dead forgotten), %d events kept", refused, len(tb.Events()))
	}
}

func TestMerge(t *testing.T) {
	self := peer("vm1", 1, "10.0.1.10:7474")
	static := []config.Peer{peer("vm2", 2, "10.0.2.10:7474")}
	joined := []config.Peer{
		peer("vm2", 9, "10.0.2.10:7474"), // a static line of its name wins
		peer("vm3", 3, "10.0.3.10:7474"), // taken
		peer("vm4", 2, "10.0.4.10:7474"), // vm2's key
		peer("vm5", 5, "10.0.2.10:7474"), // vm2's address
		peer("vm6", 1, "10.0.6.10:7474"), // this relay's key
		peer("vm7", 7, "10.0.1.10:7474"), // this relay's address
	}
	out, left := members.Merge(self, static, joined)
	if len(out) != 2 || out[0].Name != "vm2" || out[0].Key != key(2) || out[1].Name != "vm3" {
		t.Errorf("merged %v", out)
	}
	for _, n := range []string{"vm2", "vm4", "vm5", "vm6", "vm7"} {
		if left[n] == "" {
			t.Errorf("%s not refused: %v", n, left)
		}
	}
}
