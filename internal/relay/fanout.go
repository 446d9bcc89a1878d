package relay

// Fan-out through reflectors: when more peers want a group than the
// config's `fanout`, the relay whose LAN a datagram came from (its origin)
// sends it to a few of them only, the reflectors, each with the list of
// the others it must pass it on to (reflect.go). Reflectors are chosen per
// origin and group by rendezvous (highest-random-weight) hashing over the
// peers that are up and want the group, so that every relay computes the
// same choice from the same view, groups and origins spread over the
// relays, and when a reflector goes down only its share moves: the next
// in hash order takes its place.

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"time"

	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// fanPlan is how the origin sends one group when more peers want it than
// the fan-out allows: one leg per reflector, each a peerSet of the
// reflector alone whose frames carry its target list.
type fanPlan struct {
	legs       []*peerSet
	reflectors []*peer
	wanting    int // the peers that want the group
	maxHdr     int // the longest leg header: records are cut to fit beside it
}

// rendezvous is the weight of relay id for the datagrams of origin in
// key: FNV-1a over the three, finished by mix (election.go).
func rendezvous(origin, id uint32, key relayframe.Interest) uint64 {
	var b [4 + 4 + 16 + 2]byte
	binary.BigEndian.PutUint32(b[0:], origin)
	binary.BigEndian.PutUint32(b[4:], id)
	g := key.Group.As16()
	copy(b[8:], g[:])
	binary.BigEndian.PutUint16(b[24:], key.Port)
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix(h)
}

// reflectorCount is how many reflectors carry a group wanted by m peers
// with fan-out n: n, or more when each would have more targets than a
// frame may list.
func reflectorCount(m, n int) int {
	per := relayframe.MaxTargets + 1
	return max(n, (m+per-1)/per)
}

// ahead reports whether relay a ranks before relay b (scores sa, sb).
func ahead(sa uint64, a uint32, sb uint64, b uint32) bool {
	return sa > sb || (sa == sb && a > b)
}

// chooseReflectors ranks ids (the peers that want key, the origin not
// among them) for origin and returns the number of reflectors and ids
// reordered best first; nil when they are at most n (sent directly).
func chooseReflectors(origin uint32, key relayframe.Interest, ids []uint32, n int) (int, []uint32) {
	if len(ids) <= n {
		return 0, nil
	}
	ranked := slices.Clone(ids)
	score := make(map[uint32]uint64, len(ids))
	for _, id := range ids {
		score[id] = rendezvous(origin, id, key)
	}
	slices.SortFunc(ranked, func(a, b uint32) int {
		if ahead(score[a], a, score[b], b) {
			return -1
		}
		if a == b {
			return 0
		}
		return 1
	})
	return reflectorCount(len(ids), n), ranked
}

// assignTargets gives each id after the first k of ranked (the
// reflectors) to one reflector: the one of highest rendezvous weight with
// the target, among those with room left in their list. targets[i] are
// reflector ranked[i]'s.
func assignTargets(key relayframe.Interest, ranked []uint32, k int) [][]uint32 {
	targets := make([][]uint32, k)
	for _, t := range ranked[k:] {
		best := -1
		var bestScore uint64
		for i, r := range ranked[:k] {
			if len(targets[i]) >= relayframe.MaxTargets {
				continue
			}
			if s := rendezvous(r, t, key); best < 0 || ahead(s, r, bestScore, ranked[best]) {
				best, bestScore = i, s
			}
		}
		targets[best] = append(targets[best], t)
	}
	return targets
}

