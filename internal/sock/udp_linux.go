package sock

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// UDPConn is a blocking UDP socket read in batches (recvmmsg, waiting at
// most ReadTimeout) into buffers of its own, and written in batches
// (sendmmsg) from ipv4.Messages by any number of goroutines. It is the
// relay's underlay socket.
type UDPConn struct {
	fd     int
	v6     bool
	gro    bool
	closed sync.Once

	in batchBufs // one reader

	scratch sync.Pool // of *writeScratch, one per concurrent writer
}

// udpBatch is how many datagrams one UDPConn read moves.
const udpBatch = 64

// OpenUDP binds a blocking UDP socket to ap, with a deep receive queue
// (beyond net.core.rmem_max where CAP_NET_ADMIN allows) that rides out the
// moments its reader is not scheduled.
func OpenUDP(ap netip.AddrPort, o UDPOptions) (*UDPConn, error) {
	family := unix.AF_INET
	if ap.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("opening a UDP socket for %s: %w", ap, err)
	}
	s := &UDPConn{fd: fd, v6: family == unix.AF_INET6}
	if err := s.bind(ap); err != nil {
		unix.Close(fd)
		return nil, err
	}
	oob := 0
	if o.GRO {
		oob = unix.CmsgSpace(4) // a UDP_GRO segment size
		s.gro = unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil
	}
	s.in = newBatchBufs(udpBatch, 65536, true, oob)
	s.scratch.New = func() any { return &writeScratch{} }
	return s, nil
}

func (s *UDPConn) bind(ap netip.AddrPort) error {
	if unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20) != nil {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 32<<20); err != nil {
			return fmt.Errorf("setting the receive buffer of the socket for %s: %w", ap, err)
		}
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20); err != nil {
		return fmt.Errorf("setting the send buffer of the socket for %s: %w", ap, err)
	}
	if err := setReadTimeout(s.fd); err != nil {
		return fmt.Errorf("setting the receive timeout of the socket for %s: %w", ap, err)
	}
	var sa unix.Sockaddr
	if s.v6 {
		a := &unix.SockaddrInet6{Addr: ap.Addr().As16(), Port: int(ap.Port())}
		if z := ap.Addr().Zone(); z != "" {
			ifi, err := net.InterfaceByName(z)
			if err != nil {
				return fmt.Errorf("zone %q: %w", z, err)
			}
			a.ZoneId = uint32(ifi.Index)
		}
		sa = a
	} else {
		sa = &unix.SockaddrInet4{Addr: ap.Addr().As4(), Port: int(ap.Port())}
	}
	if err := unix.Bind(s.fd, sa); err != nil {
		return fmt.Errorf("binding to %s: %w", ap, err)
	}
	return nil
}

// Segmentation reports whether the socket takes UDP_SEGMENT sends.
func (s *UDPConn) Segmentation() bool {
	_, err := unix.GetsockoptInt(s.fd, unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	return err == nil
}

// GRO reports whether the kernel coalesces datagrams read (UDP_GRO).
func (s *UDPConn) GRO() bool { return s.gro }

// LocalAddr is the address and port the socket is bound to.
func (s *UDPConn) LocalAddr() netip.AddrPort {
	sa, err := unix.Getsockname(s.fd)
	if err != nil {
		return netip.AddrPort{}
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}

// InterfaceIndex asks the kernel for the index of the interface named
// name; an error wrapping ENODEV means there is none.
func (s *UDPConn) InterfaceIndex(name string) (int, error) {
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("interface name %q: %w", name, err)
	}
	if err := unix.IoctlIfreq(s.fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("looking up interface %q: %w", name, err)
	}
	return int(ifr.Uint32()), nil
}

// ReadBatch waits up to ReadTimeout for datagrams and reads up to 64 of
// them; 0 datagrams and no error means the wait timed out. The datagrams
// (see Datagram) are valid until the next ReadBatch.
func (s *UDPConn) ReadBatch() (int, error) { return s.in.read(s.fd) }

// Datagram returns datagram i of the last read, where it came from, and,
// when the kernel coalesced datagrams of one size into it (UDP_GRO), that
// size (0 otherwise).
func (s *UDPConn) Datagram(i int) (b []byte, from netip.AddrPort, gro int) {
	h := &s.in.hdrs[i]
	b = s.in.bufs[i][:h.Len]
	if s.in.oobs != nil {
		gro = GROSize(s.in.oobs[i][:h.Hdr.Controllen])
	}
	return b, addrPortOf(&s.in.names[i]), gro
}

// writeScratch is one writer's system call arguments.
type writeScratch struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
}

