package relay

import (
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"

	"golang.org/x/net/ipv4"
)

// linkIO is the relay's I/O seam: what the forward and emit paths and the
// housekeeping need from the sockets. Each write takes a batch, so that the
// hot paths cross the seam once per batch, not per datagram. io_linux.go
// implements it with internal/sock; the tests with a fake.
type linkIO interface {
	// facts are what the relay knows of its interface and sockets. They
	// are read on every datagram, so the hot paths hold them directly.
	facts() *linkFacts

	// writeFrames sends sealed frames to peers, each message to a peer's
	// *net.UDPAddr. A message of several frames (all of one length but the
	// last) carries a UDP_SEGMENT control message and is cut by the kernel.
	// It returns how many messages were sent.
	writeFrames(msgs []ipv4.Message) (int, error)
	// emitPackets writes whole IP packets (AppendIPv4UDP, AppendIPv6UDP)
	// on the LAN, each message to a *net.IPAddr.
	emitPackets(v6 bool, msgs []ipv4.Message) (int, error)
	// emitDatagrams sends UDP datagrams from the relay's own address
	// (`source relay`), each message to a *net.UDPAddr with a TTL control
	// message and, for a run of datagrams, a UDP_SEGMENT one.
	emitDatagrams(v6 bool, msgs []ipv4.Message) (int, error)

	// join and leave change the capture sockets' memberships.
	join(g netip.Addr) error
	leave(g netip.Addr) error
	// memberships are the kernel's user counts of the groups joined on the
	// LAN interface (the relay's own joins included).
	memberships() map[netip.Addr]int
	// query sends general IGMP (v4) and MLD (v6) queries on the LAN.
	query(v4, v6 bool, log *slog.Logger)
}

// linkFacts are what the relay knows of its LAN interface and sockets.
type linkFacts struct {
	mtu          int
	addr4, addr6 netip.Addr // the interface's own addresses (source "relay")
	ll6          netip.Addr // its IPv6 link-local address (MLD queries)
	bcast4       netip.Addr // the interface's IPv4 subnet broadcast address
	ipv6         bool       // the IPv6 capture and emission sockets are open

	net4 netip.Prefix // the interface's IPv4 subnet (on-link mDNS queriers)

	// The `source relay` UDP sockets: open or not, and where they send
	// from.
	udp4, udp6 bool
	src4, src6 netip.AddrPort

	gso     atomic.Bool // the underlay socket takes UDP_SEGMENT
	emitGSO atomic.Bool // the `source relay` sockets take UDP_SEGMENT
}

func (f *linkFacts) has6() bool { return f.ipv6 }

// udpEmit reports whether the `source relay` socket of the family is open.
func (f *linkFacts) udpEmit(v6 bool) bool {
	if v6 {
		return f.udp6
	}
	return f.udp4
}

// ownSource reports whether src is where this relay's UDP emission
// sockets send from.
func (f *linkFacts) ownSource(src netip.AddrPort) bool {
	src = netip.AddrPortFrom(src.Addr().WithZone(""), src.Port())
	return src == f.src4 || f.src6.IsValid() && src == f.src6
}

// emitSources are the addresses `source relay` re-emits from.
func (f *linkFacts) emitSources() []netip.AddrPort {
	var s []netip.AddrPort
	for _, a := range []netip.AddrPort{f.src4, f.src6} {
		if a.IsValid() {
			s = append(s, netip.AddrPortFrom(a.Addr().WithZone(""), a.Port()))
		}
	}
	return s
}

// addAddr takes in one address of the interface: the first IPv4 one (and
// its subnet's broadcast address), the first link-local IPv6 one, and an
// IPv6 one preferring global to link-local.
func (f *linkFacts) addAddr(ipn *net.IPNet) {
	pa, ok := netip.AddrFromSlice(ipn.IP)
	if !ok {
		return
	}
	pa = pa.Unmap()
	ones, _ := ipn.Mask.Size()
	if pa.Is6() && pa.IsLinkLocalUnicast() && !f.ll6.IsValid() {
		f.ll6 = pa
	}
	switch {
	case pa.Is4() && !f.addr4.IsValid():
		f.addr4 = pa
		b := pa.As4()
		m := ^uint32(0) >> ones
		v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | m
		f.bcast4 = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		f.net4 = netip.PrefixFrom(pa, ones).Masked()
	case pa.Is6() && (!f.addr6.IsValid() || f.addr6.IsLinkLocalUnicast() && !pa.IsLinkLocalUnicast()):
		f.addr6 = pa
	}
}
