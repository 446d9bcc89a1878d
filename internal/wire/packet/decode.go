package packet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
)

// Packet is a decoded frame: its link and IP addresses, the IP header facts
// the tool reports, and the upper-layer payload with its protocol number.
type Packet struct {
	SrcMAC, DstMAC net.HardwareAddr // empty for raw IP
	Src, Dst       netip.Addr
	TTL            int  // IPv4 TTL or IPv6 hop limit
	RouterAlert    bool // IPv4 option or IPv6 hop-by-hop Router Alert present
	// Proto is the IP protocol (or IPv6 next header after the extension
	// headers) of the payload.
	Proto uint8
	// Fragment is set for a fragment after the first: it carries no
	// upper-layer header, and Payload is nil.
	Fragment bool
	// MoreFragments is set for the first fragment of a fragmented packet
	// (IPv4 MF flag, or an IPv6 fragment header with the M flag at offset
	// 0): Payload is only the start of the upper-layer message.
	MoreFragments bool
	// Truncated is set when the capture cut the packet short (its snap
	// length): the headers are whole but Payload holds only the captured
	// part of the upper-layer message; lengths (UDP.Len) are the wire's.
	Truncated bool
	// BadHeaderChecksum is set for an IPv4 packet whose header checksum
	// does not verify: the kernel drops such a packet before any socket
	// sees it.
	BadHeaderChecksum bool
	// Payload is the upper-layer message (IPv4 payload, or what follows the
	// IPv6 extension headers), cut to the IP length. It aliases the decoded
	// bytes.
	Payload []byte
	// UDP is set for UDP datagrams.
	UDP *UDP
}

// UDP is the header of a UDP datagram.
type UDP struct {
	SrcPort, DstPort uint16
	Len              int // payload bytes on the wire
}

// Errors wrapped by the decoders.
var (
	// ErrNotIP is wrapped when a frame carries neither IPv4 nor IPv6: not
	// an error in a capture, just nothing to decode.
	ErrNotIP = errors.New("not IPv4 or IPv6")
	// ErrTruncated is wrapped when a header is cut short or its lengths do
	// not fit the bytes.
	ErrTruncated = errors.New("truncated")
)

// IP protocol numbers (IPv6 next header values) of the payloads the tool
// decodes.
const (
	ProtoIGMP   = 2
	ProtoUDP    = 17
	ProtoICMPv6 = 58
)

// IPv6 extension headers the decoder walks.
const (
	protoHopByHop = 0
	protoRouting  = 43
	protoFragment = 44
	protoDestOpts = 60
)

// Ethertypes, and the header lengths of Ethernet II and Linux cooked (SLL
// v1) frames.
const (
	etherIPv4   = 0x0800
	etherIPv6   = 0x86dd
	etherVLAN   = 0x8100
	etherQinQ   = 0x88a8
	etherHdrLen = 14
	sllHdrLen   = 16
	sll2HdrLen  = 20
)

// DecodeEthernet decodes an Ethernet II frame, skipping up to two VLAN tags.
func DecodeEthernet(b []byte) (Packet, error) { return decodeEthernet(b, 0) }

// decodeEthernet is DecodeEthernet for a frame whose capture left out its
// last missing bytes.
func decodeEthernet(b []byte, missing int) (Packet, error) {
	if len(b) < etherHdrLen {
		return Packet{}, fmt.Errorf("ethernet frame of %d bytes: %w", len(b), ErrTruncated)
	}
	dst, src := net.HardwareAddr(b[0:6]), net.HardwareAddr(b[6:12])
	et := binary.BigEndian.Uint16(b[12:14])
	b = b[etherHdrLen:]
	for i := 0; i < 2 && (et == etherVLAN || et == etherQinQ); i++ {
		if len(b) < 4 {
			return Packet{}, fmt.Errorf("VLAN tag: %w", ErrTruncated)
		}
		et = binary.BigEndian.Uint16(b[2:4])
		b = b[4:]
	}
	if et != etherIPv4 && et != etherIPv6 {
		return Packet{}, fmt.Errorf("ethertype 0x%04x: %w", et, ErrNotIP)
	}
	p, err := decodeEther(et, b, missing)
	p.SrcMAC, p.DstMAC = src, dst
	return p, err
}

