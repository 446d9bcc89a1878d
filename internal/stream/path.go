package stream

import (
	"net/netip"

	"github.com/mcasttools/mcast/internal/iface"
)

// Path says how a received datagram got to the interface it arrived on.
type Path int

const (
	// PathWire: sent by another host, it crossed the network.
	PathWire Path = iota
	// PathWireSelf: sent by this host from another interface, it left by
	// that interface and came back in through this one across the network.
	PathWireSelf
	// PathLoopback: a copy the kernel looped back inside this host
	// (IP_MULTICAST_LOOP); it says nothing about the network.
	PathLoopback
)

func (p Path) String() string {
	switch p {
	case PathWire:
		return "wire"
	case PathWireSelf:
		return "wire, from this host"
	case PathLoopback:
		return "loopback copy"
	}
	return "unknown"
}

// Classify decides the path of a datagram from src that arrived on the
// interface arrived. all is every interface of the host; acceptsOwn says
// whether arrived accepts wire copies whose source is a local address
// (accept_local and rp_filter): where it does not, such a datagram can only
// be a local copy.
func Classify(src netip.Addr, arrived iface.Interface, all []iface.Interface, acceptsOwn bool) Path {
	if arrived.Has(src) {
		return PathLoopback
	}
	if _, local := iface.Owner(all, src); local {
		if acceptsOwn {
			return PathWireSelf
		}
		return PathLoopback
	}
	return PathWire
}
