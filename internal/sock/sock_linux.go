package sock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Listener receives datagrams sent to its groups and port, joined on one
// interface, with IP_MULTICAST_ALL off so that it sees only what arrived on
// that interface for a group it joined there.
//
// A Listener is read from one goroutine at a time. Its read path allocates
// nothing: the recvmmsg callback and the context watch are made once, not per
// read.
type Listener struct {
	conn      net.PacketConn
	raw       syscall.RawConn
	index     int
	multicast bool // drop datagrams not sent to a multicast group
	one       *Batch
	// seenDrops is the kernel's drop counter as the last datagram read
	// with one carried it (SO_RXQ_OVFL).
	seenDrops atomic.Uint32

	// What the recvmmsg callback reads into and returns; kept here so that
	// ReadBatch passes raw.Read a function made once.
	cur    *Batch
	n      int
	errno  syscall.Errno
	readFn func(fd uintptr) bool

	// The context whose end unblocks a read (by a past deadline), and how to
	// stop watching it.
	watched context.Context
	unwatch func() bool
}

// Listen joins group on the interface with index ifindex and receives
// datagrams sent to group:port.
func Listen(ctx context.Context, group netip.Addr, port uint16, ifindex int) (*Listener, error) {
	return ListenConfig{Groups: []netip.Addr{group}, Port: port, IfIndex: ifindex}.Listen(ctx)
}

func setOpts(fd int, opts [][3]int) error {
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o[0], o[1], o[2]); err != nil {
			return fmt.Errorf("setsockopt(%d, %d): %w", o[0], o[1], err)
		}
	}
	return nil
}

// Listen opens the socket, binds it and joins the groups.
func (c ListenConfig) Listen(ctx context.Context) (*Listener, error) {
	is6 := false
	for i, g := range c.Groups {
		if i == 0 {
			is6 = g.Is6()
		}
		if g.Is6() != is6 {
			return nil, fmt.Errorf("groups %s and %s: IPv4 and IPv6 cannot share a socket", c.Groups[0], g)
		}
		if !g.IsMulticast() {
			return nil, fmt.Errorf("group %s: not a multicast address", g)
		}
	}
	if !c.Broadcast && len(c.Groups) == 0 {
		return nil, errors.New("no group to join")
	}
	for _, s := range append(append([]netip.Addr(nil), c.Include...), c.Exclude...) {
		if s.Is6() != is6 {
			return nil, fmt.Errorf("source %s: not the same address family as the groups", s)
		}
	}
	ifi, err := net.InterfaceByIndex(c.IfIndex)
	if err != nil {
		return nil, fmt.Errorf("interface index %d: %w", c.IfIndex, err)
	}
	network, bind := "udp4", netip.AddrPortFrom(netip.IPv4Unspecified(), c.Port)
	if is6 {
		network, bind = "udp6", netip.AddrPortFrom(netip.IPv6Unspecified(), c.Port)
	} else if len(c.Groups) == 1 && !c.Broadcast {
		bind = netip.AddrPortFrom(c.Groups[0], c.Port)
	}
	lc := net.ListenConfig{Control: func(network, address string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			// SO_RXQ_OVFL: each datagram read says how many the kernel
			// dropped so far (receive buffer full).
			opts := [][3]int{{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1}, {unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1}, {unix.SOL_SOCKET, unix.SO_RXQ_OVFL, 1}}
			if is6 {
				// Deliver only groups this socket joined, on the interface
				// it joined them on.
				opts = append(opts, [3]int{unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0},
					[3]int{unix.IPPROTO_IPV6, unix.IPV6_RECVPKTINFO, 1}, [3]int{unix.IPPROTO_IPV6, unix.IPV6_RECVHOPLIMIT, 1})
			} else {
				opts = append(opts, [3]int{unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0},
					[3]int{unix.IPPROTO_IP, unix.IP_PKTINFO, 1}, [3]int{unix.IPPROTO_IP, unix.IP_RECVTTL, 1})
			}
			if c.GRO {
				opts = append(opts, [3]int{unix.SOL_UDP, unix.UDP_GRO, 1})
			}
			if serr = setOpts(int(fd), opts); serr != nil {
				return
			}
			if c.Broadcast {
				// Several sockets bound to the wildcard would each get every
				// broadcast; bind each to its interface.
				serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name)
				if serr != nil {
					serr = fmt.Errorf("binding to %s (SO_BINDTODEVICE needs CAP_NET_RAW on old kernels): %w", ifi.Name, serr)
					return
				}
			}
			if c.RcvBuf > 0 {
				if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, c.RcvBuf) != nil {
					unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, c.RcvBuf)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := lc.ListenPacket(ctx, network, bind.String())
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", bind, err)
	}
	fail := func(err error) (*Listener, error) { conn.Close(); return nil, err }
	type joiner interface {
		JoinGroup(*net.Interface, net.Addr) error
		JoinSourceSpecificGroup(*net.Interface, net.Addr, net.Addr) error
		ExcludeSourceSpecificGroup(*net.Interface, net.Addr, net.Addr) error
	}
	var j joiner
	if is6 {
		j = ipv6.NewPacketConn(conn)
	} else {
		j = ipv4.NewPacketConn(conn)
	}
	ua := func(a netip.Addr) net.Addr { return &net.UDPAddr{IP: a.AsSlice()} }
	for _, g := range c.Groups {
		if len(c.Include) > 0 {
			for _, s := range c.Include {
				if err := j.JoinSourceSpecificGroup(ifi, ua(g), ua(s)); err != nil {
					return fail(fmt.Errorf("joining (%s, %s) on %s: %w", s, g, ifi.Name, err))
				}
			}
			continue
		}
		if err := j.JoinGroup(ifi, ua(g)); err != nil {
			return fail(fmt.Errorf("joining %s on %s: %w", g, ifi.Name, err))
		}
		for _, s := range c.Exclude {
			if err := j.ExcludeSourceSpecificGroup(ifi, ua(g), ua(s)); err != nil {
				return fail(fmt.Errorf("excluding %s from %s on %s: %w", s, g, ifi.Name, err))
			}
		}
	}
	raw, err := conn.(*net.UDPConn).SyscallConn()
	if err != nil {
		return fail(err)
	}
	l := &Listener{conn: conn, raw: raw, index: c.IfIndex, multicast: !c.Broadcast}
	l.readFn = l.recvmmsg
	return l, nil
}

