package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/firewall"
	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/iface"
)

// Host is everything the checks read of a machine. LiveHost returns the
// running system's; tests fill it with recorded data.
type Host struct {
	FS    hostfs.FS                                   // /proc, /sys and / files (/.dockerenv) below a root
	Net   Net                                         // links, addresses and routes
	Rules func(ctx context.Context) (Rulesets, error) // firewall rulesets as text
	Root  bool                                        // running with euid 0
	Probe func(ctx context.Context, p ProbeSpec) (ProbeOutcome, error)
	// Listen captures IGMP and MLD queries on iface ("" for every
	// interface) for at most d, or until enough returns true for the
	// queries heard so far.
	Listen func(ctx context.Context, iface string, d time.Duration, enough func([]HeardQuery) bool) ([]HeardQuery, error)
}

// Rulesets are the firewall rules as their tools print them (see package
// firewall, which parses and evaluates them).
type Rulesets = firewall.Rulesets

// Net reads links, addresses and routes (netlink on a live system).
type Net interface {
	// Links lists every interface with its addresses.
	Links(ctx context.Context) ([]Link, error)
	// Routes lists the routes of every table for the family (4 or 6).
	Routes(ctx context.Context, family int) ([]Route, error)
	// RouteGet asks the kernel which route a datagram to dst takes, as
	// `ip route get dst [oif DEV] [from SRC]` does; oif 0 lets it choose.
	RouteGet(ctx context.Context, dst netip.Addr, oif int, src netip.Addr) (Route, error)
	// BridgeQuerier tells what the bridge with index ifindex knows of the
	// IGMP querier on its segment.
	BridgeQuerier(ctx context.Context, ifindex int) (Querier, error)
}

// ErrUnreachable is wrapped by RouteGet when the kernel has no route
// ("network is unreachable").
var ErrUnreachable = errors.New("network is unreachable")

// Link is one network interface.
type Link struct {
	Name         string
	Index        int
	Type         string // netlink kind: "veth", "bridge", "tun", "wireguard", "device", ...
	Up           bool   // administratively up (IFF_UP)
	LowerUp      bool   // carrier (IFF_LOWER_UP)
	Multicast    bool   // IFF_MULTICAST
	Broadcast    bool   // IFF_BROADCAST
	Loopback     bool   // IFF_LOOPBACK
	PointToPoint bool   // IFF_POINTOPOINT
	NoARP        bool   // IFF_NOARP
	MasterIndex  int    // the bridge (or bond) it is enslaved to, 0 when none
	Addrs        []Addr
}

// Addr is an interface address.
type Addr struct {
	Prefix    netip.Prefix
	Broadcast netip.Addr // IFA_BROADCAST, zero when none
	Autojoin  bool       // IFA_F_MCAUTOJOIN
}

// Flags renders the link flags as `ip link` prints them.
func (l Link) Flags() string {
	var f []string
	add := func(ok bool, s string) {
		if ok {
			f = append(f, s)
		}
	}
	add(l.Loopback, "LOOPBACK")
	add(l.Broadcast, "BROADCAST")
	add(l.PointToPoint, "POINTOPOINT")
	add(l.Multicast, "MULTICAST")
	add(l.NoARP, "NOARP")
	add(l.Up, "UP")
	add(l.LowerUp, "LOWER_UP")
	return "<" + strings.Join(f, ",") + ">"
}

// Has4 reports whether the link has an IPv4 address; Has6 an IPv6 one.
func (l Link) Has4() bool { _, ok := l.First(4); return ok }

// First returns the first address of the family (4 or 6).
func (l Link) First(family int) (Addr, bool) {
	for _, a := range l.Addrs {
		if familyOf(a.Prefix.Addr()) == family {
			return a, true
		}
	}
	return Addr{}, false
}

// Interface converts to the iface package's view (for origin.Classify).
func (l Link) Interface() iface.Interface {
	it := iface.Interface{Name: l.Name, Index: l.Index, Up: l.Up, Multicast: l.Multicast}
	for _, a := range l.Addrs {
		it.Addrs = append(it.Addrs, a.Prefix)
	}
	return it
}

