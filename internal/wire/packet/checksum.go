// Package packet decodes and builds the packet layers under the messages
// mcast cares about: captured frames (Ethernet with VLAN tags, Linux cooked,
// raw IP), IPv4, IPv6 with its extension headers, and UDP; it cuts UDP
// segmentation-offload aggregates into datagrams, holds the capture filter
// for multicast, and the Internet checksum these layers share. IGMP and MLD
// messages are package igmp's, on top of this one.
//
// Every decoder is pure: it takes bytes and returns values or an error, so
// a hostile packet is an error to count, never a panic.
package packet

import "encoding/binary"

// Sum adds b to the one's complement sum, 8 bytes at a time. The Internet
// checksum is byte-order independent in 16-bit words, so wide big-endian
// adds folded at the end give the same result as 16-bit adds. An odd last
// byte is padded with a zero byte.
func Sum(sum uint32, b []byte) uint32 {
	acc := uint64(sum)
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		acc += v >> 32
		acc += v & 0xffffffff
		b = b[8:]
	}
	for len(b) >= 2 {
		acc += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint64(b[0]) << 8
	}
	for acc>>32 != 0 {
		acc = acc&0xffffffff + acc>>32
	}
	return uint32(acc)
}

// Finish folds a one's complement sum into 16 bits and complements it: the
// value of a checksum field, or 0 when the summed bytes already hold a
// correct checksum.
func Finish(sum uint32) uint16 {
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// Checksum is the Internet checksum of b, starting from sum (RFC 1071).
func Checksum(b []byte, sum uint32) uint16 { return Finish(Sum(sum, b)) }

// PseudoSum is the sum of an IPv4 or IPv6 pseudo-header: the source and
// destination addresses (4 or 16 bytes each), the upper-layer protocol and
// its length n.
func PseudoSum(src, dst []byte, proto uint8, n int) uint32 {
	s := Sum(0, src)
	s = Sum(s, dst)
	return s + uint32(proto) + uint32(n)&0xffff + uint32(n)>>16
}
