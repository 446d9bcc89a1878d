package tunnel

import (
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
)

// Netlink constants, spelled out so that this file builds on every GOOS.
const (
	afBridge     = 7                  // AF_BRIDGE
	nudPermanent = 0x80               // NUD_PERMANENT
	ntfSelf      = 0x02               // NTF_SELF
	scopeLink    = netlink.Scope(253) // RT_SCOPE_LINK
)

// LinkRequest is the link netlink is asked to create for l (RTM_NEWLINK):
// the same device as l's `ip link add` command, in the device group
// OwnerGroup. The kernel ignores the alias when it creates a device: Up sets
// it with a second request. Master is set separately, once the bridge exists.
func LinkRequest(l Link) netlink.Link {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = l.Name
	attrs.MTU = l.MTU
	attrs.Alias = l.Alias
	attrs.Group = OwnerGroup
	switch l.Kind {
	case KindBridge:
		snoop := l.Snooping
		return &netlink.Bridge{LinkAttrs: attrs, MulticastSnooping: &snoop}
	case KindVXLAN:
		v := &netlink.Vxlan{LinkAttrs: attrs, VxlanId: l.VNI, SrcAddr: ip(l.Local), TTL: l.TTL,
			Port: l.Port, Learning: true}
		if l.Remote.IsValid() {
			v.Group = ip(l.Remote)
		}
		return v
	case KindGretap:
		return &netlink.Gretap{LinkAttrs: attrs, Local: ip(l.Local), Remote: ip(l.Remote),
			Ttl: uint8(l.TTL), PMtuDisc: 1}
	}
	return nil
}

// AddrRequest is the address netlink is asked to add for a (RTM_NEWADDR).
func AddrRequest(a Addr) *netlink.Addr {
	return &netlink.Addr{
		IPNet:     prefixNet(a.Prefix),
		Broadcast: ip(a.Broadcast),
	}
}

// FDBRequest is the forwarding entry netlink is asked to append for f
// (RTM_NEWNEIGH with NLM_F_APPEND, family AF_BRIDGE) on the device with
// index dev.
func FDBRequest(f FDB, dev int) *netlink.Neigh {
	return &netlink.Neigh{
		LinkIndex:    dev,
		Family:       afBridge,
		State:        nudPermanent,
		Flags:        ntfSelf,
		IP:           ip(f.Dst),
		HardwareAddr: net.HardwareAddr{0, 0, 0, 0, 0, 0},
	}
}

// RouteRequest is the route netlink is asked to add for r (RTM_NEWROUTE)
// through the device with index dev.
func RouteRequest(r Route, dev int) *netlink.Route {
	return &netlink.Route{LinkIndex: dev, Dst: prefixNet(r.Dst), Scope: scopeLink}
}

func ip(a netip.Addr) net.IP {
	if !a.IsValid() {
		return nil
	}
	return net.IP(a.AsSlice())
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: ip(p.Addr()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func netipPrefix(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}
