// Package origin says where a received datagram came from: another host
// across the wire, this host across the wire (sent by one of its other
// interfaces), or the copy the kernel loops back inside this host.
//
// Classify is pure: it takes the host's interfaces and the interface's
// source filter as values, so tests pass made-up ones.
package origin

import (
	"net/netip"

	"github.com/mcasttools/mcast/internal/iface"
)

// Path says how a received datagram got to the interface it arrived on.
type Path int

const (
	// Wire: sent by another host, it crossed the network.
	Wire Path = iota
	// WireSelf: sent by this host from another interface, it left by that
	// interface and came back in through this one across the network.
	WireSelf
	// Loopback: a copy the kernel looped back inside this host
	// (IP_MULTICAST_LOOP); it says nothing about the network.
	Loopback
)

// String names the path as recv's lines and doctor's evidence print it.
func (p Path) String() string {
	switch p {
	case Wire:
		return "wire"
	case WireSelf:
		return "wire, from this host"
	case Loopback:
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
		return Loopback
	}
	if _, local := iface.Owner(all, src); local {
		if acceptsOwn {
			return WireSelf
		}
		return Loopback
	}
	return Wire
}
