package relay

// Several interfaces in one relay: a datagram captured on one is
// re-emitted on the others that want it, as the config's allow lines let
// it cross. The first interface is the one a relay serving one LAN has;
// the peers' datagrams are re-emitted on every interface.

import (
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// mDNS's groups, which `mdns-type` filters.
var (
	mdns4 = netip.MustParseAddr("224.0.0.251")
	mdns6 = netip.MustParseAddr("ff02::fb")
)

// lanIf is one interface the relay serves, with its sockets.
type lanIf struct {
	name string
	io   linkIO
	link *linkFacts
	lan  *LANMembers // other hosts' memberships heard on it (the first's is Relay.lan)

	// The relay's own joins on it, and the groups with members on it
	// besides the relay (this host's and other hosts'), read by the
	// capture loops of the other interfaces. Guarded by Relay.mu but
	// members, which is swapped whole.
	joined  map[netip.Addr]bool
	members atomic.Pointer[map[netip.Addr]bool]
}

func newLANIf(name string, l linkIO, lan *LANMembers) *lanIf {
	return &lanIf{name: name, io: l, link: l.facts(), lan: lan, joined: map[netip.Addr]bool{}}
}

// wants reports whether a datagram to dst (a broadcast to dst's port when
// bcast) is wanted on l: a broadcast port, a single group or a service's
// group the config names, or a group with members there.
func (l *lanIf) wants(cfg *config.Config, dst netip.AddrPort, bcast bool) bool {
	if bcast {
		return cfg.CarriesBroadcast(dst.Port())
	}
	g := dst.Addr()
	if m := l.members.Load(); m != nil && (*m)[g] {
		return true
	}
	return configured(cfg, g)
}

// configured reports whether g is a single group the config names, by
// itself or through a service.
func configured(cfg *config.Config, g netip.Addr) bool {
	for _, p := range cfg.Groups {
		if config.Single(p) && p.Addr() == g {
			return true
		}
	}
	for _, s := range cfg.Services {
		for _, sg := range s.Groups {
			if sg == g {
				return true
			}
		}
	}
	return false
}

// on is the emission work of interface i.
func (w *recvWork) on(i int) *recvWork {
	if i == 0 {
		return w
	}
	for len(w.more) < i {
		w.more = append(w.more, &recvWork{})
	}
	return w.more[i-1]
}

// reflect re-emits a datagram captured on interface w.from on the other
// interfaces that want it and that the allow lines let it reach.
func (r *Relay) reflect(w *sendWork, t *routeTable, rec *relayframe.Record, ck uint64, now time.Time) {
	ifs := r.ifs
	from := ifs[w.from].name
	var asked uint64
	for j, l := range ifs {
		if j == w.from || !t.cfg.Crosses(rec.Dst, rec.Broadcast, from, l.name) || !l.wants(t.cfg, rec.Dst, rec.Broadcast) {
			continue
		}
		if w.refl == nil {
			w.refl = &recvWork{}
		}
		if err := r.emit(w.refl.on(j), l.link, t, rec, ck, now); err != nil {
			r.stats.drop(DropTooBig)
			continue
		}
		r.stats.reflected.Add(1)
		asked |= ifaceBit(j)
	}
	if asked != 0 {
		r.noteSearch(t, rec, w.from, asked, now)
	}
}

// ownSource reports whether src is where one of the relay's UDP emission
// sockets sends from.
func (r *Relay) ownSource(src netip.AddrPort) bool {
	for _, l := range r.ifs {
		if l.link.ownSource(src) {
			return true
		}
	}
	return false
}

// memberCounts is, for interface l, how many members each group has there
// besides the relay's own joins: this host's (users) and other hosts'
// (lan).
func memberCounts(users map[netip.Addr]int, joined map[netip.Addr]bool, lan map[netip.Addr]int) map[netip.Addr]int {
	out := map[netip.Addr]int{}
	for g, n := range users {
		if joined[g] {
			n--
		}
		if n > 0 {
			out[g] += n
		}
	}
	for g, n := range lan {
		if n > 0 {
			out[g] += n
		}
	}
	return out
}

// ifaceNames are the interfaces cfg serves.
func ifaceNames(cfg *config.Config) []string {
	if len(cfg.Interfaces) == 0 {
		return []string{cfg.Interface}
	}
	return cfg.Interfaces
}
