package packet

import (
	"encoding/binary"
	"net/netip"
)

// SplitUDP cuts a UDP segmentation-offload aggregate into the datagrams the
// wire carries. With UDP_SEGMENT (GSO) a sender hands the kernel one IP
// packet whose UDP payload is cut into datagrams of seg bytes only when it
// leaves the host; a packet socket on the sending host, or on the far end of
// a veth, sees the aggregate. Each datagram gets its own IP length, IPv4 ID
// (counting up, as the kernel's segmentation does) and header checksum, UDP
// length and UDP checksum.
//
// A packet that is not IPv4 or IPv6 UDP (IPv6 without extension headers),
// is a fragment, is truncated, or whose payload fits in one segment, comes
// back alone and unchanged: the decoder then reports what is wrong with it.
func SplitUDP(pkt []byte, seg int) [][]byte {
	single := [][]byte{pkt}
	if seg <= 0 || len(pkt) == 0 {
		return single
	}
	var hlen, end int
	switch pkt[0] >> 4 {
	case 4:
		if len(pkt) < 20 {
			return single
		}
		hlen = int(pkt[0]&0x0f) * 4
		end = int(binary.BigEndian.Uint16(pkt[2:4]))
		if pkt[9] != ProtoUDP || binary.BigEndian.Uint16(pkt[6:8])&0x3fff != 0 || hlen < 20 {
			return single
		}
	case 6:
		if len(pkt) < 40 || pkt[6] != ProtoUDP {
			return single
		}
		hlen = 40
		end = 40 + int(binary.BigEndian.Uint16(pkt[4:6]))
	default:
		return single
	}
	if end < hlen+8 || end > len(pkt) || end-hlen-8 <= seg {
		return single
	}
	payload := pkt[hlen+8 : end]
	out := make([][]byte, 0, (len(payload)+seg-1)/seg)
	var id uint16
	if hlen != 40 {
		id = binary.BigEndian.Uint16(pkt[4:6])
	}
	for i := 0; len(payload) > 0; i++ {
		chunk := payload[:min(seg, len(payload))]
		payload = payload[len(chunk):]
		b := make([]byte, hlen+8+len(chunk))
		copy(b, pkt[:hlen+8])
		copy(b[hlen+8:], chunk)
		udp := b[hlen:]
		binary.BigEndian.PutUint16(udp[4:6], uint16(8+len(chunk)))
		udp[6], udp[7] = 0, 0
		var src, dst netip.Addr
		if hlen == 40 {
			binary.BigEndian.PutUint16(b[4:6], uint16(8+len(chunk)))
			src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		} else {
			binary.BigEndian.PutUint16(b[2:4], uint16(len(b)))
			binary.BigEndian.PutUint16(b[4:6], id+uint16(i))
			b[10], b[11] = 0, 0
			binary.BigEndian.PutUint16(b[10:12], Checksum(b[:hlen], 0))
			src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		}
		c := Checksum(udp, PseudoSum(src.AsSlice(), dst.AsSlice(), ProtoUDP, len(udp)))
		if c == 0 {
			c = 0xffff // 0 means "no checksum"
		}
		binary.BigEndian.PutUint16(udp[6:8], c)
		out = append(out, b)
	}
	return out
}
