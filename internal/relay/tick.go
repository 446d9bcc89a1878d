package relay

import (
	"context"
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
	for g := range r.joined {
		if !want[g] {
			if err := r.io.leave(g); err != nil {
				r.log.Warn("leaving group", "group", g.String(), "err", err)
			}
			delete(r.joined, g)
		}
	}
	for g := range want {
		if !r.joined[g] {
			if err := r.io.join(g); err != nil {
				r.log.Warn("joining group", "group", g.String(), "err", err)
				continue
			}
			r.joined[g] = true
		}
	}
	// Interests: this host's members, other hosts' reports, and, for the
	// groups this relay forwards, what the other relays on this LAN want
	// for their own hosts (they are not the forwarder, so they do not add
	// ours: no feedback).
	if r.lan.Expire(now) {
		r.log.Debug("LAN memberships expired")
	}
	lan := r.lan.Groups(r.isUpLANPeer)
	local := localInterests(cfg, users, r.joined, lan)
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
	all := make([]*peer, 0, len(r.peers))
	for _, p := range r.peers {
		all = append(all, p)
	}
	if helloDue {
		var sources []netip.AddrPort
		if cfg.Source == config.SourceRelay {
			sources = r.link.emitSources()
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
	r.renewSessions(all, r.clock())
	r.expireCerts(r.clock())
	if q4 || q6 {
		r.io.query(q4, q6, r.log)
	}
	r.amu.Lock()
	n := r.reasm.expire(now)
	r.amu.Unlock()
	if n > 0 {
		r.stats.dropN(DropReassembly, uint64(n))
	}
}
