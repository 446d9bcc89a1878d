package relay

// memberlist's delegates: what the fleet tells memberlist, and what it
// hears from it.

import (
	"fmt"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/mcasttools/mcast/internal/relay/members"
)

// NodeMeta is this relay's metadata (memberlist.Delegate).
func (f *fleet) NodeMeta(limit int) []byte {
	m := *f.meta.Load()
	if len(m) > limit {
		return nil
	}
	return m
}

// NotifyMsg ignores user messages: the fleet sends none (memberlist.Delegate).
func (f *fleet) NotifyMsg([]byte) {}

// GetBroadcasts has nothing: interest travels on the data plane
// (memberlist.Delegate).
func (f *fleet) GetBroadcasts(int, int) [][]byte { return nil }

// LocalState has nothing beyond memberlist's own state (memberlist.Delegate).
func (f *fleet) LocalState(bool) []byte { return nil }

// MergeRemoteState ignores any state beyond memberlist's (memberlist.Delegate).
func (f *fleet) MergeRemoteState([]byte, bool) {}

// NotifyJoin: a member is alive (memberlist.EventDelegate).
func (f *fleet) NotifyJoin(n *memberlist.Node) { f.admit(n) }

// NotifyUpdate: a member's metadata changed (memberlist.EventDelegate).
func (f *fleet) NotifyUpdate(n *memberlist.Node) { f.admit(n) }

// NotifyLeave: a member failed, or left without saying so first; it
// stops being a peer (memberlist.EventDelegate).
func (f *fleet) NotifyLeave(n *memberlist.Node) {
	st := members.Dead
	if m, _ := members.Decode(n.Meta); m != nil && m.Leaving {
		st = members.Left
	}
	f.gone(n, st)
}

// NotifyAlive refuses a member whose metadata does not pass the checks
// (memberlist.AliveDelegate): memberlist then ignores it.
func (f *fleet) NotifyAlive(n *memberlist.Node) error {
	if n.Name == f.cfg.Node {
		return nil
	}
	p, err := f.check(n)
	if err != nil {
		f.refuse(n, err)
		return err
	}
	// An alive message about a member this relay suspects: it refuted.
	f.mu.Lock()
	for _, m := range f.table.Members() {
		if m.Name == n.Name && m.State == members.Suspect {
			_, _ = f.table.Admit(n.Name, n.Address(), p, time.Now())
		}
	}
	f.mu.Unlock()
	return nil
}

// maxMerge bounds the members a push/pull may bring: a larger state is a
// flood, refused whole.
const maxMerge = members.MaxMembers

// NotifyMerge refuses a push/pull state larger than a fleet can be
// (memberlist.MergeDelegate); each member in it still passes NotifyAlive.
func (f *fleet) NotifyMerge(peers []*memberlist.Node) error {
	if len(peers) > maxMerge {
		f.refused.Add(1)
		f.logLimited("gossip state refused", "merge", "members", len(peers), "max", maxMerge)
		return fmt.Errorf("a state of %d members (at most %d)", len(peers), maxMerge)
	}
	return nil
}

// NotifyConflict: two relays claim one node name (memberlist.
// ConflictDelegate). The one already in the fleet keeps it; a relay that
// finds its own name taken while it joins from alone stops gossiping.
func (f *fleet) NotifyConflict(existing, other *memberlist.Node) {
	f.conflicts.Add(1)
	if existing.Name == f.cfg.Node && f.joining.Load() {
		if !f.selfRefused.Swap(true) {
			f.r.log.Error("node name taken: another relay of the fleet is already called this; gossip stopped (static peers still carry): rename one",
				"node", f.cfg.Node, "other", other.Address())
			go func() { _ = f.ml.Shutdown() }()
		}
		return
	}
	f.logLimited("two relays claim one node name: the second is refused", existing.Name,
		"node", existing.Name, "first", existing.Address(), "second", other.Address())
}
