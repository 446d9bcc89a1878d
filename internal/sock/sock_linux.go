package sock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Listener receives datagrams sent to one group and port, joined on one
// interface, with IP_MULTICAST_ALL off so that it sees only what arrived on
// that interface.
type Listener struct {
	conn  net.PacketConn
	pc    *ipv4.PacketConn
	index int
}

// Listen joins group on the interface with index ifindex and receives
// datagrams sent to group:port.
func Listen(ctx context.Context, group netip.Addr, port uint16, ifindex int) (*Listener, error) {
	if !group.Is4() {
		return nil, fmt.Errorf("group %s: only IPv4 groups are supported here", group)
	}
	ifi, err := net.InterfaceByIndex(ifindex)
	if err != nil {
		return nil, fmt.Errorf("interface index %d: %w", ifindex, err)
	}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			// Deliver only datagrams for groups this socket joined on the
			// interface it joined them on (the default, 1, delivers every
			// group any socket joined, on any interface).
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := lc.ListenPacket(ctx, "udp4", netip.AddrPortFrom(group, port).String())
	if err != nil {
		return nil, fmt.Errorf("listening on %s:%d: %w", group, port, err)
	}
	pc := ipv4.NewPacketConn(conn)
	if err := pc.JoinGroup(ifi, &net.UDPAddr{IP: group.AsSlice()}); err != nil {
		conn.Close()
		return nil, fmt.Errorf("joining %s on %s: %w", group, ifi.Name, err)
	}
	if err := pc.SetControlMessage(ipv4.FlagInterface|ipv4.FlagDst|ipv4.FlagTTL, true); err != nil {
		conn.Close()
		return nil, fmt.Errorf("asking for packet info: %w", err)
	}
	return &Listener{conn: conn, pc: pc, index: ifindex}, nil
}

// Read reads one datagram into buf. It returns ctx's error once ctx is done.
func (l *Listener) Read(ctx context.Context, buf []byte) (Datagram, error) {
	stop := context.AfterFunc(ctx, func() { l.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	n, cm, src, err := l.pc.ReadFrom(buf)
	if err != nil {
		if ctx.Err() != nil {
			return Datagram{}, ctx.Err()
		}
		return Datagram{}, fmt.Errorf("reading: %w", err)
	}
	d := Datagram{Payload: buf[:n], IfIndex: l.index, TTL: -1, At: time.Now()}
	if ua, ok := src.(*net.UDPAddr); ok {
		d.Src = ua.AddrPort()
		d.Src = netip.AddrPortFrom(d.Src.Addr().Unmap(), d.Src.Port())
	}
	if cm != nil {
		if cm.IfIndex != 0 {
			d.IfIndex = cm.IfIndex
		}
		d.Dst, _ = netip.AddrFromSlice(cm.Dst)
		d.Dst = d.Dst.Unmap()
		d.TTL = cm.TTL
	}
	return d, nil
}

// Close leaves the group and closes the socket.
func (l *Listener) Close() error { return l.conn.Close() }

// Sender sends datagrams to one group and port.
type Sender struct {
	conn *net.UDPConn
	dst  *net.UDPAddr
}

// Dial opens a socket that sends to group:port with the given options.
func Dial(group netip.Addr, port uint16, o SendOptions) (*Sender, error) {
	if !group.Is4() {
		return nil, fmt.Errorf("group %s: only IPv4 groups are supported here", group)
	}
	var laddr *net.UDPAddr
	if o.Source.IsValid() {
		laddr = &net.UDPAddr{IP: o.Source.AsSlice()}
	}
	conn, err := net.ListenUDP("udp4", laddr)
	if err != nil {
		return nil, fmt.Errorf("opening send socket: %w", err)
	}
	pc := ipv4.NewPacketConn(conn)
	if o.IfIndex != 0 {
		ifi, err := net.InterfaceByIndex(o.IfIndex)
		if err == nil {
			err = pc.SetMulticastInterface(ifi)
		}
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("choosing interface %d: %w", o.IfIndex, err)
		}
	}
	if err := pc.SetMulticastTTL(o.TTL); err != nil {
		conn.Close()
		return nil, fmt.Errorf("setting TTL %d: %w", o.TTL, err)
	}
	if err := pc.SetMulticastLoopback(!o.NoLoop); err != nil {
		conn.Close()
		return nil, fmt.Errorf("setting loopback: %w", err)
	}
	return &Sender{conn: conn, dst: &net.UDPAddr{IP: group.AsSlice(), Port: int(port)}}, nil
}

// Send sends one datagram.
func (s *Sender) Send(p []byte) error {
	_, err := s.conn.WriteToUDP(p, s.dst)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && errno == syscall.ENETUNREACH {
			return fmt.Errorf("sending to %s: no route (add one for 224.0.0.0/4 or choose --iface): %w", s.dst, err)
		}
		return fmt.Errorf("sending to %s: %w", s.dst, err)
	}
	return nil
}

// LocalAddr is the address and port datagrams leave from.
func (s *Sender) LocalAddr() netip.AddrPort {
	return s.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close closes the socket.
func (s *Sender) Close() error { return s.conn.Close() }
