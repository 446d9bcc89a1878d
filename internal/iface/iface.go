// Package iface resolves what a user typed for --iface (a name or one of the
// interface's addresses) against the host's interfaces.
//
// Resolve is pure: it takes the interface list as a value, so tests pass
// made-up interfaces. List reads the real ones.
package iface

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// ErrUnknown is wrapped by Resolve's error when no interface matches.
var ErrUnknown = errors.New("unknown interface")

// Interface is what the tool needs to know about a network interface.
type Interface struct {
	Name      string
	Index     int
	Up        bool
	Multicast bool
	Addrs     []netip.Prefix
}

// IPv4 returns the interface's first IPv4 address, if any.
func (i Interface) IPv4() (netip.Addr, bool) {
	for _, p := range i.Addrs {
		if p.Addr().Is4() {
			return p.Addr(), true
		}
	}
	return netip.Addr{}, false
}

// Has reports whether a is one of the interface's addresses.
func (i Interface) Has(a netip.Addr) bool {
	for _, p := range i.Addrs {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// Need says which address family a caller needs on the interface.
type Need int

// Families a caller can require.
const (
	NeedIPv4 Need = iota
	NeedIPv6
	NeedAny
)

// Resolve finds the interface named by text: an interface name, or one of
// its addresses. It fails when the interface is unknown, down, or lacks an
// address of the needed family.
func Resolve(all []Interface, text string, need Need) (Interface, error) {
	var found *Interface
	for i := range all {
		if all[i].Name == text {
			found = &all[i]
			break
		}
	}
	if found == nil {
		if a, err := netip.ParseAddr(text); err == nil {
			for i := range all {
				if all[i].Has(a.Unmap()) {
					found = &all[i]
					break
				}
			}
			if found == nil {
				return Interface{}, fmt.Errorf("%w %q: no interface has that address", ErrUnknown, text)
			}
		}
	}
	if found == nil {
		return Interface{}, fmt.Errorf("%w %q", ErrUnknown, text)
	}
	if !found.Up {
		return Interface{}, fmt.Errorf("interface %q is down", found.Name)
	}
	switch need {
	case NeedIPv4:
		if _, ok := found.IPv4(); !ok {
			return Interface{}, fmt.Errorf("interface %q has no IPv4 address", found.Name)
		}
	case NeedIPv6:
		ok := false
		for _, p := range found.Addrs {
			ok = ok || (p.Addr().Is6() && !p.Addr().Is4In6())
		}
		if !ok {
			return Interface{}, fmt.Errorf("interface %q has no IPv6 address", found.Name)
		}
	}
	return *found, nil
}

// Owner returns the interface that holds address a, if any.
func Owner(all []Interface, a netip.Addr) (Interface, bool) {
	for _, i := range all {
		if i.Has(a) {
			return i, true
		}
	}
	return Interface{}, false
}

// ByIndex returns the interface with the given index. When none has it (an
// interface that appeared after all was read), it returns a stand-in named
// "if<index>" and false, so a report still names where a datagram arrived.
func ByIndex(all []Interface, index int) (Interface, bool) {
	for _, i := range all {
		if i.Index == index {
			return i, true
		}
	}
	return Interface{Name: fmt.Sprintf("if%d", index), Index: index}, false
}

// List reads the host's interfaces and their addresses.
func List() ([]Interface, error) {
	nis, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	out := make([]Interface, 0, len(nis))
	for _, ni := range nis {
		it := Interface{
			Name:      ni.Name,
			Index:     ni.Index,
			Up:        ni.Flags&net.FlagUp != 0,
			Multicast: ni.Flags&net.FlagMulticast != 0,
		}
		addrs, err := ni.Addrs()
		if err != nil {
			return nil, fmt.Errorf("reading addresses of %s: %w", ni.Name, err)
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				ip, _ := netip.AddrFromSlice(ipn.IP)
				ones, _ := ipn.Mask.Size()
				it.Addrs = append(it.Addrs, netip.PrefixFrom(ip.Unmap(), ones))
			}
		}
		out = append(out, it)
	}
	return out, nil
}

// LocalGroup returns an error when a multicast group is configured as an
// address of one of the interfaces (`ip addr add 239.0.0.1 dev eth0
// autojoin`): the address's local route then sends datagrams for the group to
// lo with a multicast source, where they are dropped. It returns nil otherwise.
func LocalGroup(all []Interface, group netip.Addr) error {
	for _, i := range all {
		for _, p := range i.Addrs {
			if p.Addr() == group && group.IsMulticast() {
				return fmt.Errorf("%s is an address of this host (on %s, as `ip addr add ... autojoin` makes it): its local route sends datagrams for the group to lo, where they are dropped (they neither leave the host nor loop back). Fix: ip addr del %s dev %s; to receive the group, join it from the receiving socket (mcast recv %s --iface %s)",
					group, i.Name, p, i.Name, group, i.Name)
			}
		}
	}
	return nil
}
