package relay

import (
	"context"
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// tick runs the periodic work: membership, joins, liveness, hellos.
func (r *Relay) tick(ctx context.Context, now time.Time, helloDue bool) {
	users := r.io.memberships()
	r.mu.Lock()
	cfg := r.cfg
	// Liveness.
	changed := false
	for _, p := range r.peers {
		if p.up.Load() && now.Sub(time.Unix(0, p.lastSeen.Load())) > cfg.PeerTimeout {
			p.up.Store(false)
			changed = true
			r.log.Warn("peer down", "peer", p.cfg.Name, "addr", p.cfg.Addr.String(), "silent_for", now.Sub(time.Unix(0, p.lastSeen.Load())).Round(time.Millisecond).String())
		}
	}
	// Joins.
	want := wantedJoins(cfg, r.peers)
	var more map[netip.Addr]int // members on the further interfaces
	if len(r.ifs) > 1 {
		more = r.reachJoins(cfg, want, users, now)
	} else {
		r.syncJoins(r.io, r.joined, want)
	}
	// Interests: this host's members, other hosts' reports, and, for the
	// groups this relay forwards, what the other relays on this LAN want
	// for their own hosts (they are not the forwarder, so they do not add
	// ours: no feedback).
	if r.lan.Expire(now) {
		r.log.Debug("LAN memberships expired")
	}
	lan := r.lan.Groups(r.isUpLANPeer)
	all, joined := users, r.joined
	if more != nil {
		// This interface's own joins come off its counts alone.
		all, joined = memberCounts(users, r.joined, nil), nil
		for g, n := range more {
			all[g] += n
		}
	}
	local := localInterests(cfg, all, joined, lan)
	if t := r.table.Load(); len(t.lan) > 1 {
		local = addLANPeerWants(local, r.peers, t)
	}
	r.members = users
	r.lanCount = lan
	queries := cfg.Querier && !now.Before(r.nextQuery)
	var q4, q6 bool
	if queries {
		r.nextQuery = now.Add(defaultQueryInterval)
		q4 = !r.lan.OtherQuerier(now, false)
		q6 = !r.lan.OtherQuerier(now, true)
	}
	// The further interfaces' queries: [v4, v6] each.
	var moreQ [][2]bool
	if queries {
		for _, l := range r.ifs[1:] {
			moreQ = append(moreQ, [2]bool{!l.lan.OtherQuerier(now, false), !l.lan.OtherQuerier(now, true)})
		}
	}
	if !slices.Equal(local, r.local) {
		r.local = local
		helloDue = true
		r.log.Info("local interest", "wants", formatInterests(local))
	}
	if changed {
		r.rebuild()
	}
	var body []byte
	var targets []*peer
	peers := make([]*peer, 0, len(r.peers))
	for _, p := range r.peers {
		peers = append(peers, p)
	}
	if helloDue {
		var sources []netip.AddrPort
		if cfg.Source == config.SourceRelay {
			for _, l := range r.ifs {
				sources = append(sources, l.link.emitSources()...)
			}
		}
		body, _ = relayframe.AppendHello(nil, &relayframe.Hello{Interests: local, Sources: sources})
		for _, p := range r.peers {
			if p.cur.Load() != nil {
				targets = append(targets, p)
			}
		}
	}
	r.mu.Unlock()
	if helloDue && len(targets) > 0 {
		w := newSendWork()
		r.sealTo(w, targets, relayframe.TypeHello, body)
		r.flush(w)
	}
	r.renewSessions(peers, r.clock())
	r.expireCerts(r.clock())
	if q4 || q6 {
		r.io.query(q4, q6, r.log)
	}
	for i, q := range moreQ {
		if q[0] || q[1] {
			r.ifs[i+1].io.query(q[0], q[1], r.log)
		}
	}
	r.amu.Lock()
	n := r.reasm.expire(now)
	r.amu.Unlock()
	if n > 0 {
		r.stats.dropN(DropReassembly, uint64(n))
	}
}

// syncJoins makes the joins of io (joined) the groups of want.
func (r *Relay) syncJoins(io linkIO, joined, want map[netip.Addr]bool) {
	for g := range joined {
		if !want[g] {
			if err := io.leave(g); err != nil {
				r.log.Warn("leaving group", "group", g.String(), "err", err)
			}
			delete(joined, g)
		}
	}
	for g := range want {
		if !joined[g] {
			if err := io.join(g); err != nil {
				r.log.Warn("joining group", "group", g.String(), "err", err)
				continue
			}
			joined[g] = true
		}
	}
}

// reachJoins, with several interfaces, notes the groups with members on
// each (for the capture loops of the others), joins on each interface
// what the peers want and what the other interfaces have members of, and
// returns the members of the interfaces but the first. users are the
// first interface's kernel counts. Caller holds mu.
func (r *Relay) reachJoins(cfg *config.Config, want map[netip.Addr]bool, users map[netip.Addr]int, now time.Time) map[netip.Addr]int {
	counts := make([]map[netip.Addr]int, len(r.ifs))
	more := map[netip.Addr]int{}
	for i, l := range r.ifs {
		u := users
		if i > 0 {
			u = l.io.memberships()
			l.lan.Expire(now)
		}
		counts[i] = memberCounts(u, l.joined, l.lan.Groups(r.isUpLANPeer))
		set := map[netip.Addr]bool{}
		for g := range counts[i] {
			if cfg.Carries(g) {
				set[g] = true
			}
		}
		l.members.Store(&set)
		if i > 0 {
			for g, n := range counts[i] {
				more[g] += n
			}
		}
	}
	for i, l := range r.ifs {
		w := maps.Clone(want)
		for j, c := range counts {
			for g := range c {
				if j != i && cfg.Carries(g) && g.IsMulticast() {
					w[g] = true
				}
			}
		}
		r.syncJoins(l.io, l.joined, w)
	}
	return more
}
