package doctor

import (
	"context"
	"fmt"

	"github.com/mcasttools/mcast/internal/hostfs"
)

// rpFilterCheck (4) looks at the receive path of a multi-homed host: strict
// rp_filter drops datagrams whose source is routed by another interface, and
// without accept_local the wire copy of this host's own datagram, sent out
// one NIC and arriving on another, is dropped (two NICs of one host on one subnet).
type rpFilterCheck struct {
	h *Host
	t Target
}

func (rpFilterCheck) Name() string { return "rp-filter" }

func (c rpFilterCheck) Run(ctx context.Context) Result {
	links, err := c.h.Net.Links(ctx)
	if err != nil {
		return Skipf("%v", err)
	}
	if c.t.family() == 6 {
		return Result{Status: OK, Summary: "IPv6 has no rp_filter or accept_local; nothing to check for an IPv6 group"}
	}
	cands, err := candidates(links, c.t)
	if err != nil {
		return Skipf("%v", err)
	}
	var v4 []Link
	for _, l := range links {
		if l.Has4() && l.Up && !l.Loopback {
			v4 = append(v4, l)
		}
	}
	src := c.t.Source
	var srcOwner Link
	srcLocal := false
	if src.IsValid() {
		srcOwner, srcLocal = ownerOf(links, src)
	}
	res := Result{Status: OK}
	read := 0
	for _, r := range cands {
		if r.Loopback || !r.Has4() {
			continue
		}
		pf, err := c.h.FS.ReadPathFilter(r.Name)
		if err != nil {
			res.Evidence = append(res.Evidence, fmt.Sprintf("could not read %s's settings: %v", r.Name, err))
			continue
		}
		read++
		res.Evidence = append(res.Evidence, fmt.Sprintf("%s: rp_filter %d (max of conf.all and conf.%s), accept_local %d", r.Name, pf.RPFilter, r.Name, b2i(pf.AcceptLocal)))
		switch {
		case src.IsValid() && srcLocal:
			if srcOwner.Name == r.Name {
				continue // own datagrams on the same NIC: only the loopback copy, always
			}
			if ok, why, fix := pf.AcceptsOwnSource(r.Name); !ok {
				res.Status = worst(res.Status, Warn)
				res.Summary = fmt.Sprintf("datagrams this host sends from %s (%s) reach %s only as the loopback copy: the wire copy is dropped", src, srcOwner.Name, r.Name)
				res.Evidence = append(res.Evidence, why)
				res.Fix = append(res.Fix, fix)
			}
		case src.IsValid():
			back, err := c.h.Net.RouteGet(ctx, src, 0, netipZero)
			if err != nil {
				res.Evidence = append(res.Evidence, fmt.Sprintf("ip route get %s: %v", src, err))
				if pf.RPFilter == 1 {
					res.Status = worst(res.Status, Fail)
					res.Summary = fmt.Sprintf("strict rp_filter on %s drops datagrams from %s: there is no route back to it", r.Name, src)
					res.Fix = append(res.Fix, hostfs.LooseRPFilterFix(r.Name))
				}
				continue
			}
			res.Evidence = append(res.Evidence, fmt.Sprintf("ip route get %s: %s", src, back))
			if pf.RPFilter == 1 && back.Dev != r.Name {
				res.Status = worst(res.Status, Fail)
				res.Summary = fmt.Sprintf("strict rp_filter on %s drops datagrams from %s: the route back to %s leaves by %s", r.Name, src, src, back.Dev)
				res.Fix = append(res.Fix,
					hostfs.LooseRPFilterFix(r.Name),
					fmt.Sprintf("or route %s by %s: ip route add %s dev %s", src, r.Name, src, r.Name))
			}
		case len(v4) > 1:
			if pf.RPFilter == 1 {
				res.Status = worst(res.Status, Warn)
				res.Summary = fmt.Sprintf("strict rp_filter on multi-homed %s: datagrams arriving there from a source routed by another interface are dropped", r.Name)
				res.Fix = append(res.Fix, hostfs.LooseRPFilterFix(r.Name))
			}
			if o, ok := sharesSubnet(v4, r); ok && !pf.AcceptLocal {
				res.Status = worst(res.Status, Warn)
				if res.Summary == "" {
					res.Summary = fmt.Sprintf("%s shares a subnet with %s: what this host sends by %s reaches %s only as the loopback copy (accept_local=0 drops the wire copy)", r.Name, o.Name, o.Name, r.Name)
				}
				res.Fix = append(res.Fix, fmt.Sprintf("sysctl -w net.ipv4.conf.%s.accept_local=1", r.Name))
			}
		}
	}
	if read == 0 && len(res.Evidence) > 0 {
		return Result{Status: Skip, Summary: "could not check: " + res.Evidence[0]}
	}
	if res.Status == OK {
		switch {
		case src.IsValid():
			res.Summary = fmt.Sprintf("datagrams from %s pass the receive-path filters", src)
		case len(v4) <= 1:
			res.Summary = "single-homed: rp_filter and accept_local cannot drop multicast here"
		default:
			res.Summary = "multi-homed, and rp_filter and accept_local let datagrams through"
		}
	}
	return res
}

// sharesSubnet finds another link with an IPv4 address in r's subnet.
func sharesSubnet(v4 []Link, r Link) (Link, bool) {
	ra, _ := r.First(4)
	for _, o := range v4 {
		if o.Name == r.Name {
			continue
		}
		for _, a := range o.Addrs {
			if a.Prefix.Addr().Is4() && ra.Prefix.Masked().Contains(a.Prefix.Addr()) {
				return o, true
			}
		}
	}
	return Link{}, false
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
