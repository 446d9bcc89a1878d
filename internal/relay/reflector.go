package relay

// The reflector's side of fan-out (fanout.go): a fan-out frame from an
// origin is re-emitted on this LAN like any data frame, and its records
// are passed on to the relays its list names, each frame sealed under
// this relay's own session with the target and naming the origin; and a
// reflected frame from a reflector is checked and re-emitted, never
// passed on again.

import (
	"time"

	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// reflectCacheMax bounds the remembered answers of plausibleReflector.
const reflectCacheMax = 4096

// reflectWork is the underlay loop's fan-out state.
type reflectWork struct {
	targets []uint32
	to      []*peer  // the targets of the frame at hand
	bodies  [][]byte // per target: the reflected frame being built
	one     []*peer
	send    *sendWork // the frames passed on, sent with the re-emissions

	// Answers of plausibleReflector for the route table cachedFor.
	cache     map[reflectKey]bool
	cachedFor *routeTable
}

type reflectKey struct {
	origin, sender uint32
	in             relayframe.Interest
}

// interestOf is the key a record's datagram is wanted under.
func interestOf(rec *relayframe.Record) relayframe.Interest {
	if rec.Broadcast {
		return relayframe.Interest{Group: broadcastGroup, Port: rec.Dst.Port()}
	}
	return relayframe.Interest{Group: rec.Dst.Addr()}
}

// plausible is plausibleReflector with the answers remembered until the
// route table changes.
func (w *reflectWork) plausible(t *routeTable, origin, sender uint32, in relayframe.Interest) bool {
	if w.cachedFor != t || len(w.cache) >= reflectCacheMax {
		w.cache, w.cachedFor = map[reflectKey]bool{}, t
	}
	k := reflectKey{origin, sender, in}
	ok, known := w.cache[k]
	if !known {
		ok = plausibleReflector(t.self, origin, sender, in, t.want[in], t.cfg.Fanout)
		w.cache[k] = ok
	}
	return ok
}

// onReflect handles the clear body of a TypeReflect frame from p.
func (r *Relay) onReflect(w *recvWork, p *peer, body []byte, now time.Time) {
	rw := &w.fan
	h, recs, err := relayframe.ParseReflect(body, rw.targets[:0])
	if err != nil {
		// Too long, the origin or a relay twice in the list: refused whole.
		r.dropLogged(DropReflectList, p.cfg.ID, now, "a fan-out frame with a bad target list", p.cfg.Addr, err)
		return
	}
	rw.targets = h.Targets
	t := r.table.Load()
	if h.Origin == p.cfg.ID {
		r.passOn(w, t, p, h.Targets, recs, now)
		return
	}
	if len(h.Targets) > 0 {
		// A reflector asking for a second hop: reflection is one hop only.
		r.dropLogged(DropReflectHop, p.cfg.ID, now, "a reflected frame asking to be reflected again", p.cfg.Addr, nil)
		return
	}
	origin := t.byID[h.Origin]
	if origin == nil || h.Origin == t.self {
		r.dropLogged(DropReflectOrigin, p.cfg.ID, now, "a reflected frame naming no peer, or this relay, as its origin", p.cfg.Addr, nil)
		return
	}
	for len(recs) > 0 {
		rec, next, err := relayframe.ParseRecord(recs)
		if err != nil {
			r.dropLogged(DropMalformed, p.cfg.ID, now, "a malformed record in a reflected frame", p.cfg.Addr, err)
			return
		}
		recs = next
		if !rw.plausible(t, origin.cfg.ID, p.cfg.ID, interestOf(&rec)) {
			// Not a relay the origin could have chosen for this group:
			// a peer passing off its own datagrams as another's.
			r.stats.drop(DropReflectNotChosen)
			continue
		}
		origin.reflectedVia.Add(1)
		r.onRecord(w, t, origin, &rec, now)
	}
}

// passOn re-emits the records of origin's fan-out frame on this LAN and
// passes them to the targets.
func (r *Relay) passOn(w *recvWork, t *routeTable, origin *peer, targets []uint32, recs []byte, now time.Time) {
	rw := &w.fan
	rw.to = rw.to[:0]
	for _, id := range targets {
		q := t.byID[id]
		if q == nil || id == t.self {
			r.dropLogged(DropReflectList, origin.cfg.ID, now, "a fan-out frame listing an unknown relay or this one", origin.cfg.Addr, nil)
			return
		}
		rw.to = append(rw.to, q)
	}
	if len(rw.to) > 0 {
		r.stats.reflectorFrames.Add(1)
		origin.reflectedFor.Add(1)
	}
	for len(rw.bodies) < len(rw.to) {
		rw.bodies = append(rw.bodies, make([]byte, 0, 2048))
	}
	for i := range rw.to {
		rw.bodies[i], _ = relayframe.AppendReflect(rw.bodies[i][:0], &relayframe.Reflect{Origin: origin.cfg.ID})
	}
	allow := origin.allow.Load()
	for len(recs) > 0 {
		rec, next, err := relayframe.ParseRecord(recs)
		if err != nil {
			r.dropLogged(DropMalformed, origin.cfg.ID, now, "a malformed record in a fan-out frame", origin.cfg.Addr, err)
			break
		}
		raw := recs[:len(recs)-len(next)]
		recs = next
		if len(rw.to) > 0 {
			in := interestOf(&rec)
			switch {
			case allow != nil && !allowed(*allow, rec.Src.Addr()):
				// onRecord counts it.
			case !rw.plausible(t, origin.cfg.ID, t.self, in):
				r.stats.drop(DropReflectNotChosen)
			default:
				set := t.want[in]
				for i, q := range rw.to {
					if set.has(q) {
						rw.bodies[i] = append(rw.bodies[i], raw...)
					}
				}
			}
		}
		r.onRecord(w, t, origin, &rec, now)
	}
	if rw.send == nil {
		rw.send = newSendWork()
	}
	for i, q := range rw.to {
		if len(rw.bodies[i]) <= relayframe.ReflectHeaderLen {
			continue
		}
		rw.one = append(rw.one[:0], q)
		r.sealTo(rw.send, rw.one, relayframe.TypeReflect, rw.bodies[i])
		q.reflectedTo.Add(1)
	}
}

// has reports whether p is one of s's peers (s may be nil).
func (s *peerSet) has(p *peer) bool {
	if s == nil {
		return false
	}
	if s.member != nil {
		_, ok := s.member[p]
		return ok
	}
	for _, q := range s.peers {
		if q == p {
			return true
		}
	}
	return false
}

// flushReflected sends the frames passed on since the last flush.
func (r *Relay) flushReflected(w *recvWork) {
	if s := w.fan.send; s != nil && s.nmsg > 0 {
		r.flush(s)
	}
}
