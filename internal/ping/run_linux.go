package ping

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

// conn is the one UDP socket of a run, IPv4 or IPv6.
type conn struct {
	c  net.PacketConn
	p4 *ipv4.PacketConn
	p6 *ipv6.PacketConn
}

func open(ctx context.Context, o RunOptions) (*conn, error) {
	v6 := o.Bind.Addr().Is6()
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
				if o.Broadcast {
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
	c, err := lc.ListenPacket(ctx, network, o.Bind.String())
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("binding UDP port %d: in use (is omping or ssmpingd running on this host? pick another --port): %w", o.Bind.Port(), err)
		}
		return nil, fmt.Errorf("binding UDP %s: %w", o.Bind, err)
	}
	k := &conn{c: c}
	var ifi *net.Interface
	if o.IfIndex != 0 {
		if ifi, err = net.InterfaceByIndex(o.IfIndex); err != nil {
			c.Close()
			return nil, fmt.Errorf("interface index %d: %w", o.IfIndex, err)
		}
	}
	fail := func(what string, err error) (*conn, error) {
		c.Close()
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("%s: %w (needs CAP_NET_ADMIN?)", what, err)
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if v6 {
		k.p6 = ipv6.NewPacketConn(c)
		if err := k.p6.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface|ipv6.FlagHopLimit, true); err != nil {
			return fail("asking for packet info", err)
		}
		if ifi != nil {
			if err := k.p6.SetMulticastInterface(ifi); err != nil {
				return fail("choosing interface "+ifi.Name, err)
			}
		}
		if err := k.p6.SetMulticastHopLimit(o.TTL); err != nil {
			return fail("setting hop limit", err)
		}
		if err := k.p6.SetHopLimit(o.TTL); err != nil {
			return fail("setting hop limit", err)
		}
		if err := k.p6.SetMulticastLoopback(false); err != nil {
			return fail("turning multicast loopback off", err)
		}
		for _, j := range o.Joins {
			g := &net.UDPAddr{IP: j.Group.AsSlice()}
			if j.Source.IsValid() {
				err = k.p6.JoinSourceSpecificGroup(ifi, g, &net.UDPAddr{IP: j.Source.AsSlice()})
			} else {
				err = k.p6.JoinGroup(ifi, g)
			}
			if err != nil {
				return fail(fmt.Sprintf("joining %s", joinText(j)), err)
			}
		}
		return k, nil
	}
	k.p4 = ipv4.NewPacketConn(c)
	if err := k.p4.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface|ipv4.FlagTTL, true); err != nil {
		return fail("asking for packet info", err)
	}
	if ifi != nil {
		if err := k.p4.SetMulticastInterface(ifi); err != nil {
			return fail("choosing interface "+ifi.Name, err)
		}
	}
	if err := k.p4.SetMulticastTTL(o.TTL); err != nil {
		return fail("setting TTL", err)
	}
	if err := k.p4.SetTTL(o.TTL); err != nil {
		return fail("setting TTL", err)
	}
	if err := k.p4.SetMulticastLoopback(false); err != nil {
		return fail("turning multicast loopback off", err)
	}
	for _, j := range o.Joins {
		g := &net.UDPAddr{IP: j.Group.AsSlice()}
		if j.Source.IsValid() {
			err = k.p4.JoinSourceSpecificGroup(ifi, g, &net.UDPAddr{IP: j.Source.AsSlice()})
		} else {
			err = k.p4.JoinGroup(ifi, g)
		}
		if err != nil {
			return fail(fmt.Sprintf("joining %s", joinText(j)), err)
		}
	}
	return k, nil
}

func joinText(j Join) string {
	if j.Source.IsValid() {
		return fmt.Sprintf("(%s, %s)", j.Source, j.Group)
	}
	return fmt.Sprintf("(*, %s)", j.Group)
}

