package doctor

import (
	"context"
	"fmt"
)

// mcastAddrCheck (1) finds multicast addresses configured as interface
// addresses (the autojoin trap): `ip addr add 239.0.0.1 dev eth0 autojoin` also adds
// `local 239.0.0.1 table local`, so datagrams to the group are routed to lo
// with a multicast source and dropped.
type mcastAddrCheck struct {
	h *Host
	t Target
}

func (mcastAddrCheck) Name() string { return "multicast-address" }

func (c mcastAddrCheck) Run(ctx context.Context) Result {
	links, err := c.h.Net.Links(ctx)
	if err != nil {
		return Skipf("%v", err)
	}
	type hit struct {
		l Link
		a Addr
	}
	var hits []hit
	for _, l := range links {
		for _, a := range l.Addrs {
			if a.Prefix.Addr().IsMulticast() {
				hits = append(hits, hit{l, a})
			}
		}
	}
	if len(hits) == 0 {
		return Result{Status: OK, Summary: "no multicast address is configured as an interface address"}
	}
	var local []Route
	if rs, err := c.h.Net.Routes(ctx, c.t.family()); err == nil {
		local = rs
	}
	res := Result{Status: Fail}
	mine := false
	var names []string
	for _, h := range hits {
		g := h.a.Prefix.Addr()
		mine = mine || g == c.t.Group
		names = append(names, fmt.Sprintf("%s on %s", g, h.l.Name))
		aj := ""
		if h.a.Autojoin {
			aj = " autojoin"
		}
		res.Evidence = append(res.Evidence, fmt.Sprintf("ip addr: %s dev %s%s", h.a.Prefix, h.l.Name, aj))
		for _, r := range local {
			if r.Table == TableLocal && r.Dst.IsSingleIP() && r.Dst.Addr() == g {
				res.Evidence = append(res.Evidence, "ip route show table local: "+r.String())
			}
		}
		if r, err := c.h.Net.RouteGet(ctx, g, 0, netipZero); err == nil {
			res.Evidence = append(res.Evidence, fmt.Sprintf("ip route get %s: %s", g, r))
		} else {
			res.Evidence = append(res.Evidence, fmt.Sprintf("ip route get %s: %v", g, err))
		}
		res.Fix = append(res.Fix, fmt.Sprintf("ip addr del %s dev %s", h.a.Prefix, h.l.Name))
	}
	res.Fix = append(res.Fix, "to receive a group, join it from the receiving socket instead (mcast recv GROUP --iface IFACE); `ip addr ... autojoin` is meant for VXLAN and Open vSwitch, which need the kernel to hold the membership")
	verb := "is"
	if len(names) > 1 {
		verb = "are"
	}
	res.Summary = fmt.Sprintf("%s %s configured as an interface address: its local route sends datagrams for it to lo with a multicast source, where they are dropped (they neither leave the host nor loop back)", joinAnd(names), verb)
	if c.t.HasGroup() && !mine {
		res.Status = Warn
		res.Summary += fmt.Sprintf("; your group %s is not one of them", c.t.Group)
	}
	return res
}
