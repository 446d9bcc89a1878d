package cli

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stream"
	"github.com/mcasttools/mcast/internal/sys"
)

func runRecv(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("recv", "mcast recv [flags] GROUP[:PORT]   (GROUP defaults to MULTICAST_ADDR)")
	ifTexts := fs.StringArray("iface", nil, "interface to listen on, a name or one of its IPv4 addresses; repeat for several (default: every interface that is up)")
	portText := fs.String("port", "", "UDP port (default: MULTICAST_PORT, else 28000)")
	count := fs.Int("count", 0, "exit after this many datagrams (0: no limit)")
	timeout := fs.Duration("timeout", 0, "exit when nothing arrived for this long (0: never)")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	target, err := parseTarget(env, fs, *portText)
	if err != nil {
		return err
	}
	switch {
	case *count < 0:
		return usagef("invalid --count %d: must be 0 or more", *count)
	case *timeout < 0:
		return usagef("invalid --timeout %s: must not be negative", *timeout)
	}
	all, err := iface.List()
	if err != nil {
		return err
	}
	ifcs, err := pickIfaces(all, *ifTexts)
	if err != nil {
		return err
	}

	nics := map[int]*stream.NIC{}
	var order []*stream.NIC
	var srcs []stream.Source
	for _, ifc := range ifcs {
		l, err := sock.Listen(ctx, target.Group, target.Port, ifc.Index)
		if err != nil {
			return err
		}
		defer l.Close()
		srcs = append(srcs, l)
		n := describeNIC(ifc, all)
		nics[ifc.Index] = n
		order = append(order, n)
		fmt.Fprintf(env.Stdout, "use interface: %s\n", ifc.Name)
	}
	err = stream.Receive(ctx, srcs, stream.RecvConfig{Count: *count, Timeout: *timeout}, func(d sock.Datagram) {
		n, ok := nics[d.IfIndex]
		arrived, _ := ifaceByIndex(all, d.IfIndex)
		if !ok {
			n = describeNIC(arrived, all)
			nics[d.IfIndex] = n
			order = append(order, n)
		}
		path := stream.Classify(d.Src.Addr(), arrived, all, n.AcceptsOwn)
		n.Count(d.Src.Addr(), path)
		fmt.Fprintf(env.Stdout, "received: %s from %s on %s [%s]\n", stream.FormatPayload(d.Payload), d.Src, n.Name, path)
	})
	stream.WriteSummary(env.Stdout, order)
	return err
}

// pickIfaces resolves the --iface values, or picks every interface that is
// up, multicast-capable and has IPv4 when none was given.
func pickIfaces(all []iface.Interface, texts []string) ([]iface.Interface, error) {
	var out []iface.Interface
	seen := map[int]bool{}
	for _, t := range texts {
		ifc, err := iface.Resolve(all, t, iface.NeedIPv4)
		if err != nil {
			return nil, classifyIfaceErr(err)
		}
		if !seen[ifc.Index] {
			seen[ifc.Index] = true
			out = append(out, ifc)
		}
	}
	if len(texts) > 0 {
		return out, nil
	}
	for _, ifc := range all {
		if _, ok := ifc.IPv4(); ok && ifc.Up && ifc.Multicast && ifc.Name != "lo" {
			out = append(out, ifc)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no interface is up with multicast and IPv4; name one with --iface")
	}
	return out, nil
}

func ifaceByIndex(all []iface.Interface, index int) (iface.Interface, bool) {
	for _, i := range all {
		if i.Index == index {
			return i, true
		}
	}
	return iface.Interface{Name: fmt.Sprintf("if%d", index), Index: index}, false
}

// describeNIC gathers what the summary needs to explain a silent interface:
// whether it accepts wire copies from this host's own addresses, and which
// other interfaces of this host share its subnet.
func describeNIC(ifc iface.Interface, all []iface.Interface) *stream.NIC {
	n := &stream.NIC{Name: ifc.Name, AcceptsOwn: true}
	for _, p := range ifc.Addrs {
		n.Addrs = append(n.Addrs, p.Addr())
	}
	if pf, err := sys.Host.ReadPathFilter(ifc.Name); err == nil {
		n.AcceptsOwn, n.RejectWhy, n.RejectFix = pf.AcceptsOwnSource(ifc.Name)
	}
	for _, other := range all {
		if other.Index == ifc.Index {
			continue
		}
		if shareSubnet(ifc.Addrs, other.Addrs) {
			n.LocalPeers = append(n.LocalPeers, other.Name)
		}
	}
	return n
}

func shareSubnet(a, b []netip.Prefix) bool {
	for _, p := range a {
		for _, q := range b {
			if p.Addr().Is4() && q.Addr().Is4() && p.Masked() == q.Masked() {
				return true
			}
		}
	}
	return false
}
