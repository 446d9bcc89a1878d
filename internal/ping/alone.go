package ping

import "time"

// aloneAfter is how long nobody must have answered before the run is
// taken to be alone: omping peers started by hand a moment apart answer
// well within it.
const aloneAfter = 3 * time.Second

// AloneHint is the advice given when no listed host answers.
const AloneHint = "no host has answered yet: every host in the list must run mcast ping (or omping) with the same list at the same time"

// aloneHint appends, once, the advice for a run that no peer has answered
// for aloneAfter: mcast ping, like omping, only measures between hosts that
// all run it.
func (e *Engine) aloneHint(now time.Time, ev []Event) []Event {
	if e.hinted || e.cfg.ServeOnly || len(e.peers) == 0 || now.Sub(e.start) < aloneAfter {
		return ev
	}
	for _, p := range e.peers {
		if p.responded {
			return ev
		}
	}
	e.hinted = true
	return append(ev, Event{Kind: EvHint, Text: AloneHint})
}

// Unanswered lists the peers that never answered, by name.
func (r *Report) Unanswered() []string {
	var out []string
	for _, p := range r.Peers {
		if !p.Responded {
			out = append(out, p.Name)
		}
	}
	return out
}