// WriteBatch sends ms (each with a *net.UDPAddr, one or more buffers and,
// optionally, control messages such as AppendSegmentSize's) with sendmmsg
// and returns how many were sent. It is safe for concurrent use.
func (s *UDPConn) WriteBatch(ms []ipv4.Message) (int, error) {
	if len(ms) == 0 {
		return 0, nil
	}
	w := s.scratch.Get().(*writeScratch)
	defer s.scratch.Put(w)
	niov := 0
	for i := range ms {
		niov += len(ms[i].Buffers)
	}
	if cap(w.hdrs) < len(ms) {
		w.hdrs = make([]unix.Mmsghdr, len(ms))
		w.names = make([]unix.RawSockaddrInet6, len(ms))
	}
	if cap(w.iovs) < niov {
		w.iovs = make([]unix.Iovec, niov)
	}
	hdrs, names, iovs := w.hdrs[:len(ms)], w.names[:len(ms)], w.iovs[:niov]
	k := 0
	for i := range ms {
		m := &ms[i]
		h := &hdrs[i].Hdr
		*h = unix.Msghdr{}
		start := k
		for _, b := range m.Buffers {
			if len(b) == 0 {
				continue
			}
			iovs[k].Base = &b[0]
			iovs[k].SetLen(len(b))
			k++
		}
		if k > start {
			h.Iov = &iovs[start]
			h.SetIovlen(k - start)
		}
		if len(m.OOB) > 0 {
			h.Control = &m.OOB[0]
			h.SetControllen(len(m.OOB))
		}
		ua, ok := m.Addr.(*net.UDPAddr)
		if !ok {
			return 0, fmt.Errorf("sending message %d: destination %v is not a UDP address", i, m.Addr)
		}
		h.Namelen = s.sockaddr(&names[i], ua)
		h.Name = (*byte)(unsafe.Pointer(&names[i]))
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(s.fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		for i := 0; i < int(n); i++ {
			ms[i].N = int(hdrs[i].Len)
		}
		if errno != 0 {
			return int(n), errno
		}
		return int(n), nil
	}
}

// sockaddr writes a's socket address, of s's family, to sa.
func (s *UDPConn) sockaddr(sa *unix.RawSockaddrInet6, a *net.UDPAddr) uint32 {
	ip, _ := netip.AddrFromSlice(a.IP)
	if s.v6 {
		ip = netip.AddrFrom16(ip.As16())
	} else {
		ip = ip.Unmap()
	}
	scope := 0
	if a.Zone != "" {
		scope = int(zoneIndex(a.Zone))
	}
	var n uint32
	*sa, n = rawSockaddr(netip.AddrPortFrom(ip, uint16(a.Port)), scope)
	return n
}

var zones sync.Map // zone name -> uint32 interface index

// zoneIndex is the index of the interface named zone, looked up once.
func zoneIndex(zone string) uint32 {
	if v, ok := zones.Load(zone); ok {
		return v.(uint32)
	}
	var i uint32
	if ifi, err := net.InterfaceByName(zone); err == nil {
		i = uint32(ifi.Index)
		zones.Store(zone, i)
	}
	return i
}

// Close closes the socket; closing again returns an error.
func (s *UDPConn) Close() error {
	var err error = syscall.EBADF
	s.closed.Do(func() { err = unix.Close(s.fd) })
	if err != nil {
		return fmt.Errorf("closing a UDP socket: %w", err)
	}
	return nil
}
