package doctor

import (
	"context"
	"errors"
	"fmt"
)

// ttlCheck (9) warns when datagrams must cross a router but are sent with
// TTL 1 (mcast send's default): the first router drops them.
type ttlCheck struct {
	h *Host
	t Target
}

func (ttlCheck) Name() string { return "ttl" }

func (c ttlCheck) Run(ctx context.Context) Result {
	g := c.t.groupOrSample()
	ttl := c.t.TTL
	res := Result{Status: OK, Evidence: []string{fmt.Sprintf("sender TTL %d", ttl)}}
	if isLinkLocalGroup(g) {
		res.Summary = fmt.Sprintf("%s is link-local: routers never forward it, whatever the TTL", g)
		return res
	}
	r, err := c.h.Net.RouteGet(ctx, g, 0, netipZero)
	switch {
	case errors.Is(err, ErrUnreachable):
		return Skipf("no route for %s (see check route)", g)
	case err != nil:
		return Skipf("%v", err)
	}
	if r.Dev == "lo" || r.Type == "local" {
		return Skipf("%s is routed to lo (see check route)", g)
	}
	res.Evidence = append(res.Evidence, fmt.Sprintf("ip route get %s: %s", g, r))
	// A multicast datagram never goes to a gateway, but a route through one
	// says the receivers of the group are expected behind that router.
	gw := r.Gateway
	if routes, err := c.h.Net.Routes(ctx, familyOf(g)); err == nil {
		if cr := coveringRoute(routes, g); cr.Gateway.IsValid() {
			gw = cr.Gateway
			res.Evidence = append(res.Evidence, "matching route: "+cr.String())
		}
	}
	var notes []string
	if gw.IsValid() && ttl <= 1 {
		res.Status = Warn
		notes = append(notes, fmt.Sprintf("datagrams to %s leave toward router %s with TTL %d: the router drops them, so receivers behind it get nothing", g, gw, ttl))
		res.Fix = append(res.Fix, fmt.Sprintf("send with a TTL above the router count: mcast send --ttl 8 %s", g),
			fmt.Sprintf("and %s must route multicast (a PIM router, or smcroute/pimd on Linux); a cloud network never does (see check environment)", gw))
	}
	if src := c.t.Source; src.IsValid() {
		if _, local := func() (Link, bool) {
			links, err := c.h.Net.Links(ctx)
			if err != nil {
				return Link{}, false
			}
			return ownerOf(links, src)
		}(); !local {
			back, err := c.h.Net.RouteGet(ctx, src, 0, netipZero)
			if err == nil {
				res.Evidence = append(res.Evidence, fmt.Sprintf("ip route get %s: %s", src, back))
				if back.Gateway.IsValid() {
					res.Status = worst(res.Status, Warn)
					notes = append(notes, fmt.Sprintf("the sender %s is behind router %s: it must send with TTL 2 or more, and the router must route multicast", src, back.Gateway))
					res.Fix = append(res.Fix, fmt.Sprintf("on %s: mcast send --ttl 8 ...", src))
				}
			}
		}
	}
	switch {
	case len(notes) == 0 && gw.IsValid():
		res.Summary = fmt.Sprintf("%s leaves by %s toward router %s with TTL %d: receivers up to %d routers away get it, if %s routes multicast", g, r.Dev, gw, ttl, ttl-1, gw)
	case len(notes) == 0:
		res.Summary = fmt.Sprintf("%s leaves by %s with no router in between: TTL %d reaches that LAN (receivers behind a router need a higher TTL)", g, r.Dev, ttl)
	default:
		res.Summary = joinAnd(notes)
	}
	return res
}
