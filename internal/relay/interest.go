package relay

// What this relay wants (local interests) and which groups its capture
// sockets join.

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// onMembership applies an IGMP or MLD message heard from another host on
// the relay's interface i.
func (r *Relay) onMembership(i int, now time.Time, src netip.Addr, m *igmp.Message) {
	l := r.ifs[i]
	self := l.link.addr4
	if src.Is6() {
		self = l.link.ll6
	}
	r.mu.Lock()
	changed := l.lan.Observe(now, src, self, m)
	r.mu.Unlock()
	if changed {
		r.kickTick()
	}
}

// localInterests computes what this relay wants from the kernel's
// membership counts (members, own joins subtracted), the members other
// hosts on the LAN reported (lan) and the config.
func localInterests(cfg *config.Config, users map[netip.Addr]int, joined map[netip.Addr]bool, lan map[netip.Addr]int) []relayframe.Interest {
	var out []relayframe.Interest
	seen := map[netip.Addr]bool{}
	for g, n := range users {
		if joined[g] {
			n--
		}
		n += lan[g]
		if n > 0 && cfg.Carries(g) && !seen[g] {
			seen[g] = true
			out = append(out, relayframe.Interest{Group: g})
		}
	}
	for g, n := range lan {
		if n > 0 && cfg.Carries(g) && !seen[g] {
			seen[g] = true
			out = append(out, relayframe.Interest{Group: g})
		}
	}
	if cfg.Interest == config.InterestAll {
		for _, p := range cfg.Groups {
			if config.Single(p) && !seen[p.Addr()] {
				seen[p.Addr()] = true
				out = append(out, relayframe.Interest{Group: p.Addr()})
			}
		}
		for _, s := range cfg.Services {
			for _, g := range s.Groups {
				if !seen[g] {
					seen[g] = true
					out = append(out, relayframe.Interest{Group: g})
				}
			}
		}
	}
	for _, port := range cfg.BroadcastPorts {
		out = append(out, relayframe.Interest{Group: broadcastGroup, Port: port})
	}
	sortInterests(out)
	return out
}

// addLANPeerWants adds to local the groups that relays on this LAN want
// and this relay is the elected forwarder of, keeping local sorted.
func addLANPeerWants(local []relayframe.Interest, peers map[uint32]*peer, t *routeTable) []relayframe.Interest {
	have := map[relayframe.Interest]bool{}
	for _, in := range local {
		have[in] = true
	}
	n := len(local)
	for _, p := range peers {
		if !p.cfg.LAN || !p.up.Load() {
			continue
		}
		for in := range p.wants {
			if in.Group != broadcastGroup && !have[in] && t.cfg.Carries(in.Group) && t.forwarder(in.Group) {
				have[in] = true
				local = append(local, in)
			}
		}
	}
	if len(local) != n {
		sortInterests(local)
	}
	return local
}

func sortInterests(list []relayframe.Interest) {
	slices.SortFunc(list, func(a, b relayframe.Interest) int {
		if c := a.Group.Compare(b.Group); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
}

// wantedJoins is the set of groups the capture sockets should be joined
// to: every single configured group (the services' too), and every carried
// group a peer wants (so that local senders' datagrams reach the capture
// socket).
func wantedJoins(cfg *config.Config, peers map[uint32]*peer) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, p := range cfg.Groups {
		if config.Single(p) {
			out[p.Addr()] = true
		}
	}
	for _, s := range cfg.Services {
		for _, g := range s.Groups {
			out[g] = true
		}
	}
	for _, p := range peers {
		if !p.up.Load() || p.cfg.LAN {
			continue
		}
		for in := range p.wants {
			if in.Group != broadcastGroup && in.Group.IsMulticast() && cfg.Carries(in.Group) {
				out[in.Group] = true
			}
		}
	}
	return out
}

func formatInterests(list []relayframe.Interest) []string {
	out := make([]string, 0, len(list))
	for _, in := range list {
		if in.Group == broadcastGroup {
			out = append(out, fmt.Sprintf("broadcast:%d", in.Port))
		} else {
			out = append(out, in.Group.String())
		}
	}
	return out
}

// groupUsers is, for the interface named ifname, how many times each group
// is joined (the kernel's user count), from /proc/net/igmp (v4) and
// /proc/net/igmp6 (v6) as internal/sys parses them.
func groupUsers(v4 []hostfs.IGMPIface, v6 []hostfs.IGMP6Group, ifname string) map[netip.Addr]int {
	out := map[netip.Addr]int{}
	for _, ifc := range v4 {
		if ifc.Name != ifname {
			continue
		}
		for _, g := range ifc.Groups {
			out[g.Group] += g.Users
		}
	}
	for _, g := range v6 {
		if g.Iface == ifname {
			out[g.Group] += g.Users
		}
	}
	return out
}