// recvmmsg is the raw.Read callback: one recvmmsg into l.cur.
func (l *Listener) recvmmsg(fd uintptr) bool {
	b := l.cur
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(len(b.msgs)), 0, 0, 0)
	if e == unix.EAGAIN || e == unix.EINTR {
		return false
	}
	l.n, l.errno = int(r), e
	return true
}

// watch makes the end of ctx unblock reads. It registers with ctx once, not
// per read: a receive loop calls ReadBatch with the same ctx every time.
func (l *Listener) watch(ctx context.Context) {
	if ctx == l.watched {
		return
	}
	if l.unwatch != nil {
		l.unwatch()
	}
	l.conn.SetReadDeadline(time.Time{})
	l.watched = ctx
	l.unwatch = context.AfterFunc(ctx, func() { l.conn.SetReadDeadline(time.Unix(1, 0)) })
}

// Batch holds the buffers for reading many datagrams with one system call.
// Its Datagrams point into its buffers and stay valid until the next read.
type Batch struct {
	msgs  []unix.Mmsghdr
	iovs  []unix.Iovec
	bufs  [][]byte
	oobs  [][]byte
	names []unix.RawSockaddrInet6
	out   []Datagram
}

const oobSize = 256

// NewBatch makes buffers for n datagrams of up to size bytes each (use
// 65536 with GRO, since coalesced datagrams arrive as one).
func NewBatch(n, size int) *Batch {
	b := &Batch{
		msgs:  make([]unix.Mmsghdr, n),
		iovs:  make([]unix.Iovec, n),
		bufs:  make([][]byte, n),
		oobs:  make([][]byte, n),
		names: make([]unix.RawSockaddrInet6, n),
	}
	mem := make([]byte, n*size)
	oob := make([]byte, n*oobSize)
	for i := range n {
		b.bufs[i] = mem[i*size : (i+1)*size : (i+1)*size]
		b.oobs[i] = oob[i*oobSize : (i+1)*oobSize : (i+1)*oobSize]
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(size)
		h := &b.msgs[i].Hdr
		h.Iov = &b.iovs[i]
		h.SetIovlen(1)
		h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		h.Control = &b.oobs[i][0]
	}
	return b
}

