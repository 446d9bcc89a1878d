package members

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
)

// State is a member's state as the gossip sees it.
type State string

// Member states (memberlist's alive, suspect, dead and left).
const (
	Alive   State = "alive"
	Suspect State = "suspect"
	Dead    State = "dead"
	Left    State = "left"
)

// Event kinds in the table's log of convergence events.
const (
	EventJoined  = "joined"
	EventFailed  = "failed"
	EventLeft    = "left"
	EventRefused = "refused"
)

// Bounds of the table: members remembered (a flood of new names past it is
// refused) and events kept (the oldest go first).
const (
	MaxMembers = 8192
	MaxEvents  = 64
)

// Member is one member of the fleet.
type Member struct {
	Name   string
	Gossip string // its gossip endpoint
	State  State
	Since  time.Time // when it entered State
	Peer   config.Peer
}

// Event is one convergence event.
type Event struct {
	Time   time.Time
	Name   string
	Kind   string
	Detail string
}

// Table is the members a relay knows and the events that changed them.
// It is not safe for concurrent use.
type Table struct {
	members map[string]*Member
	events  []Event // a ring of MaxEvents, next at len % MaxEvents
	next    int
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{members: map[string]*Member{}} }

func (t *Table) event(e Event) {
	if len(t.events) < MaxEvents {
		t.events = append(t.events, e)
		return
	}
	t.events[t.next] = e
	t.next = (t.next + 1) % MaxEvents
}

// Refused records a refusal as an event.
func (t *Table) Refused(name, why string, now time.Time) {
	t.event(Event{Time: now, Name: name, Kind: EventRefused, Detail: why})
}

// Admit makes name an alive member standing for peer p, reached for gossip
// at gossip. It refuses a member whose key another live member has (a
// forged identity under a new name) and a new name past MaxMembers. It
// reports whether the set of live peers changed.
func (t *Table) Admit(name, gossip string, p config.Peer, now time.Time) (bool, error) {
	if other := t.KeyOwner(p.Key, name); other != "" {
		return false, fmt.Errorf("member %q has the public key of member %q: %w", name, other, ErrRefused)
	}
	m := t.members[name]
	if m == nil {
		if len(t.members) >= MaxMembers && !t.forgetOne() {
			return false, fmt.Errorf("member %q: %d members already known: %w", name, MaxMembers, ErrRefused)
		}
		m = &Member{Name: name}
		t.members[name] = m
	}
	changed := !live(m.State) || !samePeer(m.Peer, p)
	if !live(m.State) {
		m.Since = now
		t.event(Event{Time: now, Name: name, Kind: EventJoined, Detail: gossip})
	}
	if m.State == Suspect {
		m.Since = now
	}
	m.State, m.Gossip, m.Peer = Alive, gossip, p
	return changed, nil
}

// KeyOwner is the live member other than name that has key k ("": none).
func (t *Table) KeyOwner(k [32]byte, name string) string {
	for _, m := range t.members {
		if m.Name != name && m.Peer.Key == k && live(m.State) {
			return m.Name
		}
	}
	return ""
}

// Suspect marks a live member suspect (it still gets data: memberlist has
// not declared it dead).
func (t *Table) Suspect(name string, now time.Time) {
	if m := t.members[name]; m != nil && m.State == Alive {
		m.State, m.Since = Suspect, now
	}
}

// Gone marks a member dead or left and reports whether it was live.
func (t *Table) Gone(name string, st State, now time.Time) bool {
	m := t.members[name]
	if m == nil || !live(m.State) {
		return false
	}
	m.State, m.Since = st, now
	kind := EventFailed
	if st == Left {
		kind = EventLeft
	}
	t.event(Event{Time: now, Name: name, Kind: kind, Detail: m.Gossip})
	return true
}

// forgetOne drops the member that has been dead or left longest.
func (t *Table) forgetOne() bool {
	var old *Member
	for _, m := range t.members {
		if !live(m.State) && (old == nil || m.Since.Before(old.Since)) {
			old = m
		}
	}
	if old == nil {
		return false
	}
	delete(t.members, old.Name)
	return true
}

// Peers are the live members' peers (alive or suspect), by name.
func (t *Table) Peers() []config.Peer {
	var out []config.Peer
	for _, m := range t.members {
		if live(m.State) {
			out = append(out, m.Peer)
		}
	}
	slices.SortFunc(out, func(a, b config.Peer) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Members are every member the table knows, by name.
func (t *Table) Members() []Member {
	out := make([]Member, 0, len(t.members))
	for _, m := range t.members {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Events are the kept events, oldest first.
func (t *Table) Events() []Event {
	if len(t.events) < MaxEvents {
		return append([]Event{}, t.events...)
	}
	return append(append([]Event{}, t.events[t.next:]...), t.events[:t.next]...)
}

// Count is how many members are in each state.
func (t *Table) Count() map[State]int {
	out := map[State]int{Alive: 0, Suspect: 0, Dead: 0, Left: 0}
	for _, m := range t.members {
		out[m.State]++
	}
	return out
}

func live(s State) bool { return s == Alive || s == Suspect }

func samePeer(a, b config.Peer) bool {
	return a.Name == b.Name && a.Addr == b.Addr && a.LAN == b.LAN && a.Key == b.Key && slices.Equal(a.Allow, b.Allow) &&
		(a.Allow == nil) == (b.Allow == nil) && a.NotAfter.Equal(b.NotAfter)
}
