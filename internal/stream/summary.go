package stream

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/mcasttools/mcast/internal/firewall"
	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/origin"
)

// NIC counts what one interface received, by path.
type NIC struct {
	Name     string
	Index    int
	Addrs    []netip.Addr // the interface's own addresses
	Wire     int          // from other hosts
	WireSelf int          // from this host's other interfaces, across the network
	Loopback int          // copies looped back inside the host
	Sources  map[netip.Addr]int

	// What the receiver knows about the interface, to explain a silence.
	AcceptsOwn bool   // accept_local and rp_filter let this host's own wire copies in
	RejectWhy  string // when !AcceptsOwn: the setting that drops them
	RejectFix  string // when !AcceptsOwn: the command that lets them in
	StrictRP   bool   // the effective rp_filter is 1: a source routed by another interface is dropped, from any host
	// Firewall is the rule or policy of this host's firewall that drops
	// the stream arriving here, when ExplainFirewall found one.
	Firewall   *firewall.Block
	LocalPeers []string // other interfaces of this host on the same subnet

	// What was lost on the interface that its counts do not show.
	Drops     uint64   // datagrams the kernel dropped before recv read them (receive buffer full)
	LinkNotes []string // what happened to the interface during the receive, in order
	linkState string   // "" (up, as when listening began), "down" or "deleted"
}

