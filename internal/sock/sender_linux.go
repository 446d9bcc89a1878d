package sock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Sender sends datagrams to one group (or broadcast address) and port.
type Sender struct {
	conn   *net.UDPConn
	raw    syscall.RawConn
	dst    netip.AddrPort
	sa     unix.RawSockaddrInet6
	salen  uint32
	gsoOff bool
	gsoOOB []byte
	msgs   []unix.Mmsghdr
	iovs   []unix.Iovec
	one    [1][]byte

	// What the write callbacks send and return; kept here so that the send
	// path passes raw.Write functions made once and allocates nothing.
	msg      unix.Msghdr // the UDP_SEGMENT sendmsg
	iov      unix.Iovec
	wmsgs    []unix.Mmsghdr // the sendmmsg
	wn       int
	werr     syscall.Errno
	mmsgFn   func(fd uintptr) bool
	segMsgFn func(fd uintptr) bool
}

// Dial opens a socket that sends to group:port with the given options. With
// o.Broadcast, group may be an IPv4 broadcast address.
func Dial(group netip.Addr, port uint16, o SendOptions) (*Sender, error) {
	if !group.IsMulticast() && !(o.Broadcast && group.Is4()) {
		return nil, fmt.Errorf("destination %s: not a multicast group", group)
	}
	network := "udp4"
	if group.Is6() {
		network = "udp6"
	}
	var laddr *net.UDPAddr
	if o.Source.IsValid() && o.Source.Is4() == group.Is4() {
		laddr = &net.UDPAddr{IP: o.Source.AsSlice(), Port: int(o.SourcePort)}
	} else if o.SourcePort != 0 {
		laddr = &net.UDPAddr{Port: int(o.SourcePort)}
	}
	conn, err := listenSend(network, laddr, o.SourcePort != 0)
	if err != nil {
		return nil, fmt.Errorf("opening send socket: %w", err)
	}
	fail := func(err error) (*Sender, error) { conn.Close(); return nil, err }
	var ifi *net.Interface
	if o.IfIndex != 0 {
		if ifi, err = net.InterfaceByIndex(o.IfIndex); err != nil {
			return fail(fmt.Errorf("choosing interface %d: %w", o.IfIndex, err))
		}
	}
	if group.Is6() {
		pc := ipv6.NewPacketConn(conn)
		if ifi != nil {
			if err := pc.SetMulticastInterface(ifi); err != nil {
				return fail(fmt.Errorf("choosing interface %s: %w", ifi.Name, err))
			}
		}
		if err := pc.SetMulticastHopLimit(o.TTL); err != nil {
			return fail(fmt.Errorf("setting hop limit %d: %w", o.TTL, err))
		}
		if err := pc.SetMulticastLoopback(!o.NoLoop); err != nil {
			return fail(fmt.Errorf("setting loopback: %w", err))
		}
	} else {
		pc := ipv4.NewPacketConn(conn)
		if ifi != nil {
			if err := pc.SetMulticastInterface(ifi); err != nil {
				return fail(fmt.Errorf("choosing interface %s: %w", ifi.Name, err))
			}
		}
		if err := pc.SetMulticastTTL(o.TTL); err != nil {
			return fail(fmt.Errorf("setting TTL %d: %w", o.TTL, err))
		}
		if err := pc.SetMulticastLoopback(!o.NoLoop); err != nil {
			return fail(fmt.Errorf("setting loopback: %w", err))
		}
		if o.Broadcast {
			if err := pc.SetTTL(max(o.TTL, 1)); err != nil {
				return fail(fmt.Errorf("setting TTL %d: %w", o.TTL, err))
			}
		}
	}
	raw, err := conn.SyscallConn()
	if err != nil {
		return fail(err)
	}
	var serr error
	raw.Control(func(fd uintptr) {
		if o.Broadcast {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1); serr != nil {
				serr = fmt.Errorf("allowing broadcast (SO_BROADCAST): %w", serr)
				return
			}
		}
		if o.SndBuf > 0 && unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, o.SndBuf) != nil {
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, o.SndBuf)
		}
	})
	if serr != nil {
		return fail(serr)
	}
	s := &Sender{conn: conn, raw: raw, dst: netip.AddrPortFrom(group.WithZone(""), port), gsoOff: o.NoGSO}
	scope := 0
	if group.Is6() && (group.IsLinkLocalMulticast() || group.IsInterfaceLocalMulticast()) {
		scope = o.IfIndex
	}
	s.sa, s.salen = rawSockaddr(s.dst, scope)
	s.gsoOOB = make([]byte, 0, SegmentOOBLen)
	s.mmsgFn, s.segMsgFn = s.sendmmsg, s.sendmsg
	return s, nil
}

// listenSend binds the send socket to laddr; shared, with SO_REUSEADDR,
// beside a Listener on the same port (which binds the wildcard).
func listenSend(network string, laddr *net.UDPAddr, shared bool) (*net.UDPConn, error) {
	if !shared {
		return net.ListenUDP(network, laddr)
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1) }); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, laddr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// sendmmsg is the raw.Write callback for SendBatch: one sendmmsg of s.wmsgs.
func (s *Sender) sendmmsg(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.wmsgs[0])), uintptr(len(s.wmsgs)), 0, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	s.wn, s.werr = int(r), e
	return true
}

