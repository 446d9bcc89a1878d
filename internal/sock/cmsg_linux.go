package sock

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// parseCmsgs reads the control messages the Listener asks for into d and
// drops (the socket's drop counter, when the kernel sent it) and returns the
// GRO segment size (0 when the datagram was not coalesced).
func parseCmsgs(oob []byte, d *Datagram, drops *uint32) (gso int) {
	hdr := unix.CmsgLen(0)
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return gso
		}
		data := oob[hdr:l]
		switch {
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_PKTINFO && len(data) >= unix.SizeofInet4Pktinfo:
			pi := (*unix.Inet4Pktinfo)(unsafe.Pointer(&data[0]))
			d.IfIndex = int(pi.Ifindex)
			d.Dst = netip.AddrFrom4(pi.Addr)
		case h.Level == unix.IPPROTO_IP && h.Type == unix.IP_TTL && len(data) >= 4:
			d.TTL = int(*(*int32)(unsafe.Pointer(&data[0])))
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_PKTINFO && len(data) >= unix.SizeofInet6Pktinfo:
			pi := (*unix.Inet6Pktinfo)(unsafe.Pointer(&data[0]))
			d.IfIndex = int(pi.Ifindex)
			d.Dst = netip.AddrFrom16(pi.Addr).Unmap()
		case h.Level == unix.IPPROTO_IPV6 && h.Type == unix.IPV6_HOPLIMIT && len(data) >= 4:
			d.TTL = int(*(*int32)(unsafe.Pointer(&data[0])))
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SCM_TIMESTAMPNS && len(data) >= int(unsafe.Sizeof(unix.Timespec{})):
			ts := (*unix.Timespec)(unsafe.Pointer(&data[0]))
			d.At = time.Unix(int64(ts.Sec), int64(ts.Nsec))
		case h.Level == unix.SOL_SOCKET && h.Type == unix.SO_RXQ_OVFL && len(data) >= 4:
			*drops = max(*drops, *(*uint32)(unsafe.Pointer(&data[0])))
		case h.Level == unix.SOL_UDP && h.Type == unix.UDP_GRO && len(data) >= 4:
			gso = int(*(*int32)(unsafe.Pointer(&data[0])))
		}
		sp := unix.CmsgSpace(l - hdr)
		if sp > len(oob) {
			return gso
		}
		oob = oob[sp:]
	}
	return gso
}

// addrPortOf decodes a raw socket address.
func addrPortOf(sa *unix.RawSockaddrInet6) netip.AddrPort {
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

// rawSockaddr encodes ap (with scope for a link-local address) as a raw
// socket address and its length.
func rawSockaddr(ap netip.AddrPort, scope int) (unix.RawSockaddrInet6, uint32) {
	var sa unix.RawSockaddrInet6
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], ap.Port())
	if ap.Addr().Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&sa))
		sa4.Family = unix.AF_INET
		sa4.Addr = ap.Addr().As4()
		return sa, unix.SizeofSockaddrInet4
	}
	sa.Family = unix.AF_INET6
	sa.Addr = ap.Addr().As16()
	sa.Scope_id = uint32(scope)
	return sa, unix.SizeofSockaddrInet6
}

// GROSize returns the segment size of a UDP_GRO control message in oob (the
// datagrams the kernel coalesced into one read are all of that size but the
// last), or 0.
func GROSize(oob []byte) int {
	var d Datagram
	var drops uint32
	return parseCmsgs(oob, &d, &drops)
}

// ipv6FlowInfo is IPV6_FLOWINFO (linux/in6.h), which golang.org/x/sys
// does not name: the socket option, and the control message it asks for.
const ipv6FlowInfo = 11

// FlowLabel returns the IPv6 flow label of an IPV6_FLOWINFO control message
// in oob (RawOptions.PacketInfo asks for it), or 0: the kernel sends none
// when the flow information is 0.
func FlowLabel(oob []byte) uint32 {
	hdr := unix.CmsgLen(0)
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hdr || l > len(oob) {
			return 0
		}
		if h.Level == unix.IPPROTO_IPV6 && h.Type == ipv6FlowInfo && l-hdr >= 4 {
			return binary.BigEndian.Uint32(oob[hdr:l]) & 0xfffff // network order, traffic class above
		}
		sp := unix.CmsgSpace(l - hdr)
		if sp > len(oob) {
			return 0
		}
		oob = oob[sp:]
	}
	return 0
}

// SegmentOOBLen is the control message space of one UDP_SEGMENT size.
var SegmentOOBLen = unix.CmsgSpace(2)

// AppendSegmentSize appends a UDP_SEGMENT control message to b: the kernel
// cuts the message into datagrams of size bytes (the last may be shorter).
func AppendSegmentSize(b []byte, size int) []byte {
	n := len(b)
	b = append(b, make([]byte, unix.CmsgSpace(2))...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[n]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[n+unix.CmsgLen(0):], uint16(size))
	return b
}

// SegmentUnsupported reports whether err, from a send with UDP_SEGMENT,
// says that the kernel cannot segment it (an old kernel, or a device
// without checksum offload): the sender should send datagram by datagram.
func SegmentUnsupported(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOPROTOOPT) || errors.Is(err, unix.EOPNOTSUPP)
}

// AppendTTL appends an IP_TTL (IPv4) or IPV6_HOPLIMIT (v6) control message
// to b, so that one send carries its own TTL. An IPv4 TTL of 0 is sent as 1
// (IP_TTL takes 1-255).
func AppendTTL(b []byte, v6 bool, ttl uint8) []byte {
	n := len(b)
	b = append(b, make([]byte, unix.CmsgSpace(4))...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[n]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TTL
	v := int32(max(ttl, 1))
	if v6 {
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT
		v = int32(ttl)
	}
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[n+unix.CmsgLen(0):], uint32(v))
	return b
}
