package doctor

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/mcasttools/mcast/internal/firewall"
)

// firewallCheck (5) runs the datagrams multicast needs (UDP to the group,
// IGMP queries and reports, MLD) through the nftables and iptables rules
// and shows every rule or policy that drops one.
type firewallCheck struct {
	h *Host
	t Target
}

func (firewallCheck) Name() string { return "firewall" }

func (c firewallCheck) Run(ctx context.Context) Result {
	links, err := c.h.Net.Links(ctx)
	if err != nil {
		return Skipf("%v", err)
	}
	dev := ""
	if c.t.Iface != "" {
		l, err := resolveIface(links, c.t.Iface)
		if err != nil {
			return Skipf("%v", err)
		}
		dev = l.Name
	} else if r, err := c.h.Net.RouteGet(ctx, c.t.groupOrSample(), 0, netipZero); err == nil && r.Dev != "lo" {
		dev = r.Dev
	}
	rs, err := c.h.Rules(ctx)
	if err != nil && rs.NftJSON == "" && rs.IptablesSave == "" {
		return Skipf("%v", err)
	}
	chains, perr := firewall.Parse(rs)
	if perr != nil && len(chains) == 0 {
		return Skipf("%v", perr)
	}
	res := Result{Status: OK}
	res.Evidence = append(res.Evidence, rs.Errors...)
	if perr != nil {
		res.Evidence = append(res.Evidence, perr.Error())
	}
	pkts := Packets(c.t, dev)
	seen := map[string]bool{}
	for _, p := range pkts {
		for _, b := range firewall.Blocks(chains, p) {
			ev := b.Evidence()
			if seen[ev] {
				continue
			}
			seen[ev] = true
			res.Evidence = append(res.Evidence, ev)
			if fix := b.Fix(); !seen[fix] {
				seen[fix] = true
				res.Fix = append(res.Fix, fix)
			}
			if b.Sure {
				res.Status = worst(res.Status, Fail)
			} else {
				res.Status = worst(res.Status, Warn)
			}
		}
	}
	n := 0
	for _, ch := range chains {
		n += len(ch.Rules)
	}
	switch res.Status {
	case OK:
		res.Summary = fmt.Sprintf("no rule drops UDP to %s, IGMP or MLD (%s in %s)", groupPort(c.t), plural(n, "rule", "rules"), plural(len(chains), "chain", "chains"))
	case Fail:
		res.Summary = "the firewall drops datagrams multicast needs"
	default:
		res.Summary = "the firewall may drop datagrams multicast needs (rules with conditions not decided here)"
	}
	return res
}

func groupPort(t Target) string {
	g := t.groupOrSample()
	if t.Port != 0 {
		return netip.AddrPortFrom(g, t.Port).String()
	}
	return g.String() + " (any port)"
}

// Packets are the datagrams a multicast user needs through the firewall for
// the target, on interface dev ("" when unknown).
func Packets(t Target, dev string) []firewall.Packet {
	g := t.groupOrSample()
	on := ""
	if dev != "" {
		on = " on " + dev
	}
	by := ""
	if dev != "" {
		by = " by " + dev
	}
	var ps []firewall.Packet
	if familyOf(g) == 4 {
		ps = append(ps,
			firewall.Packet{What: fmt.Sprintf("UDP to %s arriving%s", groupPort(t), on), Dir: "input", Family: 4, Proto: 17, Dst: g, DPort: int(t.Port), Dev: dev},
			firewall.Packet{What: fmt.Sprintf("UDP to %s leaving%s", groupPort(t), by), Dir: "output", Family: 4, Proto: 17, Dst: g, DPort: int(t.Port), Dev: dev},
			firewall.Packet{What: "IGMP queries (to 224.0.0.1) arriving" + on, Dir: "input", Family: 4, Proto: 2, Dst: netip.MustParseAddr("224.0.0.1"), Dev: dev},
			firewall.Packet{What: "IGMPv3 reports (to 224.0.0.22) leaving" + by, Dir: "output", Family: 4, Proto: 2, Dst: netip.MustParseAddr("224.0.0.22"), Dev: dev},
			firewall.Packet{What: fmt.Sprintf("IGMPv2 reports (to %s) leaving%s", g, by), Dir: "output", Family: 4, Proto: 2, Dst: g, Dev: dev},
		)
	}
	if familyOf(g) == 6 || !t.HasGroup() {
		g6 := g
		if familyOf(g) == 4 {
			g6 = netip.MustParseAddr("ff05::1:3")
		}
		t6 := t
		t6.Group = g6
		if familyOf(g) == 6 {
			ps = append(ps,
				firewall.Packet{What: fmt.Sprintf("UDP to %s arriving%s", groupPort(t6), on), Dir: "input", Family: 6, Proto: 17, Dst: g6, DPort: int(t.Port), Dev: dev},
				firewall.Packet{What: fmt.Sprintf("UDP to %s leaving%s", groupPort(t6), by), Dir: "output", Family: 6, Proto: 17, Dst: g6, DPort: int(t.Port), Dev: dev})
		}
		ps = append(ps,
			firewall.Packet{What: "MLD queries (to ff02::1) arriving" + on, Dir: "input", Family: 6, Proto: 58, ICMPType: 130, Dst: netip.MustParseAddr("ff02::1"), Dev: dev},
			firewall.Packet{What: "MLDv2 reports (to ff02::16) leaving" + by, Dir: "output", Family: 6, Proto: 58, ICMPType: 143, Dst: netip.MustParseAddr("ff02::16"), Dev: dev},
		)
	}
	return ps
}