// ReadBatch reads at least one datagram, and as many as are queued up to
// the batch's size, with one recvmmsg. It returns ctx's error once ctx is
// done. The datagrams are valid until the next call with the same batch.
//
// Datagrams the kernel coalesced (UDP_GRO) come back split into the
// datagrams the sender sent, each with the metadata of the whole. ReadBatch
// allocates nothing once b's output slice has grown to its largest.
func (l *Listener) ReadBatch(ctx context.Context, b *Batch) ([]Datagram, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l.watch(ctx)
	for i := range b.msgs {
		b.msgs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		b.msgs[i].Hdr.SetControllen(oobSize)
		b.msgs[i].Hdr.Flags = 0
	}
	l.cur, l.n, l.errno = b, 0, 0
	err := l.raw.Read(l.readFn)
	l.cur = nil
	n, errno := l.n, l.errno
	if err == nil && errno != 0 {
		err = errno
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, context.Canceled
		}
		return nil, fmt.Errorf("reading: %w", err)
	}
	now := time.Now()
	out := b.out[:0]
	var drops uint32
	for i := range n {
		m := &b.msgs[i]
		d := Datagram{IfIndex: l.index, TTL: -1, At: now, Src: addrPortOf(&b.names[i])}
		gso := parseCmsgs(b.oobs[i][:m.Hdr.Controllen], &d, &drops)
		if l.multicast && !d.Dst.IsMulticast() {
			continue
		}
		p := b.bufs[i][:m.Len]
		if gso <= 0 || gso >= len(p) {
			d.Payload = p
			out = append(out, d)
			continue
		}
		for len(p) > 0 {
			seg := min(gso, len(p))
			d.Payload = p[:seg]
			out = append(out, d)
			p = p[seg:]
		}
	}
	b.out = out
	if drops > l.seenDrops.Load() {
		l.seenDrops.Store(drops)
	}
	return out, nil
}

// Read reads one datagram into buf. It returns ctx's error once ctx is done.
func (l *Listener) Read(ctx context.Context, buf []byte) (Datagram, error) {
	if l.one == nil {
		l.one = NewBatch(1, 65536)
	}
	for {
		ds, err := l.ReadBatch(ctx, l.one)
		if err != nil {
			return Datagram{}, err
		}
		if len(ds) > 0 {
			d := ds[0]
			d.Payload = buf[:copy(buf, d.Payload)]
			return d, nil
		}
	}
}

// Close leaves the groups and closes the socket.
func (l *Listener) Close() error {
	if l.unwatch != nil {
		l.unwatch()
	}
	return l.conn.Close()
}

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
		laddr = &net.UDPAddr{IP: o.Source.AsSlice()}
	}
	conn, err := net.ListenUDP(network, laddr)
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
	s.gsoOOB = make([]byte, unix.CmsgSpace(2))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&s.gsoOOB[0]))
	h.Level, h.Type = unix.SOL_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	s.mmsgFn, s.segMsgFn = s.sendmmsg, s.sendmsg
	return s, nil
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
// sendmmsg's datagrams get fragmented) it falls back to sendmmsg for good. buf holds at most
// MaxSegments segments.
func (s *Sender) SendSegments(buf []byte, seg int) error {
	if seg <= 0 || len(buf) == 0 {
		return nil
	}
	if len(buf) <= seg {
		return s.Send(buf)
	}
	if !s.gsoOff {
		*(*uint16)(unsafe.Pointer(&s.gsoOOB[unix.CmsgLen(0)])) = uint16(seg)
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
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.EIO), errors.Is(err, unix.ENOPROTOOPT), errors.Is(err, unix.EOPNOTSUPP),
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
