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
	return lt == pcap.LinkEthernet || lt == pcap.LinkRaw || lt == pcap.LinkLinuxSLL
}

// DecodeFrame decodes a frame by its link type.
func DecodeFrame(f Frame) (Packet, error) {
	switch f.LinkType {
	case pcap.LinkEthernet:
		return DecodeEthernet(f.Data)
	case pcap.LinkRaw:
		return DecodeIP(f.Data)
	case pcap.LinkLinuxSLL:
		return DecodeLinuxSLL(f.Data)
	}
	return Packet{}, fmt.Errorf("link type %d: %w", f.LinkType, ErrLinkType)
}

// sllOutgoing is the Linux cooked header's packet type for a packet this
// host sent (PACKET_OUTGOING).
const sllOutgoing = 4

// Outgoing reports whether the frame is one this host sent: only a Linux
// cooked (SLL) frame says.
func (f Frame) Outgoing() bool {
	return f.LinkType == pcap.LinkLinuxSLL && len(f.Data) >= 2 && binary.BigEndian.Uint16(f.Data) == sllOutgoing
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