func familyOf(a netip.Addr) int {
	if a.Is4() || a.Is4In6() {
		return 4
	}
	return 6
}

// Route is one route, or the answer to a route query.
type Route struct {
	Type    string       // "unicast", "local", "broadcast", "multicast", "unreachable", ...
	Dst     netip.Prefix // zero for the default route
	Gateway netip.Addr
	Dev     string // outgoing interface name
	Table   int    // 254 main, 255 local
	Src     netip.Addr
	Proto   string // "kernel", "boot", "static", ...
}

// Routing table numbers.
const (
	TableMain  = 254
	TableLocal = 255
)

// String renders the route as `ip route` does.
func (r Route) String() string {
	var b []string
	if r.Type != "" && r.Type != "unicast" {
		b = append(b, r.Type)
	}
	if r.Dst.IsValid() && r.Dst.Bits() > 0 {
		if r.Dst.IsSingleIP() {
			b = append(b, r.Dst.Addr().String())
		} else {
			b = append(b, r.Dst.String())
		}
	} else {
		b = append(b, "default")
	}
	if r.Gateway.IsValid() {
		b = append(b, "via", r.Gateway.String())
	}
	if r.Dev != "" {
		b = append(b, "dev", r.Dev)
	}
	switch r.Table {
	case 0, TableMain:
	case TableLocal:
		b = append(b, "table", "local")
	default:
		b = append(b, "table", fmt.Sprint(r.Table))
	}
	if r.Proto != "" && r.Proto != "boot" {
		b = append(b, "proto", r.Proto)
	}
	if r.Src.IsValid() {
		b = append(b, "src", r.Src.String())
	}
	return strings.Join(b, " ")
}

// Default reports whether r is a default route.
func (r Route) Default() bool { return !r.Dst.IsValid() || r.Dst.Bits() == 0 }

// linkByName finds a link by name.
func linkByName(links []Link, name string) (Link, bool) {
	for _, l := range links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// linkByIndex finds a link by index.
func linkByIndex(links []Link, idx int) (Link, bool) {
	for _, l := range links {
		if l.Index == idx {
			return l, true
		}
	}
	return Link{}, false
}

// ownerOf returns the link holding address a.
func ownerOf(links []Link, a netip.Addr) (Link, bool) {
	for _, l := range links {
		for _, p := range l.Addrs {
			if p.Prefix.Addr() == a {
				return l, true
			}
		}
	}
	return Link{}, false
}

// resolveIface finds --iface (a name or an address) among links.
func resolveIface(links []Link, text string) (Link, error) {
	if l, ok := linkByName(links, text); ok {
		return l, nil
	}
	if a, err := netip.ParseAddr(text); err == nil {
		if l, ok := ownerOf(links, a.Unmap()); ok {
			return l, nil
		}
		return Link{}, fmt.Errorf("unknown interface %q: no interface has that address", text)
	}
	return Link{}, fmt.Errorf("unknown interface %q", text)
}

// sampleGroup4 is the group checked when the user names none: an
// organization-local group, routed like any 239.0.0.0/8 group.
var sampleGroup4 = netip.MustParseAddr("239.255.0.1")

// groupOrSample returns the target's group, or the sample group.
func (t Target) groupOrSample() netip.Addr {
	if t.HasGroup() {
		return t.Group
	}
	return sampleGroup4
}

// family is the target group's family (4 without a group).
func (t Target) family() int {
	if t.HasGroup() {
		return familyOf(t.Group)
	}
	return 4
}

// candidates returns the interfaces a check looks at: --iface when given,
// else every interface that is up, not loopback and has an address of the
// family.
func candidates(links []Link, t Target) ([]Link, error) {
	if t.Iface != "" {
		l, err := resolveIface(links, t.Iface)
		if err != nil {
			return nil, err
		}
		return []Link{l}, nil
	}
	var out []Link
	for _, l := range links {
		if _, ok := l.First(t.family()); ok && l.Up && !l.Loopback {
			out = append(out, l)
		}
	}
	return out, nil
}

// plural returns "1 thing" or "n things".
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}
