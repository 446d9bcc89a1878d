package ping

import "time"

// PeerHealth is one peer's reachability as the metrics export it. The
// counts cover only queries old enough to have been answered (as in the
// matrix), so that a query in flight never shows as lost; they only grow.
type PeerHealth struct {
	Name      string
	Queries   uint64    // queries sent to the peer and settled
	Unicast   uint64    // of those, answered by unicast
	Multicast uint64    // of those, answered by multicast (or broadcast)
	LastHeard time.Time // when the peer last pinged this host; zero: never
	Up        bool      // the peer pinged this host within DownAfter
}

// DownAfter is how long a peer may be silent before it counts as down:
// three query intervals, at least three seconds.
func DownAfter(interval time.Duration) time.Duration {
	return max(3*interval, 3*time.Second)
}

// Health returns every peer's reachability as of now, in the list's order.
// Like View, it settles the queries old enough to have been answered.
func (e *Engine) Health(now time.Time) []PeerHealth {
	out := make([]PeerHealth, 0, len(e.peers))
	for _, p := range e.peers {
		l := &p.ledger
		l.settle(now.Add(-e.grace()))
		out = append(out, PeerHealth{Name: p.Name, Queries: uint64(l.sent), Unicast: uint64(l.uni), Multicast: uint64(l.multi),
			LastHeard: p.lastHeard, Up: !p.lastHeard.IsZero() && now.Sub(p.lastHeard) < DownAfter(e.cfg.Interval)})
	}
	return out
}
