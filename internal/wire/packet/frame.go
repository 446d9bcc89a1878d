package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Frame is one captured packet as a capture source (a live capture or a
// pcap file) hands it over.
type Frame struct {
	Time     time.Time
	Iface    string // interface name ("" when unknown, as in a file)
	LinkType uint32 // pcap link type of Data
	Data     []byte
	OrigLen  int
}

// ErrLinkType is wrapped when frames are of a link type the decoder does
// not read.
var ErrLinkType = errors.New("unsupported link type (want Ethernet, raw IP or Linux cooked)")

// KnownLink reports whether DecodeFrame reads frames of link type lt.
func KnownLink(lt uint32) bool {
	switch lt {
	case pcap.LinkEthernet, pcap.LinkRaw, pcap.LinkIPv4, pcap.LinkIPv6, pcap.LinkLinuxSLL, pcap.LinkLinuxSLL2:
		return true
	}
	return false
}

// DecodeFrame decodes a frame by its link type. When the capture cut the
// frame short (OrigLen beyond Data, as with tcpdump -s 60) but kept the
// headers, the packet is decoded with the wire's lengths and marked
// Truncated.
func DecodeFrame(f Frame) (Packet, error) {
	missing := max(f.OrigLen-len(f.Data), 0)
	switch f.LinkType {
	case pcap.LinkEthernet:
		return decodeEthernet(f.Data, missing)
	case pcap.LinkRaw:
		return decodeIP(f.Data, missing)
	case pcap.LinkIPv4:
		return decodeIPv4(f.Data, missing)
	case pcap.LinkIPv6:
		return decodeIPv6(f.Data, missing)
	case pcap.LinkLinuxSLL:
		return decodeLinuxSLL(f.Data, missing)
	case pcap.LinkLinuxSLL2:
		return decodeLinuxSLL2(f.Data, missing)
	}
	return Packet{}, fmt.Errorf("link type %d: %w", f.LinkType, ErrLinkType)
}

// sllOutgoing is the Linux cooked header's packet type for a packet this
// host sent (PACKET_OUTGOING).
const sllOutgoing = 4

// Outgoing reports whether the frame is one this host sent: only a Linux
// cooked (SLL or SLL2) frame says.
func (f Frame) Outgoing() bool {
	switch f.LinkType {
	case pcap.LinkLinuxSLL:
		return len(f.Data) >= 2 && binary.BigEndian.Uint16(f.Data) == sllOutgoing
	case pcap.LinkLinuxSLL2:
		return len(f.Data) >= 11 && f.Data[10] == sllOutgoing
	}
	return false
}

// SLLHeader is the part of a Linux cooked (SLL v1) header a packet socket
// reports: the packet type (PACKET_HOST, PACKET_OUTGOING, ...), the ARPHRD_*
// type of the interface and the sender's link address (up to 8 bytes).
type SLLHeader struct {
	Pkttype uint16
	Hatype  uint16
	Addr    []byte
}

// AppendLinuxSLL appends to dst a Linux cooked (SLL v1) record of the IP
// packet ip: h, then the ethertype of ip's version, then ip.
func AppendLinuxSLL(dst []byte, h SLLHeader, ip []byte) []byte {
	var hdr [sllHdrLen]byte
	binary.BigEndian.PutUint16(hdr[0:], h.Pkttype)
	binary.BigEndian.PutUint16(hdr[2:], h.Hatype)
	binary.BigEndian.PutUint16(hdr[4:], uint16(len(h.Addr)))
	copy(hdr[6:14], h.Addr)
	et := uint16(etherIPv4)
	if len(ip) > 0 && ip[0]>>4 == 6 {
		et = etherIPv6
	}
	binary.BigEndian.PutUint16(hdr[14:], et)
	dst = append(dst, hdr[:]...)
	return append(dst, ip...)
}
