package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// routeCheck (2) asks which route a datagram to the group takes: none
// ("network is unreachable"), one to lo, or one by another interface than
// the user meant.
type routeCheck struct {
	h *Host
	t Target
}

func (routeCheck) Name() string { return "route" }

func (c routeCheck) Run(ctx context.Context) Result {
	links, err := c.h.Net.Links(ctx)
	if err != nil {
		return Skipf("%v", err)
	}
	var want Link
	if c.t.Iface != "" {
		if want, err = resolveIface(links, c.t.Iface); err != nil {
			return Skipf("%v", err)
		}
	}
	g := c.t.groupOrSample()
	fam := familyOf(g)
	routes, _ := c.h.Net.Routes(ctx, fam)
	covering := coveringRoute(routes, g)
	r, err := c.h.Net.RouteGet(ctx, g, 0, netipZero)
	if errors.Is(err, ErrUnreachable) {
		res := Result{Status: Fail,
			Summary:  fmt.Sprintf("no route for %s: sending fails with \"network is unreachable\"", g),
			Evidence: []string{fmt.Sprintf("ip route get %s: %v", g, ErrUnreachable)},
		}
		if fam == 4 {
			res.Evidence = append(res.Evidence, "ip route: no 224.0.0.0/4 route and no default route")
		} else {
			res.Evidence = append(res.Evidence, "ip -6 route: no ff00::/8 route and no default route")
		}
		dev := want.Name
		if dev == "" {
			if cs, _ := candidates(links, Target{Group: g}); len(cs) > 0 {
				dev = cs[0].Name
			} else {
				dev = "IFACE"
			}
		}
		if fam == 4 {
			res.Fix = append(res.Fix, fmt.Sprintf("ip route add 224.0.0.0/4 dev %s", dev))
		} else {
			res.Fix = append(res.Fix, fmt.Sprintf("ip -6 route add ff00::/8 dev %s table local", dev))
		}
		res.Fix = append(res.Fix, "or choose the interface in the sender: mcast send --iface IFACE (IP_MULTICAST_IF)")
		return res
	}
	if err != nil {
		return Skipf("%v", err)
	}
	res := Result{Evidence: []string{fmt.Sprintf("ip route get %s: %s", g, r)}}
	if covering.Dev != "" || covering.Gateway.IsValid() {
		res.Evidence = append(res.Evidence, "matching route: "+covering.String())
	}
	switch {
	case r.Type == "local" || (r.Dev == "lo" && !g.IsLoopback()):
		res.Status = Fail
		res.Summary = fmt.Sprintf("datagrams to %s are routed to lo, not out of an interface: they are dropped", g)
		if l, ok := ownerOf(links, g); ok {
			res.Fix = append(res.Fix, fmt.Sprintf("ip addr del %s/%d dev %s   (see check multicast-address)", g, g.BitLen(), l.Name))
		} else {
			res.Fix = append(res.Fix, "remove the route that sends the group to lo: "+covering.String())
		}
	case r.Type == "unreachable" || r.Type == "blackhole" || r.Type == "prohibit":
		res.Status = Fail
		res.Summary = fmt.Sprintf("datagrams to %s hit a %s route", g, r.Type)
		res.Fix = append(res.Fix, "ip route del "+covering.String())
	case want.Name != "" && r.Dev != want.Name:
		res.Status = Warn
		res.Summary = fmt.Sprintf("a send to %s that does not choose its interface leaves by %s, not by %s", g, r.Dev, want.Name)
		if fam == 4 {
			res.Fix = append(res.Fix, fmt.Sprintf("ip route replace 224.0.0.0/4 dev %s", want.Name))
		} else {
			res.Fix = append(res.Fix, fmt.Sprintf("ip -6 route replace ff00::/8 dev %s table local", want.Name))
		}
		res.Fix = append(res.Fix, fmt.Sprintf("or choose it in the sender: mcast send --iface %s (IP_MULTICAST_IF)", want.Name))
	default:
		res.Status = OK
		how := "by its multicast route"
		if covering.Default() {
			how = "by the default route's interface (no multicast route)"
		}
		res.Summary = fmt.Sprintf("a send to %s leaves by %s, %s", g, r.Dev, how)
	}
	return res
}

// coveringRoute returns the main-table route with the longest prefix that
// covers a (the one `ip route get` uses, barring policy rules).
func coveringRoute(routes []Route, a netip.Addr) Route {
	best, bits := Route{}, -1
	for _, r := range routes {
		if r.Table != TableMain && r.Table != 0 && r.Table != TableLocal {
			continue
		}
		p := r.Dst
		if !p.IsValid() {
			p = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
			if familyOf(a) == 6 {
				p = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
			}
		}
		if p.Contains(a) && p.Bits() > bits {
			best, bits = r, p.Bits()
		}
	}
	return best
}
