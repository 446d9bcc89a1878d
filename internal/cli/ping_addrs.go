package cli

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/addrarg"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/ping"
)

// resolveHost turns a host name or address into one address of the family
// fam ("ip4", "ip6" or "" for either, IPv4 first).
func resolveHost(ctx context.Context, host, fam string) (netip.Addr, error) {
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if a.Zone() != "" || a.IsMulticast() || a.IsUnspecified() {
			return netip.Addr{}, usagef("invalid host %q: want a unicast address or name", host)
		}
		if (fam == "ip4" && !a.Is4()) || (fam == "ip6" && a.Is4()) {
			return netip.Addr{}, usagef("host %q is not an %s address", host, map[string]string{"ip4": "IPv4", "ip6": "IPv6"}[fam])
		}
		return a, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	network := "ip"
	if fam != "" {
		network = fam
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, network, host)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return netip.Addr{}, usagef("resolving host %q: no such host", host)
		}
		return netip.Addr{}, fmt.Errorf("resolving host %q: %w", host, err)
	}
	for _, want4 := range []bool{true, false} {
		for _, a := range addrs {
			if a.Unmap().Is4() == want4 {
				return a.Unmap(), nil
			}
		}
	}
	return netip.Addr{}, usagef("resolving host %q: no address", host)
}

// routeSource is the local address the routing table picks toward dst.
func routeSource(dst netip.Addr, port uint16) (netip.Addr, error) {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, port)))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("finding a route to %s: %w", dst, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

func pickIface(all []iface.Interface, text string, local netip.Addr) (iface.Interface, error) {
	if text != "" {
		// An interface without an address of the family can neither send
		// the queries nor be where the answers' group is joined usefully.
		ifc, err := iface.Resolve(all, text, ifaceNeed(local.Is6()))
		if err != nil {
			return ifc, classifyIfaceErr(err)
		}
		return ifc, nil
	}
	ifc, ok := iface.Owner(all, local)
	if !ok {
		return ifc, fmt.Errorf("no interface holds %s: name one with --iface", local)
	}
	if !ifc.Up {
		return ifc, fmt.Errorf("interface %s (holding %s) is down", ifc.Name, local)
	}
	return ifc, nil
}

// pickGroupMode applies the defaults: omping's group for the family; SSM
// for a group in an SSM range, else ASM; in broadcast mode the broadcast
// address of the interface holding local.
func pickGroupMode(groupText, modeText string, v6 bool, local netip.Addr, all []iface.Interface) (netip.Addr, ping.Mode, error) {
	if modeText == "broadcast" {
		bc := netip.Addr{}
		if ifc, ok := iface.Owner(all, local); ok {
			for _, p := range ifc.Addrs {
				if p.Addr() == local && p.Bits() < 31 {
					a := p.Masked().Addr().As4()
					host := uint32(1)<<(32-p.Bits()) - 1
					v := binary.BigEndian.Uint32(a[:]) | host
					bc = netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, v)))
				}
			}
		}
		if groupText != "" {
			g, err := netip.ParseAddr(groupText)
			if err != nil || !g.Is4() {
				return g, 0, usagef("invalid --group %q for broadcast mode: want an IPv4 broadcast address", groupText)
			}
			if bc.IsValid() && g != bc && g != netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				return g, 0, usagef("invalid --group %s: the broadcast address of %s's subnet is %s", g, local, bc)
			}
			bc = g
		}
		if !bc.IsValid() {
			return bc, 0, fmt.Errorf("no broadcast address: %s has no IPv4 subnet of /30 or wider", orAnyAddr(local))
		}
		return bc, ping.ModeBroadcast, nil
	}
	text := groupText
	if text == "" {
		text = pingGroup4
		if v6 {
			text = pingGroup6
		}
	}
	g, err := addrarg.ParseGroup(text)
	if err != nil {
		return g, 0, usagef("%v", err)
	}
	if g.Is6() != v6 {
		return g, 0, usagef("invalid --group %s: the hosts are %s", g, map[bool]string{true: "IPv6", false: "IPv4"}[v6])
	}
	if modeText == "" {
		if isSSM(g) {
			return g, ping.ModeSSM, nil
		}
		return g, ping.ModeASM, nil
	}
	mode, err := ping.ParseMode(modeText)
	if err != nil {
		return g, 0, usagef("%v", err)
	}
	return g, mode, nil
}

func isSSM(g netip.Addr) bool {
	if g.Is4() {
		return g.As4()[0] == 232
	}
	b := g.As16()
	return b[0] == 0xff && b[1]&0xf0 == 0x30 && b[2] == 0 && b[3] == 0
}

func localAddrs(all []iface.Interface) string {
	var out []string
	for _, ifc := range all {
		for _, p := range ifc.Addrs {
			if p.Addr().IsLinkLocalUnicast() {
				continue
			}
			out = append(out, fmt.Sprintf("%s on %s", p.Addr(), ifc.Name))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