// DescribeNIC gathers what the summary needs to explain a silent interface:
// whether it accepts wire copies from this host's own addresses (its
// accept_local and rp_filter, read from fs), and which other interfaces of
// this host (all) share its subnet.
func DescribeNIC(fs hostfs.FS, ifc iface.Interface, all []iface.Interface) *NIC {
	n := &NIC{Name: ifc.Name, Index: ifc.Index, AcceptsOwn: true}
	for _, p := range ifc.Addrs {
		n.Addrs = append(n.Addrs, p.Addr())
	}
	if pf, err := fs.ReadPathFilter(ifc.Name); err == nil {
		n.AcceptsOwn, n.RejectWhy, n.RejectFix = pf.AcceptsOwnSource(ifc.Name)
		n.StrictRP = pf.RPFilter == 1
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

// shareSubnet reports whether two address lists hold IPv4 addresses of one subnet.
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

// Count records one datagram from src that took path p.
func (n *NIC) Count(src netip.Addr, p origin.Path) { n.CountN(src, p, 1) }

// CountN records k datagrams from src that took path p: a receive loop
// counts a run of one source at once, with one map update.
func (n *NIC) CountN(src netip.Addr, p origin.Path, k int) {
	switch p {
	case origin.Wire:
		n.Wire += k
	case origin.WireSelf:
		n.WireSelf += k
	case origin.Loopback:
		n.Loopback += k
	}
	if n.Sources == nil {
		n.Sources = map[netip.Addr]int{}
	}
	n.Sources[src] += k
}

// Total is every datagram the interface received.
func (n *NIC) Total() int { return n.Wire + n.WireSelf + n.Loopback }

// Crossed is what arrived through the network.
func (n *NIC) Crossed() int { return n.Wire + n.WireSelf }

// Explain says, in one sentence, what reached this interface and why
// the rest did not, as far as the receiver can tell.
func (n *NIC) Explain(localSenderSeen bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d received", n.Name, n.Total())
	var parts []string
	if n.Wire > 0 {
		parts = append(parts, fmt.Sprintf("%d from other hosts across the wire", n.Wire))
	}
	if n.WireSelf > 0 {
		parts = append(parts, fmt.Sprintf("%d from this host's other interfaces across the wire", n.WireSelf))
	}
	if n.Loopback > 0 {
		parts = append(parts, fmt.Sprintf("%d looped back inside this host (never crossed the wire)", n.Loopback))
	}
	if len(parts) > 0 {
		b.WriteString(": " + strings.Join(parts, ", "))
	}
	if n.Crossed() > 0 {
		return b.String()
	}
	switch {
	case n.sentFromHere():
		fmt.Fprintf(&b, "; the sender used this interface, and a frame never comes back to the port it left by, so %s sees only the kernel's loopback copies", n.Name)
	case n.Firewall != nil:
		may := "drops"
		if !n.Firewall.Sure {
			may = "may drop"
		}
		fmt.Fprintf(&b, "; nothing crossed the wire to %s: this host's firewall %s it (%s). Fix: %s", n.Name, may, n.Firewall.Evidence(), n.Firewall.Fix())
	case n.StrictRP && len(n.LocalPeers) > 0 && !localSenderSeen:
		// No sender on this host was seen: the sender is most likely on
		// another host, and strict rp_filter drops its datagrams whenever
		// the route back to it leaves by another interface, as the route
		// to a subnet two NICs share does by one of them.
		fix := hostfs.LooseRPFilterFix(n.Name)
		fmt.Fprintf(&b, "; nothing crossed the wire to %s: strict rp_filter on %s (it shares its subnet with %s) drops datagrams whose source is routed by another interface, from other hosts too. Fix: %s",
			n.Name, n.Name, strings.Join(n.LocalPeers, ", "), fix)
		if !n.AcceptsOwn && n.RejectFix != fix {
			fmt.Fprintf(&b, " (and for a sender on this host: %s)", n.RejectFix)
		}
	case !n.AcceptsOwn && (localSenderSeen || len(n.LocalPeers) > 0):
		fmt.Fprintf(&b, "; nothing crossed the wire to %s", n.Name)
		if len(n.LocalPeers) > 0 {
			fmt.Fprintf(&b, ". A sender on this host (%s) reaches it only across the wire, with one of this host's own addresses as source", strings.Join(n.LocalPeers, ", "))
		}
		fmt.Fprintf(&b, ": %s. Fix: %s", n.RejectWhy, n.RejectFix)
	default:
		fmt.Fprintf(&b, "; nothing crossed the wire to %s: no sender reached it (check the sender's interface and TTL; mcast doctor can help)", n.Name)
	}
	return b.String()
}

// ExplainFirewall asks this host's firewall rules (read by rules, only when
// some NIC got nothing across the wire) whether they drop UDP to one of the
// groups on port as it arrives on such a NIC, and records the first rule or
// policy that does, preferring one that surely does, for Explain. Rules
// that cannot be read explain nothing.
func ExplainFirewall(nics []*NIC, groups []netip.Addr, port uint16, rules func() ([]firewall.Chain, error)) {
	var chains []firewall.Chain
	read := false
	for _, n := range nics {
		if n.Crossed() > 0 || n.sentFromHere() {
			continue
		}
		if !read {
			read = true
			chains, _ = rules()
		}
		for _, g := range groups {
			fam := 4
			if g.Is6() {
				fam = 6
			}
			p := firewall.Packet{What: fmt.Sprintf("UDP to %s arriving on %s", netip.AddrPortFrom(g, port), n.Name),
				Dir: "input", Family: fam, Proto: 17, Dst: g, DPort: int(port), Dev: n.Name}
			for _, b := range firewall.Blocks(chains, p) {
				if n.Firewall == nil || (b.Sure && !n.Firewall.Sure) {
					n.Firewall = &b
				}
			}
		}
	}
}

// sentFromHere reports whether every datagram came from the interface's own address.
func (n *NIC) sentFromHere() bool {
	if len(n.Sources) == 0 {
		return false
	}
	for src := range n.Sources {
		if !slices.Contains(n.Addrs, src) {
			return false
		}
	}
	return true
}

// WriteSummary prints the per-interface summary that ends a receive.
func WriteSummary(w io.Writer, nics []*NIC) {
	localSeen := false
	for _, n := range nics {
		localSeen = localSeen || n.Loopback > 0
	}
	fmt.Fprintln(w, "summary:")
	for _, n := range nics {
		fmt.Fprintf(w, "  %s\n", n.Explain(localSeen))
		srcs := make([]netip.Addr, 0, len(n.Sources))
		for s := range n.Sources {
			srcs = append(srcs, s)
		}
		sort.Slice(srcs, func(i, j int) bool { return srcs[i].Less(srcs[j]) })
		for _, s := range srcs {
			fmt.Fprintf(w, "    from %s: %d\n", s, n.Sources[s])
		}
		for _, note := range n.Notes() {
			fmt.Fprintf(w, "    %s\n", note)
		}
	}
}
