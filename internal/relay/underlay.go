package relay

import (
	"net"
	"net/netip"
)

// underlayMTU finds the interface that holds addr (the underlay's listen
// address) and its MTU; mtu is 0 when none does (a wildcard address).
// Frames cross that interface: over WireGuard, its MTU is below Ethernet's.
func underlayMTU(addr netip.Addr) (name string, mtu int) {
	ifs, err := net.Interfaces()
	if err != nil || !addr.IsValid() || addr.IsUnspecified() {
		return "", 0
	}
	for _, ifi := range ifs {
		addrs, err := ifi.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if pa, ok := netip.AddrFromSlice(ipn.IP); ok && pa.Unmap() == addr.Unmap().WithZone("") {
					return ifi.Name, ifi.MTU
				}
			}
		}
	}
	return "", 0
}