func (k *conn) read(buf []byte) (Packet, error) {
	var pk Packet
	var n int
	var src net.Addr
	var err error
	pk.TTL = -1
	if k.p6 != nil {
		var cm *ipv6.ControlMessage
		n, cm, src, err = k.p6.ReadFrom(buf)
		if cm != nil {
			pk.Dst, _ = netip.AddrFromSlice(cm.Dst)
			pk.TTL = cm.HopLimit
		}
	} else {
		var cm *ipv4.ControlMessage
		n, cm, src, err = k.p4.ReadFrom(buf)
		if cm != nil {
			pk.Dst, _ = netip.AddrFromSlice(cm.Dst)
			pk.Dst = pk.Dst.Unmap()
			pk.TTL = cm.TTL
		}
	}
	if err != nil {
		return pk, err
	}
	pk.At = time.Now()
	pk.Data = append([]byte(nil), buf[:n]...)
	if ua, ok := src.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		pk.Peer = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return pk, nil
}

func (k *conn) write(pk Packet) error {
	dst := net.UDPAddrFromAddrPort(pk.Peer)
	var err error
	if k.p6 != nil {
		var cm *ipv6.ControlMessage
		if pk.Src.IsValid() {
			cm = &ipv6.ControlMessage{Src: pk.Src.AsSlice()}
		}
		_, err = k.p6.WriteTo(pk.Data, cm, dst)
	} else {
		var cm *ipv4.ControlMessage
		if pk.Src.IsValid() {
			cm = &ipv4.ControlMessage{Src: pk.Src.AsSlice()}
		}
		_, err = k.p4.WriteTo(pk.Data, cm, dst)
	}
	return err
}

// Run drives m on one socket until m is done (and peers have been quiet
// for o.Wait), o.Timeout passes, or ctx ends. Every event goes to onEvent.
// Send errors (a firewall dropping output, no route) are counted in the
// report, not fatal.
func Run(ctx context.Context, m Machine, o RunOptions, onEvent func(Event)) (Report, error) {
	k, err := open(ctx, o)
	if err != nil {
		return Report{}, err
	}
	defer k.c.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { k.c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	pkts := make(chan Packet, 256)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 65536)
		for {
			pk, err := k.read(buf)
			if err != nil {
				if ctx.Err() == nil {
					readErr <- err
				}
				close(pkts)
				return
			}
			pk.Multicast = pk.Dst.IsMulticast() || pk.Dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) ||
				(o.BcastAddr.IsValid() && pk.Dst == o.BcastAddr)
			select {
			case pkts <- pk:
			case <-ctx.Done():
				close(pkts)
				return
			}
		}
	}()

	var sendErrs uint64
	var lastSendErr error
	emit := func(out []Packet, ev []Event) {
		for _, e := range ev {
			onEvent(e)
		}
		for _, p := range out {
			if err := k.write(p); err != nil {
				sendErrs++
				lastSendErr = err
			}
		}
	}
	start := time.Now()
	m.Start(start)
	var deadline <-chan time.Time
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	var doneAt time.Time
	var runErr error
loop:
	for {
		now := time.Now()
		emit(m.Tick(now))
		next := m.NextTick(now)
		if m.Done() {
			if doneAt.IsZero() {
				doneAt = now
			}
			if waitOver(m, doneAt, now, o.Wait) {
				break
			}
			last := m.LastHeard()
			if doneAt.After(last) {
				last = doneAt
			}
			next = last.Add(o.Wait)
		}
		timer.Reset(max(time.Until(next), 0))
		select {
		case <-ctx.Done():
			break loop
		case <-deadline:
			break loop
		case err := <-readErr:
			runErr = fmt.Errorf("receiving: %w", err)
			break loop
		case pk, ok := <-pkts:
			if !ok {
				break loop
			}
			emit(m.Handle(pk))
		case <-timer.C:
		}
	}
	r := m.Report(time.Now())
	r.SendErrors = sendErrs
	if lastSendErr != nil {
		r.LastSendError = lastSendErr.Error()
	}
	return r, runErr
}
