package relay

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/mcasttools/mcast/internal/wire/packet"

	"golang.org/x/net/bpf"
)

// AppendIPv4UDP appends an IPv4 header and UDP header followed by payload:
// the packet the relay re-emits through its raw socket, with the original
// identification id (0 lets the kernel choose). Checksums are computed here.
func AppendIPv4UDP(dst []byte, src, to netip.AddrPort, id uint16, ttl uint8, payload []byte) []byte {
	total := 20 + 8 + len(payload)
	s, d := src.Addr().As4(), to.Addr().As4()
	ip := len(dst)
	dst = append(dst, 0x45, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(total))
	dst = binary.BigEndian.AppendUint16(dst, id)
	dst = append(dst, 0, 0, ttl, 17, 0, 0) // flags+frag, ttl, proto, csum
	dst = append(dst, s[:]...)
	dst = append(dst, d[:]...)
	dst = appendUDP(dst, s[:], d[:], src.Port(), to.Port(), payload)
	// IPv4 header checksum (the kernel recomputes it; set for correctness
	// of the bytes on their own).
	binary.BigEndian.PutUint16(dst[ip+10:], packet.Finish(packet.Sum(0, dst[ip:ip+20])))
	return dst
}

// AppendIPv6UDP appends an IPv6 header and UDP header followed by payload:
// the packet the relay re-emits through its raw socket, its flow label the
// relay tag of its content (flowTag), by which relays that capture it know
// it for a copy.
func AppendIPv6UDP(dst []byte, src, to netip.AddrPort, hops uint8, payload []byte) []byte {
	s, d := src.Addr().As16(), to.Addr().As16()
	dst = binary.BigEndian.AppendUint32(dst, 6<<28|flowTag(src, to, payload))
	dst = binary.BigEndian.AppendUint16(dst, uint16(8+len(payload)))
	dst = append(dst, 17, hops)
	dst = append(dst, s[:]...)
	dst = append(dst, d[:]...)
	return appendUDP(dst, s[:], d[:], src.Port(), to.Port(), payload)
}

// appendUDP appends a UDP header from port sport to dport followed by
// payload, with the checksum over the pseudo-header of the IP addresses
// src and dst (4 or 16 bytes each).
func appendUDP(b, src, dst []byte, sport, dport uint16, payload []byte) []byte {
	udp := len(b)
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
	b = append(b, 0, 0)
	b = append(b, payload...)
	sum := packet.PseudoSum(src, dst, 17, 8+len(payload))
	c := packet.Finish(packet.Sum(sum, b[udp:]))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[udp+6:], c)
	return b
}

// errNotUDP is returned for captured packets that are not whole UDP datagrams.
var errNotUDP = errors.New("not a UDP datagram")

// ParseIPv4UDP reads a captured IPv4 packet (as a raw socket returns it):
// source, destination, identification, TTL and UDP payload.
func ParseIPv4UDP(b []byte) (src, dst netip.AddrPort, id uint16, ttl uint8, payload []byte, err error) {
	if len(b) < 20 || b[0]>>4 != 4 {
		return src, dst, 0, 0, nil, errNotUDP
	}
	hl := int(b[0]&0x0f) * 4
	if hl < 20 || len(b) < hl+8 || b[9] != 17 {
		return src, dst, 0, 0, nil, errNotUDP
	}
	if binary.BigEndian.Uint16(b[6:8])&0x3fff != 0 { // a fragment
		return src, dst, 0, 0, nil, errNotUDP
	}
	if packet.Finish(packet.Sum(0, b[:hl])) != 0 { // a packet socket sees it unchecked
		return src, dst, 0, 0, nil, errNotUDP
	}
	u := b[hl:]
	ulen := int(binary.BigEndian.Uint16(u[4:6]))
	if ulen < 8 || ulen > len(u) {
		return src, dst, 0, 0, nil, errNotUDP
	}
	src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), binary.BigEndian.Uint16(u[0:2]))
	dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[16:20])), binary.BigEndian.Uint16(u[2:4]))
	return src, dst, binary.BigEndian.Uint16(b[4:6]), b[8], u[8:ulen], nil
}

// ParseUDP reads a UDP header and payload (an IPv6 raw socket returns the
// datagram without the IP header).
func ParseUDP(b []byte) (sport, dport uint16, payload []byte, err error) {
	if len(b) < 8 {
		return 0, 0, nil, errNotUDP
	}
	ulen := int(binary.BigEndian.Uint16(b[4:6]))
	if ulen < 8 || ulen > len(b) {
		return 0, 0, nil, errNotUDP
	}
	return binary.BigEndian.Uint16(b[0:2]), binary.BigEndian.Uint16(b[2:4]), b[8:ulen], nil
}

// AppendIGMPQuery appends an IPv4 packet carrying an IGMPv3 general query
// from src to 224.0.0.1 (TTL 1, Router Alert), with the default timers:
// maximum response 10 s, robustness 2, query interval 125 s.
func AppendIGMPQuery(dst []byte, src netip.Addr) []byte {
	s := src.As4()
	start := len(dst)
	dst = append(dst, 0x46, 0xc0, 0, 36, 0, 0, 0, 0, 1, 2, 0, 0) // IHL 6, TOS 0xc0, total 36, TTL 1, IGMP
	dst = append(dst, s[:]...)
	dst = append(dst, 224, 0, 0, 1)
	dst = append(dst, 148, 4, 0, 0) // Router Alert
	binary.BigEndian.PutUint16(dst[start+10:], packet.Finish(packet.Sum(0, dst[start:start+24])))
	ig := len(dst)
	dst = append(dst, 0x11, byte(defaultQueryResponse/(100*time.Millisecond)), 0, 0, 0, 0, 0, 0,
		defaultRobustness, byte(defaultQueryInterval/time.Second), 0, 0)
	binary.BigEndian.PutUint16(dst[ig+2:], packet.Finish(packet.Sum(0, dst[ig:])))
	return dst
}

