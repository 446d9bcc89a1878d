package sock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// IPConn is a socket bound to one interface (SO_BINDTODEVICE) that joins
// groups there and reads and writes in batches: a raw IP socket (OpenRaw)
// or a UDP socket for re-emission (OpenUDPEmit).
type IPConn struct {
	c   net.PacketConn
	p4  *ipv4.PacketConn // one of p4, p6
	p6  *ipv6.PacketConn
	ifi *net.Interface
}

// socketBuffers is the receive and send buffer of OpenRaw's sockets.
const socketBuffers = 4 << 20

// OpenRaw opens a raw IPv4 (or, with v6, IPv6) socket of protocol proto
// ("udp" to read UDP, "255" to send whole IP packets) bound to ifi.
func OpenRaw(ifi *net.Interface, v6 bool, proto string, o RawOptions) (_ *IPConn, err error) {
	network, addr := "ip4:"+proto, "0.0.0.0"
	if v6 {
		network, addr = "ip6:"+proto, "::"
	}
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, fmt.Errorf("opening a raw %s socket: %w", network, err)
	}
	s := newIPConn(c, ifi, v6)
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	if err := Control(c, func(fd int) error {
		if err := BindToDevice(fd, ifi.Name); err != nil {
			return err
		}
		if o.Broadcast {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
				return fmt.Errorf("allowing broadcast (SO_BROADCAST): %w", err)
			}
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, socketBuffers); err != nil {
			return fmt.Errorf("setting the receive buffer to %d: %w", socketBuffers, err)
		}
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, socketBuffers); err != nil {
			return fmt.Errorf("setting the send buffer to %d: %w", socketBuffers, err)
		}
		if o.Mark != 0 {
			return SetMark(fd, o.Mark)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if o.Filter != nil {
		if err := s.setBPF(o.Filter); err != nil {
			return nil, fmt.Errorf("attaching the filter: %w", err)
		}
	}
	if o.PacketInfo && v6 {
		if err := s.p6.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface|ipv6.FlagHopLimit, true); err != nil {
			return nil, fmt.Errorf("asking for IPv6 packet info: %w", err)
		}
		if err := Control(c, func(fd int) error {
			return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, ipv6FlowInfo, 1)
		}); err != nil {
			return nil, fmt.Errorf("asking for IPv6 flow labels (IPV6_FLOWINFO): %w", err)
		}
	}
	if o.Emit {
		if err := s.emitOn(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// OpenUDPEmit opens a UDP socket bound to ap on ifi that sends with the
// socket mark mark (0: none; so that capture filters can drop what it
// sends), to groups through ifi and looped back to this host, and, for
// IPv4, to broadcast addresses.
func OpenUDPEmit(ctx context.Context, ifi *net.Interface, ap netip.AddrPort, mark int) (*IPConn, error) {
	network := "udp4"
	if ap.Addr().Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		return control(rc, func(fd int) error {
			if mark != 0 {
				if err := SetMark(fd, mark); err != nil {
					return err
				}
			}
			if err := BindToDevice(fd, ifi.Name); err != nil {
				return err
			}
			if network == "udp4" {
				if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BROADCAST, 1); err != nil {
					return fmt.Errorf("allowing broadcast (SO_BROADCAST): %w", err)
				}
			}
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, socketBuffers); err != nil {
				return fmt.Errorf("setting the send buffer to %d: %w", socketBuffers, err)
			}
			return nil
		})
	}}
	c, err := lc.ListenPacket(ctx, network, ap.String())
	if err != nil {
		return nil, fmt.Errorf("opening a UDP socket on %s: %w", ap, err)
	}
	s := newIPConn(c, ifi, network == "udp6")
	if err := s.emitOn(); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

func newIPConn(c net.PacketConn, ifi *net.Interface, v6 bool) *IPConn {
	s := &IPConn{c: c, ifi: ifi}
	if v6 {
		s.p6 = ipv6.NewPacketConn(c)
	} else {
		s.p4 = ipv4.NewPacketConn(c)
	}
	return s
}

func (s *IPConn) setBPF(f []bpf.RawInstruction) error {
	if s.p6 != nil {
		return s.p6.SetBPF(f)
	}
	return s.p4.SetBPF(f)
}

