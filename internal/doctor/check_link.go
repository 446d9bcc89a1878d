package doctor

import (
	"context"
	"fmt"
	"strings"
)

// linkCheck (3) looks at the interface multicast would use: down, no
// carrier, no MULTICAST flag (tun and WireGuard-style devices), or no
// address of the family.
type linkCheck struct {
	h *Host
	t Target
}

func (linkCheck) Name() string { return "link" }

func (c linkCheck) Run(ctx context.Context) Result {
	links, err := c.h.Net.Links(ctx)
	if err != nil {
		return Skipf("%v", err)
	}
	fam := c.t.family()
	var check []Link
	switch {
	case c.t.Iface != "":
		l, err := resolveIface(links, c.t.Iface)
		if err != nil {
			return Skipf("%v", err)
		}
		check = []Link{l}
	default:
		if r, err := c.h.Net.RouteGet(ctx, c.t.groupOrSample(), 0, netipZero); err == nil && r.Dev != "" && r.Dev != "lo" {
			if l, ok := linkByName(links, r.Dev); ok {
				check = []Link{l}
			}
		}
		if check == nil {
			for _, l := range links {
				if !l.Loopback {
					check = append(check, l)
				}
			}
		}
	}
	if len(check) == 0 {
		return Result{Status: Fail, Summary: "no interface but lo", Fix: []string{"ip link set IFACE up"}}
	}
	res := Result{Status: OK}
	var good, bad []string
	for _, l := range check {
		res.Evidence = append(res.Evidence, describeLink(l))
		probs, fixes := linkProblems(l, fam)
		if len(probs) == 0 {
			good = append(good, l.Name)
			continue
		}
		bad = append(bad, l.Name+" "+strings.Join(probs, ", "))
		res.Fix = append(res.Fix, fixes...)
	}
	switch {
	case len(bad) == 0:
		res.Summary = fmt.Sprintf("%s up, with carrier, MULTICAST and an IPv%d address", joinAnd(good), fam)
	case len(good) == 0 || len(check) == 1:
		res.Status = Fail
		res.Summary = joinAnd(bad)
	default:
		res.Status = Warn
		res.Summary = joinAnd(bad) + fmt.Sprintf(" (%s usable)", joinAnd(good))
	}
	return res
}

func describeLink(l Link) string {
	var as []string
	for _, a := range l.Addrs {
		as = append(as, a.Prefix.String())
	}
	addrs := "no addresses"
	if len(as) > 0 {
		addrs = strings.Join(as, " ")
	}
	return fmt.Sprintf("ip link: %s %s type %s; %s", l.Name, l.Flags(), l.Type, addrs)
}

// linkProblems lists what keeps l from carrying multicast of the family.
func linkProblems(l Link, fam int) (probs, fixes []string) {
	if !l.Up {
		probs = append(probs, "is down")
		fixes = append(fixes, fmt.Sprintf("ip link set %s up", l.Name))
	} else if !l.LowerUp {
		probs = append(probs, "has no carrier (LOWER_UP missing: cable, peer or the veth's other end is down)")
		fixes = append(fixes, fmt.Sprintf("bring up the other end of %s (ip link show %s)", l.Name, l.Name))
	}
	if !l.Multicast {
		probs = append(probs, "lacks the MULTICAST flag (tun and WireGuard-style devices do)")
		fixes = append(fixes, fmt.Sprintf("ip link set %s multicast on   (if the driver allows; else carry multicast over a tunnel that has it: mcast tunnel)", l.Name))
	}
	if _, ok := l.First(fam); !ok {
		probs = append(probs, fmt.Sprintf("has no IPv%d address", fam))
		if fam == 4 {
			fixes = append(fixes, fmt.Sprintf("ip addr add ADDRESS/LEN dev %s", l.Name))
		} else {
			fixes = append(fixes, fmt.Sprintf("ip -6 addr add ADDRESS/LEN dev %s", l.Name))
		}
	}
	return probs, fixes
}