// plausibleReflector reports whether sender could be a reflector the
// origin chose for key, as this relay sees the peers: among the relays
// that want key (the peers up in want, this relay, never the origin) it
// must rank within twice the reflector count, the slack covering the
// moments when the origin's view of who is up differs from this relay's
// (a reflector just marked down and its replacement). want may be nil.
func plausibleReflector(self, origin, sender uint32, key relayframe.Interest, want *peerSet, n int) bool {
	if sender == origin {
		return false
	}
	ss := rendezvous(origin, sender, key)
	m, rank, found := 0, 0, sender == self
	consider := func(id uint32) {
		m++
		if id == sender {
			return
		}
		if s := rendezvous(origin, id, key); ahead(s, id, ss, sender) {
			rank++
		}
	}
	consider(self)
	if want != nil {
		for _, p := range want.peers {
			if p.cfg.ID == origin || p.cfg.ID == self {
				continue
			}
			found = found || p.cfg.ID == sender
			consider(p.cfg.ID)
		}
	}
	return found && rank < 2*reflectorCount(m, n)
}

// buildFanout makes the plans of the groups that more than n peers want.
// self is this relay's node ID, the origin of what it sends. Legs with
// the same reflector and targets are shared between groups, so that their
// datagrams pack into the same frames.
func buildFanout(self uint32, sets map[relayframe.Interest]*peerSet, n int) map[relayframe.Interest]*fanPlan {
	if n <= 0 {
		return nil // a config made in code, without the parser's default
	}
	var plans map[relayframe.Interest]*fanPlan
	legs := map[string]*peerSet{}
	var key []byte
	for in, set := range sets {
		if len(set.peers) <= n {
			continue
		}
		byID := make(map[uint32]*peer, len(set.peers))
		ids := make([]uint32, 0, len(set.peers))
		for _, p := range set.peers {
			byID[p.cfg.ID] = p
			ids = append(ids, p.cfg.ID)
		}
		k, ranked := chooseReflectors(self, in, ids, n)
		targets := assignTargets(in, ranked, k)
		plan := &fanPlan{wanting: len(ids)}
		for i, rid := range ranked[:k] {
			slices.Sort(targets[i])
			hdr, _ := relayframe.AppendReflect(nil, &relayframe.Reflect{Origin: self, Targets: targets[i]})
			key = binary.BigEndian.AppendUint32(key[:0], rid)
			key = append(key, hdr...)
			leg := legs[string(key)]
			if leg == nil {
				leg = &peerSet{peers: []*peer{byID[rid]}, hdr: hdr}
				if len(targets[i]) == 0 {
					leg.hdr = nil // nothing to pass on: a plain data frame
				}
				leg.single = []*peerSet{leg}
				legs[string(key)] = leg
			}
			plan.legs = append(plan.legs, leg)
			plan.reflectors = append(plan.reflectors, byID[rid])
			plan.maxHdr = max(plan.maxHdr, len(leg.hdr))
		}
		if plans == nil {
			plans = map[relayframe.Interest]*fanPlan{}
		}
		plans[in] = plan
	}
	return plans
}

// frameType is the type of the frames set's pending bodies are sealed in.
func (s *peerSet) frameType() uint8 {
	if s.hdr != nil {
		return relayframe.TypeReflect
	}
	return relayframe.TypeData
}

// fanOut packs recs, a datagram of group g, into the frames of each leg
// of plan: one per reflector, under the reflector's rate cap.
func (r *Relay) fanOut(w *sendWork, t *routeTable, plan *fanPlan, recs []relayframe.Record, g netip.Addr, mb int, now time.Time) {
	for _, leg := range plan.legs {
		if t.cfg.RatePeer > 0 {
			p := leg.peers[0]
			p.bmu.Lock()
			ok := p.rate.Allow(t.cfg.RatePeer, now)
			p.bmu.Unlock()
			if !ok {
				r.stats.drop(DropRatePeer)
				continue
			}
		}
		r.pack(w, leg, recs, g, mb)
	}
}

// RankReflectors orders ids (node IDs of relays that want group, the
// origin not among them) as the origin ranks them for group: when more
// than `fanout` want it, the first `fanout` are its reflectors, and the
// next takes the place of one that goes down. For tests and tools that
// predict the choice.
func RankReflectors(origin uint32, group netip.Addr, ids []uint32) []uint32 {
	_, ranked := chooseReflectors(origin, relayframe.Interest{Group: group}, ids, 0)
	return ranked
}
