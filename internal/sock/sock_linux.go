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
