package doctor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mcasttools/mcast/internal/hostfs"
)

// snoopingCheck (8) finds local Linux bridges that snoop IGMP/MLD with no
// querier: nobody asks hosts to renew their memberships, so the bridge
// forgets them after multicast_membership_interval (260 s) and stops
// forwarding the groups to their receivers.
type snoopingCheck struct {
	h    *Host
	t    Target
	wire *listener
}

func (snoopingCheck) Name() string { return "snooping" }

// bridgeState is what /sys/class/net/<br>/bridge says about multicast.
type bridgeState struct {
	Snooping    bool
	Querier     bool
	IGMPVersion int
	Membership  time.Duration
	err         error
}

func readBridge(fs hostfs.FS, name string) bridgeState {
	var bs bridgeState
	get := func(f string) int {
		s, err := readFile(fs, "sys/class/net/"+name+"/bridge/"+f)
		if err != nil {
			if bs.err == nil {
				bs.err = fmt.Errorf("reading bridge %s: %w", name, err)
			}
			return 0
		}
		n, err := strconv.Atoi(s)
		if err != nil && bs.err == nil {
			bs.err = fmt.Errorf("bridge %s: %s is %q, not a number", name, f, s)
		}
		return n
	}
	bs.Snooping = get("multicast_snooping") == 1
	bs.Querier = get("multicast_querier") == 1
	bs.IGMPVersion = get("multicast_igmp_version")
	bs.Membership = time.Duration(get("multicast_membership_interval")) * 10 * time.Millisecond // centiseconds
	if bs.IGMPVersion == 0 {
		bs.IGMPVersion = 2 // kernels before 5.10 have no such file and speak v2
	}
	return bs
}

func (c snoopingCheck) Run(ctx context.Context) Result {
	links, err := c.h.Net.Links(ctx)
	if err != nil {
		return Skipf("%v", err)
	}
	res := Result{Status: OK}
	var bad []string
	n := 0
	for _, b := range links {
		if b.Type != "bridge" {
			continue
		}
		n++
		bs := readBridge(c.h.FS, b.Name)
		if bs.err != nil {
			res.Evidence = append(res.Evidence, bs.err.Error())
			res.Status = worst(res.Status, Skip)
			continue
		}
		var ports []string
		for _, l := range links {
			if l.MasterIndex == b.Index {
				ports = append(ports, l.Name)
			}
		}
		res.Evidence = append(res.Evidence, fmt.Sprintf("bridge %s: multicast_snooping=%d multicast_querier=%d multicast_igmp_version=%d multicast_membership_interval=%s; ports: %s",
			b.Name, b2i(bs.Snooping), b2i(bs.Querier), bs.IGMPVersion, bs.Membership, joinAnd(ports)))
		if bs.Snooping && !bs.Querier {
			q, err := c.h.Net.BridgeQuerier(ctx, b.Index)
			switch {
			case err != nil:
				res.Evidence = append(res.Evidence, fmt.Sprintf("bridge %s: other querier unknown: %v", b.Name, err))
			case q.Present():
				port := "the bridge itself"
				if p, ok := linkByIndex(links, q.PortIndex); ok {
					port = "port " + p.Name
				}
				res.Evidence = append(res.Evidence, fmt.Sprintf("bridge %s hears querier %s on %s (other-querier timer %s)", b.Name, q.Addr, port, q.OtherTimer))
				continue
			default:
				res.Evidence = append(res.Evidence, fmt.Sprintf("bridge %s hears no other querier (netlink IFLA_BR_MCAST_QUERIER_STATE)", b.Name))
			}
			bad = append(bad, b.Name)
			res.Fix = append(res.Fix,
				fmt.Sprintf("ip link set %s type bridge mcast_querier 1", b.Name),
				fmt.Sprintf("or stop snooping: ip link set %s type bridge mcast_snooping 0", b.Name))
		}
	}
	heard := c.wire.Heard(ctx)
	var silent, queried []string
	if heard.Asked {
		if heard.Err != nil {
			res.Evidence = append(res.Evidence, "could not listen for queriers: "+heard.Err.Error())
		}
		for _, name := range heard.Ifaces {
			ws := heard.On(name)
			for _, w := range ws {
				res.Evidence = append(res.Evidence, w.String())
			}
			if w, ok := heard.IGMP(name); ok {
				queried = append(queried, fmt.Sprintf("%s (IGMPv%d) on %s", w.Addr, w.Version, name))
			} else if heard.Err == nil {
				silent = append(silent, name)
				if len(ws) == 0 {
					res.Evidence = append(res.Evidence, fmt.Sprintf("%s: no IGMP or MLD query heard in %s of listening", name, heard.For))
				}
			}
		}
	}
	switch {
	case n == 0 && len(silent) > 0 && heard.Conclusive():
		res.Status = Warn
		res.Summary = fmt.Sprintf("no IGMP querier heard on %s in %s: if a switch on the segment snoops IGMP, it expires memberships after about 260 s and stops forwarding the groups to their receivers", joinAnd(silent), heard.For)
		res.Fix = append(res.Fix, "enable an IGMP querier on the segment: the multicast router, the switch's IGMP snooping querier, or on a Linux bridge: ip link set BR type bridge mcast_querier 1")
	case n == 0 && len(silent) > 0 && heard.Err == nil:
		res.Summary = fmt.Sprintf("no Linux bridge on this host, and no IGMP query heard on %s in %s (a querier sends one every 125 s by default: listen longer than that to be sure)", joinAnd(silent), heard.For)
	case n == 0 && len(queried) > 0:
		res.Summary = fmt.Sprintf("no Linux bridge on this host; the segment has an IGMP querier: %s", joinAnd(queried))
	case n == 0:
		res.Summary = "no Linux bridge on this host (a bridge in another namespace or a hardware switch is not visible from here: --listen 130s hears their querier on the wire)"
	case len(bad) > 0:
		res.Status = Fail
		if len(bad) == 1 {
			res.Summary = fmt.Sprintf("bridge %s snoops IGMP/MLD but is not a querier and hears none: memberships expire after about 260 s and the bridge then stops forwarding the groups to their receivers", bad[0])
		} else {
			res.Summary = fmt.Sprintf("bridges %s snoop IGMP/MLD but are not queriers and hear none: memberships expire after about 260 s and the bridges then stop forwarding the groups to their receivers", joinAnd(bad))
		}
	case res.Status == Skip:
		res.Summary = "could not check: " + res.Evidence[0]
	default:
		res.Summary = fmt.Sprintf("%s: not snooping, a querier, or hearing one", plural(n, "bridge", "bridges"))
	}
	return res
}
