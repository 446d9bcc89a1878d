package sock

import "encoding/binary"

// VNetHdrLen is sizeof(struct virtio_net_hdr), the header a packet socket
// with PACKET_VNET_HDR puts before each packet.
const VNetHdrLen = 10

// VNetSegment reads the virtio-net header at the start of b: the segment
// size of a UDP packet not yet segmented (UDP_SEGMENT), 0 for a plain
// packet; ok is false when b is too short or the packet is another kind of
// segmented packet.
func VNetSegment(b []byte) (seg int, ok bool) {
	if len(b) < VNetHdrLen {
		return 0, false
	}
	// gso_type (with the ECN bit) is byte 1; gso_size, in host byte order
	// for a packet socket, bytes 4 and 5.
	const gsoNone, gsoUDPL4, gsoECN = 0, 5, 0x80
	switch b[1] &^ gsoECN {
	case gsoNone:
		return 0, true
	case gsoUDPL4:
		return int(binary.NativeEndian.Uint16(b[4:6])), true
	}
	return 0, false
}

// htons converts a 16-bit value between host and network byte order.
func htons(v uint16) uint16 { return v<<8 | v>>8 }
