// Package sock opens the multicast sockets the tool uses, on top of
// golang.org/x/net/ipv4: a Listener joined to one group on one interface that
// reports where each datagram really arrived, and a Sender pinned to an
// interface with a TTL and a loopback setting.
package sock

import (
	"net/netip"
	"time"
)

// Datagram is one received datagram with what the kernel said about it.
type Datagram struct {
	Payload []byte
	Src     netip.AddrPort // sender's address and port
	Dst     netip.Addr     // destination (the group)
	IfIndex int            // interface it arrived on (IP_PKTINFO)
	TTL     int            // TTL or hop limit seen, -1 when unknown
	At      time.Time      // when it was read
}

// SendOptions configure a Sender.
type SendOptions struct {
	IfIndex int        // outgoing interface; 0 lets the routing table choose
	Source  netip.Addr // local address to bind; zero for any
	TTL     int        // multicast TTL / hop limit
	NoLoop  bool       // disable IP_MULTICAST_LOOP
}