// emitOn sends multicast through s's interface and loops it back.
func (s *IPConn) emitOn() error {
	var err error
	if s.p6 != nil {
		err = s.p6.SetMulticastInterface(s.ifi)
	} else {
		err = s.p4.SetMulticastInterface(s.ifi)
	}
	if err != nil {
		return fmt.Errorf("choosing %s for emission: %w", s.ifi.Name, err)
	}
	if s.p6 != nil {
		err = s.p6.SetMulticastLoopback(true)
	} else {
		err = s.p4.SetMulticastLoopback(true)
	}
	if err != nil {
		return fmt.Errorf("setting multicast loopback on %s: %w", s.ifi.Name, err)
	}
	return nil
}

// Control runs fn with the file descriptor of c, a socket.
func Control(c net.PacketConn, fn func(fd int) error) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return fmt.Errorf("%T is not a socket", c)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("reaching the socket: %w", err)
	}
	return control(rc, fn)
}

func control(rc syscall.RawConn, fn func(fd int) error) error {
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return fmt.Errorf("reaching the socket: %w", err)
	}
	return ferr
}

// BindToDevice binds the socket fd to the interface named name
// (SO_BINDTODEVICE): it sends and receives only there.
func BindToDevice(fd int, name string) error {
	if err := unix.SetsockoptString(fd, unix.SOL_SOCKET, unix.SO_BINDTODEVICE, name); err != nil {
		return fmt.Errorf("binding to %s: %w", name, err)
	}
	return nil
}

// SetMark gives what the socket fd sends the mark mark (SO_MARK, needs
// CAP_NET_ADMIN).
func SetMark(fd, mark int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, mark); err != nil {
		return fmt.Errorf("marking with %#x: %w", mark, err)
	}
	return nil
}

// Join joins group g on the socket's interface.
func (s *IPConn) Join(g netip.Addr) error {
	a := &net.IPAddr{IP: g.AsSlice()}
	if g.Is4() != (s.p4 != nil) {
		return fmt.Errorf("joining %s: not the socket's address family", g)
	}
	if s.p6 != nil {
		return s.p6.JoinGroup(s.ifi, a)
	}
	return s.p4.JoinGroup(s.ifi, a)
}

// Leave leaves group g on the socket's interface.
func (s *IPConn) Leave(g netip.Addr) error {
	a := &net.IPAddr{IP: g.AsSlice()}
	if g.Is4() != (s.p4 != nil) {
		return fmt.Errorf("leaving %s: not the socket's address family", g)
	}
	if s.p6 != nil {
		return s.p6.LeaveGroup(s.ifi, a)
	}
	return s.p4.LeaveGroup(s.ifi, a)
}

// ReadBatch reads at least one datagram, and as many as are queued up to
// len(ms), with one recvmmsg (blocking until Unblock).
func (s *IPConn) ReadBatch(ms []ipv4.Message) (int, error) {
	if s.p6 != nil {
		return s.p6.ReadBatch(ms, 0)
	}
	return s.p4.ReadBatch(ms, 0)
}

// WriteBatch sends ms (to *net.IPAddr destinations on a raw socket,
// *net.UDPAddr on a UDP one, each with optional control messages such as
// AppendTTL's and AppendSegmentSize's) and returns how many were sent.
func (s *IPConn) WriteBatch(ms []ipv4.Message) (int, error) {
	if s.p6 != nil {
		return s.p6.WriteBatch(ms, 0)
	}
	return s.p4.WriteBatch(ms, 0)
}

// WriteTo sends one packet to dst (with its zone for a link-local group).
func (s *IPConn) WriteTo(b []byte, dst netip.Addr) error {
	_, err := s.c.WriteTo(b, &net.IPAddr{IP: dst.AsSlice(), Zone: dst.Zone()})
	return err
}

// Unblock makes blocked and later reads return at once.
func (s *IPConn) Unblock() { s.c.SetReadDeadline(time.Unix(1, 0)) }

// UnblockOnDone makes reads return once ctx is done; the function it
// returns stops that.
func (s *IPConn) UnblockOnDone(ctx context.Context) func() bool {
	return context.AfterFunc(ctx, s.Unblock)
}

// LocalAddr is the address and port a UDP socket sends from (without a
// zone); the zero value for a raw socket.
func (s *IPConn) LocalAddr() netip.AddrPort {
	ua, ok := s.c.LocalAddr().(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}

// Segmentation reports whether a UDP socket takes UDP_SEGMENT sends.
func (s *IPConn) Segmentation() bool {
	err := Control(s.c, func(fd int) error {
		_, err := unix.GetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_SEGMENT)
		return err
	})
	return err == nil
}

// Close closes the socket.
func (s *IPConn) Close() error {
	if err := s.c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("closing a socket on %s: %w", s.ifi.Name, err)
	}
	return nil
}
