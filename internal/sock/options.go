package sock

import "golang.org/x/net/bpf"

// PacketOptions say how OpenPacketWith opens a packet socket.
type PacketOptions struct {
	// Filter is attached before any packet is queued that it would refuse.
	Filter []bpf.RawInstruction
	// AllMulti asks the NIC for every multicast frame (PACKET_MR_ALLMULTI,
	// dropped when the socket closes); it needs an interface name.
	AllMulti bool
	// Offload makes the socket SOCK_RAW with PACKET_VNET_HDR, so that a
	// UDP segmentation-offload aggregate comes with its segment size (see
	// OpenPacketOffload). The filter sees the link header first: it must
	// load relative to the network header (NetOff).
	Offload bool
	// Batch, when above 0, makes a blocking socket read with ReadBatch, up
	// to Batch frames per system call (recvmmsg), waiting at most
	// ReadTimeout; Read is not for such a socket. It implies Offload, and
	// needs the virtio-net header. A deep receive queue (32 MiB where
	// CAP_NET_ADMIN allows, else 4 MiB) rides out the moments its reader
	// is not scheduled.
	Batch int
}

// RawOptions configure OpenRaw.
type RawOptions struct {
	// Filter is attached to the socket (a capture socket's filter).
	Filter []bpf.RawInstruction
	// Mark is the socket mark (SO_MARK, needs CAP_NET_ADMIN) of what the
	// socket sends; 0 sets none.
	Mark int
	// Broadcast allows sending to broadcast addresses (SO_BROADCAST).
	Broadcast bool
	// Emit chooses the interface for multicast sends and loops them back
	// to this host's other sockets.
	Emit bool
	// PacketInfo (IPv6) asks for each datagram's destination, interface
	// and hop limit as control messages (ipv6.ControlMessage), and its
	// flow label (FlowLabel).
	PacketInfo bool
}

// UDPOptions configure OpenUDP.
type UDPOptions struct {
	// GRO asks the kernel to coalesce datagrams of one flow (UDP_GRO);
	// Datagram reports the segment size of a coalesced read.
	GRO bool
}

// ReadTimeout is how long a blocking batch read (UDPConn.ReadBatch,
// PacketConn.ReadBatch) waits before it returns with nothing.
const ReadTimeout = 200 * 1000 // microseconds