// decodeEther decodes the IP packet of an ethertype.
func decodeEther(et uint16, b []byte, missing int) (Packet, error) {
	switch et {
	case etherIPv4:
		return decodeIPv4(b, missing)
	case etherIPv6:
		return decodeIPv6(b, missing)
	}
	return Packet{}, fmt.Errorf("ethertype 0x%04x: %w", et, ErrNotIP)
}

// DecodeIP decodes a raw IPv4 or IPv6 packet by its version nibble.
func DecodeIP(b []byte) (Packet, error) { return decodeIP(b, 0) }

func decodeIP(b []byte, missing int) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, fmt.Errorf("empty IP packet: %w", ErrTruncated)
	}
	switch b[0] >> 4 {
	case 4:
		return decodeIPv4(b, missing)
	case 6:
		return decodeIPv6(b, missing)
	}
	return Packet{}, fmt.Errorf("IP version %d: %w", b[0]>>4, ErrNotIP)
}

// DecodeIPv4 decodes an IPv4 packet and, when it carries UDP, the UDP
// header. Fragments after the first are returned without payload.
func DecodeIPv4(b []byte) (Packet, error) { return decodeIPv4(b, 0) }

// decodeIPv4 is DecodeIPv4 for a packet whose capture left out its last
// missing bytes: the IP total length may exceed b by that much, and the
// packet is then Truncated.
func decodeIPv4(b []byte, missing int) (Packet, error) {
	if len(b) < 20 {
		return Packet{}, fmt.Errorf("IPv4 header of %d bytes: %w", len(b), ErrTruncated)
	}
	if b[0]>>4 != 4 {
		return Packet{}, fmt.Errorf("IPv4 header with version %d: %w", b[0]>>4, ErrNotIP)
	}
	ihl := int(b[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if ihl < 20 || total < ihl || len(b) < ihl || len(b)+missing < total {
		return Packet{}, fmt.Errorf("IPv4 header length %d, total length %d in %d bytes: %w", ihl, total, len(b), ErrTruncated)
	}
	p := Packet{
		Src:   netip.AddrFrom4([4]byte(b[12:16])),
		Dst:   netip.AddrFrom4([4]byte(b[16:20])),
		TTL:   int(b[8]),
		Proto: b[9],
	}
	for opts := b[20:ihl]; len(opts) > 0; {
		switch opts[0] {
		case 0: // end of options
			opts = nil
			continue
		case 1: // no-op
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
			return p, fmt.Errorf("IPv4 option %d: %w", opts[0], ErrTruncated)
		}
		if opts[0] == 148 {
			p.RouterAlert = true
		}
		opts = opts[opts[1]:]
	}
	p.BadHeaderChecksum = Checksum(b[:ihl], 0) != 0
	p.Truncated = len(b) < total
	frag := binary.BigEndian.Uint16(b[6:8])
	if frag&0x1fff != 0 {
		p.Fragment = true
		return p, nil // a later fragment: no transport header
	}
	p.MoreFragments = frag&0x2000 != 0
	if p.Truncated {
		p.Payload = b[ihl:]
	} else {
		p.Payload = b[ihl:total]
	}
	return p, p.decodeUDP(total - ihl)
}

// DecodeIPv6 decodes an IPv6 packet, walking its extension headers, and,
// when it carries UDP, the UDP header.
func DecodeIPv6(b []byte) (Packet, error) { return decodeIPv6(b, 0) }

// decodeIPv6 is DecodeIPv6 for a packet whose capture left out its last
// missing bytes (see decodeIPv4).
func decodeIPv6(b []byte, missing int) (Packet, error) {
	if len(b) < 40 {
		return Packet{}, fmt.Errorf("IPv6 header of %d bytes: %w", len(b), ErrTruncated)
	}
	if b[0]>>4 != 6 {
		return Packet{}, fmt.Errorf("IPv6 header with version %d: %w", b[0]>>4, ErrNotIP)
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	if len(b)+missing < 40+plen {
		return Packet{}, fmt.Errorf("IPv6 payload length %d in %d bytes: %w", plen, len(b)-40, ErrTruncated)
	}
	p := Packet{
		Src: netip.AddrFrom16([16]byte(b[8:24])),
		Dst: netip.AddrFrom16([16]byte(b[24:40])),
		TTL: int(b[7]),
	}
	next := b[6]
	var payload []byte
	if len(b) < 40+plen {
		p.Truncated = true
		payload = b[40:]
	} else {
		payload = b[40 : 40+plen]
	}
	wire := plen // the bytes of payload on the wire
	for {
		switch next {
		case protoHopByHop, protoRouting, protoDestOpts:
			if len(payload) < 8 {
				return p, fmt.Errorf("IPv6 extension header %d: %w", next, ErrTruncated)
			}
			n := (int(payload[1]) + 1) * 8
			if len(payload) < n {
				return p, fmt.Errorf("IPv6 extension header %d of %d bytes: %w", next, n, ErrTruncated)
			}
			if next == protoHopByHop && hasRouterAlert6(payload[2:n]) {
				p.RouterAlert = true
			}
			next, payload, wire = payload[0], payload[n:], wire-n
			continue
		case protoFragment:
			if len(payload) < 8 {
				return p, fmt.Errorf("IPv6 fragment header: %w", ErrTruncated)
			}
			off := binary.BigEndian.Uint16(payload[2:4])
			if off&0xfff8 != 0 {
				p.Proto = payload[0]
				p.Fragment = true
				return p, nil // a later fragment
			}
			p.MoreFragments = off&1 != 0
			next, payload, wire = payload[0], payload[8:], wire-8
			continue
		}
		break
	}
	p.Proto = next
	p.Payload = payload
	return p, p.decodeUDP(wire)
}

// decodeUDP decodes the UDP header of a UDP payload into p, or returns the
// error naming the sender; other protocols are left alone. wire is the
// payload's length on the wire, which a truncated capture holds less of.
func (p *Packet) decodeUDP(wire int) error {
	if p.Proto != ProtoUDP {
		return nil
	}
	u, err := parseUDP(p.Payload)
	if err != nil {
		return fmt.Errorf("from %s: %w", p.Src, err)
	}
	u.Len = wire - 8
	p.UDP = &u
	return nil
}

// hasRouterAlert6 reports whether IPv6 hop-by-hop options hold a Router
// Alert (option type 5).
func hasRouterAlert6(opts []byte) bool {
	for len(opts) > 0 {
		if opts[0] == 0 { // Pad1
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || len(opts) < 2+int(opts[1]) {
			return false
		}
		if opts[0] == 5 {
			return true
		}
		opts = opts[2+int(opts[1]):]
	}
	return false
}

func parseUDP(b []byte) (UDP, error) {
	if len(b) < 8 {
		return UDP{}, fmt.Errorf("UDP header of %d bytes: %w", len(b), ErrTruncated)
	}
	return UDP{
		SrcPort: binary.BigEndian.Uint16(b[0:2]),
		DstPort: binary.BigEndian.Uint16(b[2:4]),
		Len:     len(b) - 8,
	}, nil
}

// DecodeLinuxSLL decodes a Linux "cooked" (SLL v1) capture record: a 16-byte
// header whose last two bytes are the ethertype.
func DecodeLinuxSLL(b []byte) (Packet, error) { return decodeLinuxSLL(b, 0) }

func decodeLinuxSLL(b []byte, missing int) (Packet, error) {
	if len(b) < sllHdrLen {
		return Packet{}, fmt.Errorf("linux SLL header of %d bytes: %w", len(b), ErrTruncated)
	}
	return decodeEther(binary.BigEndian.Uint16(b[14:16]), b[sllHdrLen:], missing)
}

// DecodeLinuxSLL2 decodes a Linux "cooked" v2 (SLL2) capture record, as
// tcpdump and tshark write for "-i any": a 20-byte header that starts with
// the ethertype.
func DecodeLinuxSLL2(b []byte) (Packet, error) { return decodeLinuxSLL2(b, 0) }

func decodeLinuxSLL2(b []byte, missing int) (Packet, error) {
	if len(b) < sll2HdrLen {
		return Packet{}, fmt.Errorf("linux SLL2 header of %d bytes: %w", len(b), ErrTruncated)
	}
	return decodeEther(binary.BigEndian.Uint16(b[0:2]), b[sll2HdrLen:], missing)
}
