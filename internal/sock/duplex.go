package sock

import "net/netip"

// DuplexConfig says how Open opens a Duplex: the one UDP socket of a
// request-and-answer exchange (mcast ping), which receives unicast and
// multicast on one port and sends to any peer or group from it.
type DuplexConfig struct {
	// Bind is the wildcard address of the family (it picks IPv4 or IPv6)
	// and the port; port 0 lets the kernel choose. The port is shared
	// (SO_REUSEADDR).
	Bind netip.AddrPort
	// IfIndex is the interface for joins and multicast sends; 0 lets the
	// routing table choose.
	IfIndex int
	// Joins are the groups to join on IfIndex. Only their datagrams arrive
	// (IP_MULTICAST_ALL off), not those of groups other sockets joined.
	Joins []DuplexJoin
	// TTL is the TTL (IPv4) or hop limit (IPv6) of unicast and multicast
	// sends.
	TTL int
	// Broadcast allows sending to a broadcast address (SO_BROADCAST; IPv4
	// only).
	Broadcast bool
}

// DuplexJoin is one group membership of a Duplex: Source zero means any
// source (ASM), else only Source's datagrams (SSM).
type DuplexJoin struct {
	Group, Source netip.Addr
}

// String is "(*, G)" or "(S, G)".
func (j DuplexJoin) String() string {
	if j.Source.IsValid() {
		return "(" + j.Source.String() + ", " + j.Group.String() + ")"
	}
	return "(*, " + j.Group.String() + ")"
}
