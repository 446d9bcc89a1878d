// Package sock opens and drives the sockets the tool uses, on top of
// golang.org/x/net ipv4/ipv6 and golang.org/x/sys/unix:
//   - a Listener joined to groups on one interface (any-source, SSM include
//     or exclude, or broadcast) that reports where each datagram really
//     arrived and reads in batches (recvmmsg, UDP_GRO), and a Sender pinned
//     to an interface with a TTL and a loopback setting that writes in
//     batches (UDP_SEGMENT, else sendmmsg);
//   - a UDPConn, a blocking UDP socket read and written in batches (the
//     relay's underlay);
//   - a PacketConn, an AF_PACKET capture with a kernel-side filter, read one
//     packet at a time through Go's poller or, blocking, in batches with the
//     virtio-net header that tells a segmented send's segment size;
//   - an IPConn, a raw IP or UDP socket bound to one interface that joins
//     groups, captures, and emits whole packets or marked datagrams;
//   - the control messages they share (UDP_SEGMENT, UDP_GRO, TTL).
package sock

import (
	"net/netip"
	"time"
)

// Datagram is one received datagram with what the kernel said about it.
type Datagram struct {
	Payload []byte
	Src     netip.AddrPort // sender's address and port
	Dst     netip.Addr     // destination (the group, or a broadcast address)
	IfIndex int            // interface it arrived on (IP_PKTINFO)
	TTL     int            // TTL or hop limit seen, -1 when unknown
	At      time.Time      // when the kernel received it (SO_TIMESTAMPNS), else when it was read
}

// SendOptions configure a Sender.
type SendOptions struct {
	IfIndex   int        // outgoing interface; 0 lets the routing table choose
	Source    netip.Addr // local address to bind; zero for any
	TTL       int        // multicast TTL / hop limit (and unicast TTL for broadcast)
	NoLoop    bool       // disable IP_MULTICAST_LOOP
	Broadcast bool       // allow sending to a broadcast address (SO_BROADCAST)
	SndBuf    int        // send buffer in bytes (SO_SNDBUFFORCE as root); 0 leaves the default
	NoGSO     bool       // never use UDP_SEGMENT: batches go out with sendmmsg
	// SourcePort is the local port to bind (mDNS answers must come from
	// 5353), shared (SO_REUSEADDR) with a Listener on that port; 0 for an
	// ephemeral one.
	SourcePort uint16
}

// ListenConfig says what a Listener receives.
type ListenConfig struct {
	Groups  []netip.Addr // groups to join, all of one family; none with Broadcast
	Port    uint16
	IfIndex int          // interface to join on (and, for broadcast, to bind to)
	Include []netip.Addr // SSM: receive only from these sources
	Exclude []netip.Addr // receive from every source but these
	// Broadcast receives broadcast datagrams on Port instead of joining groups.
	Broadcast bool
	// RcvBuf is the receive buffer in bytes (SO_RCVBUFFORCE as root, else
	// SO_RCVBUF, which rmem_max caps); 0 leaves the default.
	RcvBuf int
	// GRO asks the kernel to coalesce datagrams of one flow (UDP_GRO); the
	// Listener splits them again.
	GRO bool
}

// MaxSegments is the most datagrams one UDP_SEGMENT send carries.
const MaxSegments = 64
