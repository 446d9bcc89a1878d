package tunnel

import (
	"fmt"
	"net"
)

// LocalHost reads this host's interfaces, their MTU and addresses.
func LocalHost() (Host, error) {
	nis, err := net.Interfaces()
	if err != nil {
		return Host{}, fmt.Errorf("listing interfaces: %w", err)
	}
	var h Host
	for _, ni := range nis {
		hi := HostInterface{Name: ni.Name, MTU: ni.MTU}
		addrs, err := ni.Addrs()
		if err != nil {
			return Host{}, fmt.Errorf("reading addresses of %s: %w", ni.Name, err)
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if p, ok := netipPrefix(ipn); ok {
					hi.Prefixes = append(hi.Prefixes, p)
				}
			}
		}
		h.Interfaces = append(h.Interfaces, hi)
	}
	return h, nil
}
