package relay

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// The relay's busiest sockets (the IPv4 capture and the underlay) are
// blocking sockets read by a goroutine that waits inside recvmmsg, not in
// Go's network poller: the kernel wakes the waiting thread itself, where
// the poller costs an epoll wakeup and a hand-off between threads per
// batch, which at small batches was about half of a relay's CPU time and a
// good part of its added latency. A receive timeout (readTimeout) lets the
// loops see that the relay is stopping.

// readTimeout is how long a blocking read waits before it returns EAGAIN.
const readTimeout = 200 * 1000 // microseconds

func setReadTimeout(fd int) error {
	tv := unix.Timeval{Usec: readTimeout}
	return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

// recvmmsg waits for a message on the blocking socket fd and reads it with
// those already queued, up to len(hdrs) (MSG_WAITFORONE). It returns 0 and
// no error when the receive timeout passed with nothing read or a signal
// interrupted the wait.
func recvmmsg(fd int, hdrs []mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), unix.MSG_WAITFORONE, 0, 0)
	switch errno {
	case 0:
		return int(n), nil
	case unix.EAGAIN, unix.EINTR:
		return 0, nil
	}
	return 0, errno
}

// udpSock is the relay's underlay socket: a blocking UDP socket read in
// batches into buffers of its own, written in batches from ipv4.Messages.
type udpSock struct {
	fd     int
	v6     bool
	closed sync.Once

	// Reading (one reader).
	hdrs  []mmsghdr
	iov   []unix.Iovec
	bufs  [][]byte
	names []unix.RawSockaddrInet6 // large enough for either family
	oobs  [][]byte

	// Writing (any number of writers, each with scratch from the pool).
	scratch sync.Pool
}

// openUDPSock binds a blocking UDP socket to ap.
func openUDPSock(ap netip.AddrPort, oob int) (*udpSock, error) {
	family := unix.AF_INET
	if ap.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, err
	}
	s := &udpSock{fd: fd, v6: family == unix.AF_INET6}
	if err := s.bind(ap); err != nil {
		unix.Close(fd)
		return nil, err
	}
	s.hdrs = make([]mmsghdr, batchSize)
	s.iov = make([]unix.Iovec, batchSize)
	s.bufs = make([][]byte, batchSize)
	s.names = make([]unix.RawSockaddrInet6, batchSize)
	s.oobs = make([][]byte, batchSize)
	for i := range s.hdrs {
		s.bufs[i] = make([]byte, 65536)
		s.iov[i].Base = &s.bufs[i][0]
		s.iov[i].SetLen(len(s.bufs[i]))
		h := &s.hdrs[i].Hdr
		h.Iov = &s.iov[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&s.names[i]))
		if oob > 0 {
			s.oobs[i] = make([]byte, oob)
			h.Control = &s.oobs[i][0]
		}
	}
	s.scratch.New = func() any { return &writeScratch{} }
	return s, nil
}

func (s *udpSock) bind(ap netip.AddrPort) error {
	// A deep receive queue rides out the moments the relay is not
	// scheduled (beyond net.core.rmem_max where CAP_NET_ADMIN allows).
	if unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20) != nil {
		if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 32<<20); err != nil {
			return err
		}
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20); err != nil {
		return err
	}
	if err := setReadTimeout(s.fd); err != nil {
		return err
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
	return unix.Bind(s.fd, sa)
}

func (s *udpSock) setInt(level, opt, v int) error { return unix.SetsockoptInt(s.fd, level, opt, v) }

func (s *udpSock) getInt(level, opt int) (int, error) { return unix.GetsockoptInt(s.fd, level, opt) }

// read waits up to readTimeout for datagrams and reads up to batchSize of
// them; 0 datagrams and no error means the wait timed out.
func (s *udpSock) read() (int, error) {
	for i := range s.hdrs {
		h := &s.hdrs[i].Hdr
		h.Namelen = uint32(unsafe.Sizeof(s.names[i]))
		if s.oobs[i] != nil {
			h.SetControllen(len(s.oobs[i]))
		}
	}
	return recvmmsg(s.fd, s.hdrs)
}

// datagram returns datagram i of the last read, where it came from, and
// its control messages.
func (s *udpSock) datagram(i int) (b []byte, from netip.AddrPort, oob []byte) {
	h := &s.hdrs[i]
	b = s.bufs[i][:h.Len]
	if s.oobs[i] != nil {
		oob = s.oobs[i][:h.Hdr.Controllen]
	}
	sa := &s.names[i]
	switch sa.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		from = netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), ntohs(sa4.Port))
	case unix.AF_INET6:
		from = netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), ntohs(sa.Port))
	}
	return b, from, oob
}

func ntohs(v uint16) uint16 { return htons(v) }

// writeScratch is one writer's system call arguments.
type writeScratch struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
}

// WriteBatch sends ms (each with a *net.UDPAddr and, optionally, control
// messages) with sendmmsg and returns how many were sent. It is safe for
// concurrent use.
func (s *udpSock) WriteBatch(ms []ipv4.Message, _ int) (int, error) {
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
		w.hdrs = make([]mmsghdr, len(ms))
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
			return 0, errors.New("relay: a message without a UDP address")
		}
		h.Name, h.Namelen = s.sockaddr(&names[i], ua)
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

// sockaddr writes a's socket address of s's family to sa.
func (s *udpSock) sockaddr(sa *unix.RawSockaddrInet6, a *net.UDPAddr) (*byte, uint32) {
	if !s.v6 {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*sa4 = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: htons(uint16(a.Port))}
		copy(sa4.Addr[:], a.IP.To4())
		return (*byte)(unsafe.Pointer(sa4)), unix.SizeofSockaddrInet4
	}
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: htons(uint16(a.Port))}
	copy(sa.Addr[:], a.IP.To16())
	if a.Zone != "" {
		sa.Scope_id = zoneIndex(a.Zone)
	}
	return (*byte)(unsafe.Pointer(sa)), unix.SizeofSockaddrInet6
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

func (s *udpSock) Close() error {
	var err error = syscall.EBADF
	s.closed.Do(func() { err = unix.Close(s.fd) })
	return err
}