// AppendMLDQuery appends an IPv6 packet carrying an MLDv2 general query
// from src (a link-local address) to ff02::1 (hop limit 1, hop-by-hop
// Router Alert), with the same timers as AppendIGMPQuery.
func AppendMLDQuery(dst []byte, src netip.Addr) []byte {
	s := src.As16()
	d := netip.MustParseAddr("ff02::1").As16()
	const icmpLen = 28
	dst = append(dst, 0x60, 0, 0, 0, 0, 8+icmpLen, 0, 1) // payload length, next header hop-by-hop, hop limit 1
	dst = append(dst, s[:]...)
	dst = append(dst, d[:]...)
	dst = append(dst, 58, 0, 5, 2, 0, 0, 1, 0) // next ICMPv6, Router Alert (MLD), PadN
	ic := len(dst)
	mrc := uint16(defaultQueryResponse / time.Millisecond)
	dst = append(dst, 130, 0, 0, 0, byte(mrc>>8), byte(mrc), 0, 0)
	dst = append(dst, make([]byte, 16)...)
	dst = append(dst, defaultRobustness, byte(defaultQueryInterval/time.Second), 0, 0)
	sum := packet.Sum(0, s[:])
	sum = packet.Sum(sum, d[:])
	sum += icmpLen + 58
	binary.BigEndian.PutUint16(dst[ic+2:], packet.Finish(packet.Sum(sum, dst[ic:])))
	return dst
}

// CaptureFilter4 is the kernel-side filter of the IPv4 capture socket (a
// raw socket: the program sees the IP header first). It keeps packets to a
// multicast group, to 255.255.255.255 or to bcast (the subnet's broadcast
// address, when valid), so that unicast UDP, such as the relay's own
// underlay frames, never reaches the relay's capture loop.
func CaptureFilter4(bcast netip.Addr) []bpf.Instruction { return CaptureFilter4At(bcast, 0) }

// CaptureFilter4At is CaptureFilter4 for packets whose IPv4 header starts
// at offset off (after a link-layer header of off bytes).
func CaptureFilter4At(bcast netip.Addr, off uint32) []bpf.Instruction {
	b := uint32(0xffffffff)
	if bcast.Is4() {
		a := bcast.As4()
		b = binary.BigEndian.Uint32(a[:])
	}
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: off + 16, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xe0, SkipTrue: 4},
		bpf.LoadAbsolute{Off: off + 16, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xffffffff, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: b, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 0x40000},
	}
}

// EmitMark is the socket mark (SO_MARK) of the relay's re-emissions. The
// capture sockets' filters drop packets that carry it, so that the relay's
// own re-emissions, looped back to this host, never cost a copy to its
// capture sockets or a trip through its capture loop. The mark does not
// leave the host (it is cleared when a packet crosses into another network
// namespace or onto the wire); only policy routing or firewall rules that
// match this value could see it.
const EmitMark = 0x6d637374 // "mcst"

// SkipMarked prefixes filter with a check that drops packets whose socket
// mark is EmitMark.
func SkipMarked(filter []bpf.Instruction) []bpf.Instruction {
	out := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtMark},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: EmitMark, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
	}
	return append(out, filter...)
}

// OnlyIPv4 prefixes filter with a check that drops packets whose link-layer
// protocol is not IPv4 (for a packet socket bound to every protocol).
func OnlyIPv4(filter []bpf.Instruction) []bpf.Instruction { return onlyProto(etherIPv4, filter) }

// OnlyIPv6 is OnlyIPv4 for IPv6.
func OnlyIPv6(filter []bpf.Instruction) []bpf.Instruction { return onlyProto(etherIPv6, filter) }

func onlyProto(et uint32, filter []bpf.Instruction) []bpf.Instruction {
	out := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtProto},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: et, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
	}
	return append(out, filter...)
}

// EtherTypes of the network headers the captures read.
const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
)

// ipOffset finds the IPv4 header in frame, which starts with a link-layer
// header of linkLen bytes: 0, or 14 for Ethernet, whose EtherType may
// follow VLAN tags. ok is false when frame does not carry IPv4.
func ipOffset(frame []byte, linkLen int) (int, bool) { return netOffset(frame, linkLen, etherIPv4) }

// netOffset is ipOffset for the network header of EtherType et. Without a
// link header (linkLen 0) the capture's filter has checked the protocol.
func netOffset(frame []byte, linkLen int, et uint16) (int, bool) {
	if linkLen == 0 {
		return 0, true
	}
	off := linkLen - 2
	for tags := 0; off+2 <= len(frame); tags++ {
		switch binary.BigEndian.Uint16(frame[off:]) {
		case et:
			return off + 2, true
		case 0x8100, 0x88a8:
			if tags < 2 {
				off += 4
				continue
			}
		}
		return 0, false
	}
	return 0, false
}
