//go:build linux

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
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Duplex is a UDP socket that receives unicast and the multicast of the
// groups it joined, and sends to any address, with the destination, hop
// count and interface of each datagram it reads. It is not for hot paths:
// each read and write goes through golang.org/x/net's control messages.
type Duplex struct {
	c  net.PacketConn
	p4 *ipv4.PacketConn
	p6 *ipv6.PacketConn
}

// Open opens the socket, sets its options and joins its groups.
func (c DuplexConfig) Open(ctx context.Context) (*Duplex, error) {
	v6 := c.Bind.Addr().Is6()
	lc := net.ListenConfig{Control: func(network, address string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			set := func(level, opt, v int) {
				if serr == nil {
					serr = unix.SetsockoptInt(int(fd), level, opt, v)
				}
			}
			set(unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
			if v6 {
				// Only the groups this socket joined (Linux 4.20 and later).
				_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0)
			} else {
				set(unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
				if c.Broadcast {
					set(unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	network := "udp4"
	if v6 {
		network = "udp6"
	}
	pc, err := lc.ListenPacket(ctx, network, c.Bind.String())
	if err != nil {
		return nil, fmt.Errorf("binding UDP %s: %w", c.Bind, err)
	}
	d := &Duplex{c: pc}
	var ifi *net.Interface
	if c.IfIndex != 0 {
		if ifi, err = net.InterfaceByIndex(c.IfIndex); err != nil {
			pc.Close()
			return nil, fmt.Errorf("interface index %d: %w", c.IfIndex, err)
		}
	}
	if v6 {
		if err = d.setup6(c); err == nil {
			err = joinAll(d.p6, ifi, c.Joins)
		}
	} else if err = d.setup4(c); err == nil {
		err = joinAll(d.p4, ifi, c.Joins)
	}
	if err != nil {
		pc.Close()
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("%w (needs CAP_NET_ADMIN?)", err)
		}
		return nil, err
	}
	return d, nil
}

// setup4 asks for the IPv4 packet info and sets the TTL of d's socket.
func (d *Duplex) setup4(c DuplexConfig) error {
	d.p4 = ipv4.NewPacketConn(d.c)
	if err := d.p4.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface|ipv4.FlagTTL, true); err != nil {
		return fmt.Errorf("asking for packet info: %w", err)
	}
	if err := d.p4.SetMulticastTTL(c.TTL); err != nil {
		return fmt.Errorf("setting TTL: %w", err)
	}
	if err := d.p4.SetTTL(c.TTL); err != nil {
		return fmt.Errorf("setting TTL: %w", err)
	}
	return nil
}

// setup6 is setup4 for IPv6: packet info and hop limit.
func (d *Duplex) setup6(c DuplexConfig) error {
	d.p6 = ipv6.NewPacketConn(d.c)
	if err := d.p6.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface|ipv6.FlagHopLimit, true); err != nil {
		return fmt.Errorf("asking for packet info: %w", err)
	}
	if err := d.p6.SetMulticastHopLimit(c.TTL); err != nil {
		return fmt.Errorf("setting hop limit: %w", err)
	}
	if err := d.p6.SetHopLimit(c.TTL); err != nil {
		return fmt.Errorf("setting hop limit: %w", err)
	}
	return nil
}

// multicastConn is what ipv4.PacketConn and ipv6.PacketConn share for
// multicast.
type multicastConn interface {
	SetMulticastInterface(*net.Interface) error
	SetMulticastLoopback(bool) error
	JoinGroup(*net.Interface, net.Addr) error
	JoinSourceSpecificGroup(*net.Interface, net.Addr, net.Addr) error
}

// joinAll sends p's multicast out of ifi (nil: the routing table's
// choice), without looping it back, and joins the groups there.
func joinAll(p multicastConn, ifi *net.Interface, joins []DuplexJoin) error {
	if ifi != nil {
		if err := p.SetMulticastInterface(ifi); err != nil {
			return fmt.Errorf("choosing interface %s: %w", ifi.Name, err)
		}
	}
	if err := p.SetMulticastLoopback(false); err != nil {
		return fmt.Errorf("turning multicast loopback off: %w", err)
	}
	for _, j := range joins {
		var err error
		g := &net.UDPAddr{IP: j.Group.AsSlice()}
		if j.Source.IsValid() {
			err = p.JoinSourceSpecificGroup(ifi, g, &net.UDPAddr{IP: j.Source.AsSlice()})
		} else {
			err = p.JoinGroup(ifi, g)
		}
		if err != nil {
			return fmt.Errorf("joining %s: %w", j, err)
		}
	}
	return nil
}

// Read blocks for the next datagram, read into buf: Payload is buf[:n].
// TTL is -1 when the kernel did not say; At is when it was read.
func (d *Duplex) Read(buf []byte) (Datagram, error) {
	dg := Datagram{TTL: -1}
	var n int
	var src net.Addr
	var err error
	if d.p6 != nil {
		var cm *ipv6.ControlMessage
		n, cm, src, err = d.p6.ReadFrom(buf)
		if cm != nil {
			dg.Dst, _ = netip.AddrFromSlice(cm.Dst)
			dg.TTL, dg.IfIndex = cm.HopLimit, cm.IfIndex
		}
	} else {
		var cm *ipv4.ControlMessage
		n, cm, src, err = d.p4.ReadFrom(buf)
		if cm != nil {
			dg.Dst, _ = netip.AddrFromSlice(cm.Dst)
			dg.Dst = dg.Dst.Unmap()
			dg.TTL, dg.IfIndex = cm.TTL, cm.IfIndex
		}
	}
	if err != nil {
		return dg, err
	}
	dg.At = time.Now()
	dg.Payload = buf[:n]
	if ua, ok := src.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		dg.Src = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return dg, nil
}

// WriteTo sends b to dst, from the local address src when it is valid (a
// unicast answer leaves from the address the request came to).
func (d *Duplex) WriteTo(b []byte, src netip.Addr, dst netip.AddrPort) error {
	to := net.UDPAddrFromAddrPort(dst)
	var err error
	if d.p6 != nil {
		var cm *ipv6.ControlMessage
		if src.IsValid() {
			cm = &ipv6.ControlMessage{Src: src.AsSlice()}
		}
		_, err = d.p6.WriteTo(b, cm, to)
	} else {
		var cm *ipv4.ControlMessage
		if src.IsValid() {
			cm = &ipv4.ControlMessage{Src: src.AsSlice()}
		}
		_, err = d.p4.WriteTo(b, cm, to)
	}
	return err
}

// SetReadDeadline makes a blocked or later Read return an error after t.
func (d *Duplex) SetReadDeadline(t time.Time) error { return d.c.SetReadDeadline(t) }

// Close closes the socket, leaving its groups.
func (d *Duplex) Close() error { return d.c.Close() }
