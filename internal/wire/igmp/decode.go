package igmp

import (
	"fmt"

	"github.com/mcasttools/mcast/internal/wire/packet"
)

// Packet is a decoded packet with the IGMP or MLD message it carries.
type Packet struct {
	packet.Packet
	// Msg is set for IGMP and MLD packets.
	Msg *Message
}

// Decode adds to a decoded packet the IGMP message of an IPv4 packet of
// protocol 2, or the MLD message of an IPv6 packet carrying one in ICMPv6,
// whose checksum it verifies against the pseudo-header. Other packets, and
// fragments after the first, come back without a message and without error.
//
// It rejects, as the kernel does, what a host never sends: an IGMP packet
// whose IPv4 header checksum is wrong (ErrHeaderChecksum), a message in the
// first fragment of a fragmented packet (ErrFragment), a bad IGMP or MLD
// checksum (ErrChecksum), a group that is not multicast (ErrGroup), a v3
// report without records (ErrNoRecords) and record counts beyond the
// message (ErrTruncated).
func Decode(p packet.Packet) (Packet, error) {
	out := Packet{Packet: p}
	if p.Fragment {
		return out, nil
	}
	if p.Truncated && (p.Proto == packet.ProtoIGMP || p.Proto == packet.ProtoICMPv6) {
		return out, fmt.Errorf("from %s: protocol %d cut short by the capture: %w", p.Src, p.Proto, ErrTruncated)
	}
	var m Message
	var err error
	switch {
	case p.Proto == packet.ProtoIGMP && p.Src.Is4():
		switch {
		case p.BadHeaderChecksum:
			return out, fmt.Errorf("IGMP from %s: %w", p.Src, ErrHeaderChecksum)
		case p.MoreFragments:
			return out, fmt.Errorf("IGMP from %s: first of several fragments: %w", p.Src, ErrFragment)
		}
		m, err = ParseIGMP(p.Payload)
	case p.Proto == packet.ProtoICMPv6 && p.Src.Is6():
		b := p.Payload
		if len(b) == 0 || !IsMLDType(b[0]) {
			return out, nil
		}
		if p.MoreFragments {
			return out, fmt.Errorf("MLD from %s: first of several fragments: %w", p.Src, ErrFragment)
		}
		if packet.Checksum(b, packet.PseudoSum(p.Src.AsSlice(), p.Dst.AsSlice(), packet.ProtoICMPv6, len(b))) != 0 {
			return out, fmt.Errorf("from %s: MLD type %d: %w", p.Src, b[0], ErrChecksum)
		}
		m, err = ParseMLD(b)
	default:
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("from %s: %w", p.Src, err)
	}
	out.Msg = &m
	return out, nil
}

// DecodeIP decodes a raw IPv4 or IPv6 packet (packet.DecodeIP) and the IGMP
// or MLD message it carries (Decode).
func DecodeIP(b []byte) (Packet, error) {
	return decoded(packet.DecodeIP(b))
}

// DecodeFrame decodes a captured frame by its link type
// (packet.DecodeFrame) and the IGMP or MLD message it carries (Decode).
func DecodeFrame(f packet.Frame) (Packet, error) {
	return decoded(packet.DecodeFrame(f))
}

// decoded is Decode after a packet decoder, which it passes its error
// through untouched.
func decoded(p packet.Packet, err error) (Packet, error) {
	if err != nil {
		return Packet{Packet: p}, err
	}
	return Decode(p)
}
