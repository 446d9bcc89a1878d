package config

import "net/netip"

// The groups `group auto` leaves out, from the IANA registries.
var (
	// localNetworkControl is the IPv4 Local Network Control Block (RFC 5771
	// section 4): all systems, all routers, IGMPv3 reports, mDNS, LLMNR,
	// multicast router discovery and the rest; routers never forward it.
	localNetworkControl = netip.MustParsePrefix("224.0.0.0/24")
	// ssdp is SSDP's discovery group (UPnP), which every host running a UPnP
	// stack joins: carried across sites only when named.
	ssdp4 = netip.MustParseAddr("239.255.255.250")
	ssdp6 = netip.MustParseAddr("ff05::c") // its site-local IPv6 group; ff02::c is link-local
)

// AutoExcluded reports whether `group auto` leaves group g out because it
// is not meant to leave its link: IPv4 224.0.0.0/24 (the Local Network
// Control Block), IPv6 groups of scope 0 (reserved), 1 (interface-local,
// ff01::/16) and 2 (link-local, ff02::/16: all nodes ff02::1, all routers
// ff02::2, MLDv2 reports ff02::16, solicited-node ff02::1:ff00:0/104, mDNS
// ff02::fb, ...), with any flags (ff12::/16, ff32::/16 too), and SSDP's
// discovery groups 239.255.255.250 and ff05::c. A group or range the
// config names is carried all the same (Carries).
func AutoExcluded(g netip.Addr) bool {
	g = g.Unmap()
	if g.Is4() {
		return localNetworkControl.Contains(g) || g == ssdp4
	}
	b := g.As16()
	if b[0] != 0xff {
		return false
	}
	scope := b[1] & 0x0f
	return scope <= 2 || g == ssdp6
}

// control reports groups that belong to the local network's own protocols
// (all-hosts, all-routers, IGMPv3/MLDv2 reports, solicited-node): a config
// may not name them.
func control(g netip.Addr) bool {
	if g.Is4() {
		b := g.As4()
		return b[0] == 224 && b[1] == 0 && b[2] == 0 && (b[3] == 1 || b[3] == 2 || b[3] == 22)
	}
	b := g.As16()
	if b[0] == 0xff && b[1] == 0x02 {
		low := netip.AddrFrom16(b)
		switch low {
		case netip.MustParseAddr("ff02::1"), netip.MustParseAddr("ff02::2"), netip.MustParseAddr("ff02::16"):
			return true
		}
		return netip.MustParsePrefix("ff02::1:ff00:0/104").Contains(low)
	}
	return false
}
