package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/addrarg"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/origin"
)

// ProbeSpec says what the active probe sends and where it listens.
type ProbeSpec struct {
	Group     netip.Addr
	Port      uint16
	SendIf    int        // interface index to send by
	Source    netip.Addr // local address to send from
	ListenIfs []int      // interfaces to join the group on and listen
	Count     int        // datagrams to send
	Wait      time.Duration
	Nonce     string // marks this probe's datagrams
}

// ProbeHit is one probe datagram that came back.
type ProbeHit struct {
	IfIndex int // interface it arrived on
	Src     netip.Addr
	Seq     int
}

// ProbeOutcome is what the probe saw.
type ProbeOutcome struct {
	Sent    int
	SendErr string // why sending stopped, "" when all were sent
	Hits    []ProbeHit
}

// probeCheck (11) joins the group, sends a few datagrams on the chosen
// interface and says whether they came back, and by which path: the
// kernel's loopback copy, or across the wire.
type probeCheck struct {
	h *Host
	t Target
}

func (probeCheck) Name() string { return "probe" }

// Active reports that the probe joins and sends, so it runs last.
func (probeCheck) Active() bool { return true }

func (c probeCheck) Run(ctx context.Context) Result {
	switch {
	case !c.t.HasGroup():
		// Not asked for: not a failure to look.
		return Result{Status: Skip, Summary: "not run: the probe joins a group and sends to it, so it needs --group G[:PORT] (and root)"}
	case !c.t.Group.Is4():
		return Skipf("the probe sends IPv4 groups only, not %s", c.t.Group)
	case !c.h.Root:
		return Skipf("the probe runs only as root (it joins %s and sends to it)", c.t.Group)
	case c.h.Probe == nil:
		return Skipf("no probe on this system")
	}
	links, err := c.h.Net.Links(ctx)
	if err != nil {
		return Skipf("%v", err)
	}
	var listen Link
	if c.t.Iface != "" {
		if listen, err = resolveIface(links, c.t.Iface); err != nil {
			return Skipf("%v", err)
		}
	} else if r, err := c.h.Net.RouteGet(ctx, c.t.Group, 0, netipZero); err == nil && r.Dev != "" && r.Dev != "lo" {
		listen, _ = linkByName(links, r.Dev)
	}
	if listen.Name == "" {
		cs, _ := candidates(links, Target{})
		if len(cs) == 0 {
			return Result{Status: Fail, Summary: "no interface to probe on: none is up with an IPv4 address"}
		}
		listen = cs[0]
	}
	send := listen
	var notes []string
	src, _ := listen.First(4)
	source := src.Prefix.Addr()
	if s := c.t.Source; s.IsValid() {
		if o, ok := ownerOf(links, s); ok {
			send, source = o, s
		} else {
			notes = append(notes, fmt.Sprintf("--source %s is not this host's: the probe sends from %s", s, source))
		}
	}
	port := c.t.Port
	if port == 0 {
		port = addrarg.DefaultPort
	}
	spec := ProbeSpec{Group: c.t.Group, Port: port, SendIf: send.Index, Source: source,
		ListenIfs: []int{listen.Index}, Count: 3, Wait: time.Second,
		Nonce: fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffff)}
	if send.Index != listen.Index {
		spec.ListenIfs = append(spec.ListenIfs, send.Index)
	}
	out, err := c.h.Probe(ctx, spec)
	if err != nil {
		return Skipf("%v", err)
	}
	return judgeProbe(c.h, links, spec, out, send, listen, notes)
}

// judgeProbe turns what came back into a result.
func judgeProbe(h *Host, links []Link, spec ProbeSpec, out ProbeOutcome, send, listen Link, notes []string) Result {
	var all []iface.Interface
	for _, l := range links {
		all = append(all, l.Interface())
	}
	res := Result{Evidence: []string{fmt.Sprintf("sent %d of %d datagrams to %s from %s on %s (TTL 1)",
		out.Sent, spec.Count, netip.AddrPortFrom(spec.Group, spec.Port), spec.Source, send.Name)}}
	if out.SendErr != "" {
		res.Evidence = append(res.Evidence, "send: "+out.SendErr)
	}
	type key struct {
		dev  string
		path origin.Path
	}
	counts := map[key]int{}
	var order []key
	wire := 0
	for _, hit := range out.Hits {
		l, _ := linkByIndex(links, hit.IfIndex)
		acc := false
		if pf, err := h.FS.ReadPathFilter(l.Name); err == nil {
			acc, _, _ = pf.AcceptsOwnSource(l.Name)
		}
		p := origin.Classify(hit.Src, l.Interface(), all, acc)
		k := key{l.Name, p}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
		if p != origin.Loopback {
			wire++
		}
	}
	var got []string
	for _, k := range order {
		got = append(got, fmt.Sprintf("%d on %s [%s]", counts[k], k.dev, k.path))
		res.Evidence = append(res.Evidence, fmt.Sprintf("came back: %d on %s [%s]", counts[k], k.dev, k.path))
	}
	arrivedOn := func(dev string) bool {
		for _, k := range order {
			if k.dev == dev {
				return true
			}
		}
		return false
	}
	switch {
	case out.Sent == 0:
		res.Status = Fail
		res.Summary = fmt.Sprintf("could not send to %s on %s: %s", spec.Group, send.Name, out.SendErr)
	case len(out.Hits) == 0:
		res.Status = Fail
		res.Summary = fmt.Sprintf("none of the %d datagrams to %s came back, not even as the loopback copy: they are dropped inside this host (see checks multicast-address, route and firewall)", out.Sent, spec.Group)
	case send.Index == listen.Index:
		res.Status = OK
		res.Summary = fmt.Sprintf("the datagrams came back (%s): the host's own send and receive path works; a NIC never hears its own datagrams from the wire, so this says nothing of the network", joinAnd(got))
	case wire > 0 && arrivedOn(listen.Name):
		res.Status = OK
		res.Summary = fmt.Sprintf("sent by %s, the datagrams came back across the wire on %s (%s)", send.Name, listen.Name, joinAnd(got))
	default:
		res.Status = Warn
		res.Summary = fmt.Sprintf("sent by %s, the datagrams came back only as loopback copies (%s); none crossed the wire to %s", send.Name, joinAnd(got), listen.Name)
		if pf, err := h.FS.ReadPathFilter(listen.Name); err == nil {
			if ok, why, fix := pf.AcceptsOwnSource(listen.Name); !ok {
				res.Evidence = append(res.Evidence, why)
				res.Fix = append(res.Fix, fix)
			}
		}
	}
	if len(notes) > 0 {
		res.Evidence = append(res.Evidence, strings.Join(notes, "; "))
	}
	return res
}