// sendmsg is the raw.Write callback for SendSegments: one sendmsg of s.msg.
func (s *Sender) sendmsg(fd uintptr) bool {
	_, _, e := unix.Syscall(unix.SYS_SENDMSG, fd, uintptr(unsafe.Pointer(&s.msg)), 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	s.werr = e
	return true
}

func (s *Sender) wrap(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) && errno == syscall.ENETUNREACH {
		return fmt.Errorf("sending to %s: no route (add one for 224.0.0.0/4 or choose --iface): %w", s.dst, err)
	}
	if errors.As(err, &errno) && errno == syscall.EACCES {
		return fmt.Errorf("sending to %s: permission denied (a broadcast address needs --broadcast): %w", s.dst, err)
	}
	return fmt.Errorf("sending to %s: %w", s.dst, err)
}

// Send sends one datagram.
func (s *Sender) Send(p []byte) error {
	s.one[0] = p
	_, err := s.SendBatch(s.one[:])
	s.one[0] = nil
	return err
}

// SendBatch sends the datagrams with as few sendmmsg calls as the kernel
// allows and returns how many were sent. A full send buffer waits.
func (s *Sender) SendBatch(ps [][]byte) (int, error) {
	if cap(s.msgs) < len(ps) {
		s.msgs = make([]unix.Mmsghdr, len(ps))
		s.iovs = make([]unix.Iovec, len(ps))
	}
	msgs, iovs := s.msgs[:len(ps)], s.iovs[:len(ps)]
	for i, p := range ps {
		if len(p) > 0 {
			iovs[i].Base = &p[0]
		} else {
			iovs[i].Base = nil
		}
		iovs[i].SetLen(len(p))
		msgs[i] = unix.Mmsghdr{}
		msgs[i].Hdr.Name = (*byte)(unsafe.Pointer(&s.sa))
		msgs[i].Hdr.Namelen = s.salen
		msgs[i].Hdr.Iov = &iovs[i]
		msgs[i].Hdr.SetIovlen(1)
	}
	sent := 0
	for sent < len(ps) {
		s.wmsgs, s.wn, s.werr = msgs[sent:], 0, 0
		err := s.raw.Write(s.mmsgFn)
		s.wmsgs = nil
		if err == nil && s.werr != 0 {
			err = s.werr
		}
		if err != nil {
			return sent, s.wrap(err)
		}
		sent += s.wn
	}
	return sent, nil
}

// SendSegments sends buf as datagrams of seg bytes each (the last may be
// shorter) with one sendmsg and UDP_SEGMENT. Where the kernel refuses
// segmentation offload (also for segments above the path MTU, which only
// sendmmsg's datagrams get fragmented) it falls back to sendmmsg for good.
// buf holds at most MaxSegments segments.
func (s *Sender) SendSegments(buf []byte, seg int) error {
	if seg <= 0 || len(buf) == 0 {
		return nil
	}
	if len(buf) <= seg {
		return s.Send(buf)
	}
	if !s.gsoOff {
		s.gsoOOB = AppendSegmentSize(s.gsoOOB[:0], seg)
		s.iov = unix.Iovec{Base: &buf[0]}
		s.iov.SetLen(len(buf))
		s.msg = unix.Msghdr{}
		s.msg.Name = (*byte)(unsafe.Pointer(&s.sa))
		s.msg.Namelen = s.salen
		s.msg.Iov = &s.iov
		s.msg.SetIovlen(1)
		s.msg.Control = &s.gsoOOB[0]
		s.msg.SetControllen(len(s.gsoOOB))
		s.werr = 0
		err := s.raw.Write(s.segMsgFn)
		s.iov.Base = nil
		if err == nil && s.werr != 0 {
			err = s.werr
		}
		switch {
		case err == nil:
			return nil
		case SegmentUnsupported(err),
			// A segment larger than the path MTU: UDP_SEGMENT does not
			// fragment, sendmmsg does, as for any UDP sender.
			errors.Is(err, unix.EMSGSIZE):
			s.gsoOff = true
		default:
			return s.wrap(err)
		}
	}
	var ps [MaxSegments][]byte
	n := 0
	for len(buf) > 0 && n < MaxSegments {
		l := min(seg, len(buf))
		ps[n] = buf[:l]
		buf = buf[l:]
		n++
	}
	_, err := s.SendBatch(ps[:n])
	return err
}

// Segmentation reports whether SendSegments uses UDP_SEGMENT (true until
// the kernel refused it once).
func (s *Sender) Segmentation() bool { return !s.gsoOff }

// LocalAddr is the address and port datagrams leave from.
func (s *Sender) LocalAddr() netip.AddrPort {
	ap := s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// Close closes the socket.
func (s *Sender) Close() error { return s.conn.Close() }
