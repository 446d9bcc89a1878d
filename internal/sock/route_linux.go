package sock

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"
)

// RouteSource returns the source address the routing table picks for
// datagrams to group, without sending anything (a UDP connect only looks the
// route up).
func RouteSource(group netip.Addr) (netip.Addr, error) {
	network := "udp4"
	if group.Is6() {
		network = "udp6"
	}
	c, err := net.DialUDP(network, nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(group, 9)))
	if err != nil {
		if errors.Is(err, syscall.ENETUNREACH) {
			return netip.Addr{}, fmt.Errorf("no route to %s: add one for 224.0.0.0/4 (ff00::/8) or choose --iface", group)
		}
		return netip.Addr{}, fmt.Errorf("looking up the route to %s: %w", group, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap(), nil
}

// RouteSourceVia returns the source address the kernel picks for datagrams
// to group sent out of the interface with index ifindex (0: the one the
// routing table picks), without sending anything: a UDP socket with that
// multicast interface connects, which only looks the route up.
func RouteSourceVia(group netip.Addr, ifindex int) (netip.Addr, error) {
	fd, err := connectProbe(group, ifindex)
	if err != nil {
		return netip.Addr{}, err
	}
	defer unix.Close(fd)
	local, err := unix.Getsockname(fd)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("looking up the source for %s: %w", group, err)
	}
	switch a := local.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr), nil
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr).Unmap(), nil
	}
	return netip.Addr{}, fmt.Errorf("looking up the source for %s: unexpected local address %T", group, local)
}

// PathMTU returns the MTU of the route datagrams to group take out of the
// interface with index ifindex (0: the one the routing table picks): the
// largest IP packet that leaves without being fragmented.
func PathMTU(group netip.Addr, ifindex int) (int, error) {
	fd, err := connectProbe(group, ifindex)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	level, opt := unix.IPPROTO_IP, unix.IP_MTU
	if group.Is6() {
		level, opt = unix.IPPROTO_IPV6, unix.IPV6_MTU
	}
	mtu, err := unix.GetsockoptInt(fd, level, opt)
	if err != nil {
		return 0, fmt.Errorf("reading the MTU of the route to %s: %w", group, err)
	}
	return mtu, nil
}

// connectProbe opens a UDP socket with ifindex as its multicast interface
// and connects it to group, which looks the route up and sends nothing.
func connectProbe(group netip.Addr, ifindex int) (int, error) {
	fam := unix.AF_INET
	if group.Is6() {
		fam = unix.AF_INET6
	}
	fd, err := unix.Socket(fam, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("looking up the route to %s: %w", group, err)
	}
	fail := func(err error) (int, error) { unix.Close(fd); return -1, err }
	var sa unix.Sockaddr
	if group.Is6() {
		if ifindex != 0 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex); err != nil {
				return fail(fmt.Errorf("looking up the route to %s on interface %d: %w", group, ifindex, err))
			}
		}
		sa6 := &unix.SockaddrInet6{Port: 9, Addr: group.As16()}
		if group.IsLinkLocalMulticast() || group.IsInterfaceLocalMulticast() {
			sa6.ZoneId = uint32(ifindex)
		}
		sa = sa6
	} else {
		if ifindex != 0 {
			if err := unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifindex)}); err != nil {
				return fail(fmt.Errorf("looking up the route to %s on interface %d: %w", group, ifindex, err))
			}
		}
		sa = &unix.SockaddrInet4{Port: 9, Addr: group.As4()}
	}
	if err := unix.Connect(fd, sa); err != nil {
		return fail(fmt.Errorf("looking up the route to %s: %w", group, err))
	}
	return fd, nil
}
