package relay

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/igmp"
	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// batchWriter sends messages in batches.
type batchWriter interface {
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchConn is what ipv4.PacketConn and ipv6.PacketConn both offer.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	batchWriter
}

// osIO holds the relay's sockets.
type osIO struct {
	ifi          *net.Interface
	addr4, addr6 netip.Addr // the interface's own addresses (source "relay")
	ll6          netip.Addr // its IPv6 link-local address (MLD queries)
	bcast4       netip.Addr // the interface's IPv4 subnet broadcast address
	mtu          int

	under  *udpSock
	underW batchWriter // writes to the underlay: under (a fake in tests)
	gso    atomic.Bool // the underlay socket takes UDP_SEGMENT
	gro    bool        // the underlay socket coalesces frames (UDP_GRO)

	cap4c, cap6c net.PacketConn // cap4c only joins groups; capPkt reads IPv4
	capPkt       *pktCapture
	cap4         *ipv4.PacketConn
	cap6         *ipv6.PacketConn
	em4c, em6c   net.PacketConn
	em4          *ipv4.PacketConn
	em6          *ipv6.PacketConn

	// UDP sockets of `source relay`, bound to the interface's addresses.
	ue4c, ue6c net.PacketConn
	ue4, ue6   batchConn
	ueSrc4     netip.AddrPort // their local addresses
	ueSrc6     netip.AddrPort
	emitGSO    atomic.Bool // they take UDP_SEGMENT

	pkt *sock.PacketConn // IGMP and MLD of the LAN
}

func (o *osIO) has6() bool { return o.cap6 != nil }

// permHint names the capability a permission error lacks.
func permHint(err error, what string) error {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("%s: %w (needs CAP_NET_RAW and CAP_NET_ADMIN: run as root or grant them)", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func bindToDevice(c net.PacketConn, name string, broadcast bool) error {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("not a socket")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		if serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, name); serr != nil {
			return
		}
		if broadcast {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
		}
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		}
		if serr == nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		}
	})
	if err != nil {
		return err
	}
	return serr
}

// setMark gives c's packets EmitMark (needs CAP_NET_ADMIN).
func setMark(c net.PacketConn) error {
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, EmitMark)
	}); err != nil {
		return err
	}
	return serr
}

func openIO(ctx context.Context, cfg *config.Config) (_ *osIO, err error) {
	o := &osIO{}
	defer func() {
		if err != nil {
			o.close()
		}
	}()
	o.ifi, err = net.InterfaceByName(cfg.Interface)
	if err != nil {
		return nil, fmt.Errorf("interface %q: %w", cfg.Interface, err)
	}
	o.mtu = o.ifi.MTU
	addrs, err := o.ifi.Addrs()
	if err != nil {
		return nil, fmt.Errorf("interface %s addresses: %w", cfg.Interface, err)
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		pa, ok := netip.AddrFromSlice(ipn.IP)
		if !ok {
			continue
		}
		pa = pa.Unmap()
		ones, _ := ipn.Mask.Size()
		if pa.Is6() && pa.IsLinkLocalUnicast() && !o.ll6.IsValid() {
			o.ll6 = pa
		}
		switch {
		case pa.Is4() && !o.addr4.IsValid():
			o.addr4 = pa
			b := pa.As4()
			m := ^uint32(0) >> ones
			v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | m
			o.bcast4 = netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
		case pa.Is6() && (!o.addr6.IsValid() || o.addr6.IsLinkLocalUnicast() && !pa.IsLinkLocalUnicast()):
			o.addr6 = pa
		}
	}
	if !o.addr4.IsValid() && (len(cfg.BroadcastPorts) > 0 || cfg.Source == config.SourceRelay) {
		return nil, fmt.Errorf("interface %s has no IPv4 address (needed for broadcasts and source relay)", cfg.Interface)
	}

	// Underlay.
	oob := unix.CmsgSpace(4) // a UDP_GRO segment size
	if o.under, err = openUDPSock(cfg.Listen, oob); err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	o.underW = o.under
	_, err = o.under.getInt(unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	o.gso.Store(err == nil)
	// Take frames a peer sent segmented as one read (UDP_GRO).
	o.gro = o.under.setInt(unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil

	// Capture and emission, IPv4.
	o.cap4c, err = net.ListenPacket("ip4:udp", "0.0.0.0")
	if err != nil {
		return nil, permHint(err, "opening the IPv4 capture socket")
	}
	if err := bindToDevice(o.cap4c, o.ifi.Name, false); err != nil {
		return nil, permHint(err, "binding the capture socket to "+o.ifi.Name)
	}
	o.cap4 = ipv4.NewPacketConn(o.cap4c)
	// On an Ethernet interface (or one without a link header) a packet
	// socket reads IPv4 and the raw socket only holds the joins; elsewhere
	// the raw socket reads.
	capFilter := CaptureFilter4(o.bcast4)
	if hl, ok := linkHeaderLen(o.ifi.Name); ok {
		// Loads relative to the network header, whatever link header
		// (VLAN tags too) comes first.
		prog4, err := bpf.Assemble(OnlyIPv4(SkipMarked(CaptureFilter4At(o.bcast4, sock.NetOff))))
		if err != nil {
			return nil, fmt.Errorf("assembling the capture filter: %w", err)
		}
		if o.capPkt, err = openPktCapture(o.ifi, prog4, hl); err != nil {
			return nil, permHint(err, "opening the IPv4 capture socket on "+o.ifi.Name)
		}
		capFilter = []bpf.Instruction{bpf.RetConstant{Val: 0}}
	}
	if prog, err := bpf.Assemble(SkipMarked(capFilter)); err != nil {
		return nil, fmt.Errorf("assembling the capture filter: %w", err)
	} else if err := o.cap4.SetBPF(prog); err != nil {
		return nil, fmt.Errorf("attaching the capture filter: %w", err)
	}
	o.em4c, err = net.ListenPacket("ip4:255", "0.0.0.0")
	if err != nil {
		return nil, permHint(err, "opening the IPv4 raw emission socket")
	}
	if err := bindToDevice(o.em4c, o.ifi.Name, true); err != nil {
		return nil, permHint(err, "binding the emission socket to "+o.ifi.Name)
	}
	if err := setMark(o.em4c); err != nil {
		return nil, permHint(err, "marking the emission socket")
	}
	o.em4 = ipv4.NewPacketConn(o.em4c)
	if err := o.em4.SetMulticastInterface(o.ifi); err != nil {
		return nil, fmt.Errorf("choosing %s for emission: %w", o.ifi.Name, err)
	}
	if err := o.em4.SetMulticastLoopback(true); err != nil {
		return nil, fmt.Errorf("setting multicast loopback: %w", err)
	}

	// `source relay` emission, IPv4 (opened whatever the source mode, so
	// that SIGHUP may switch to it).
	if o.ue4c, err = openUDPEmit(ctx, o.ifi, netip.AddrPortFrom(o.addr4, cfg.SourcePort)); err != nil {
		return nil, err
	}
	o.ue4 = ipv4.NewPacketConn(o.ue4c)
	o.ueSrc4 = localAddrPort(o.ue4c)
	if err := o.ue4.(*ipv4.PacketConn).SetMulticastInterface(o.ifi); err != nil {
		return nil, fmt.Errorf("choosing %s for emission: %w", o.ifi.Name, err)
	}
	if err := o.ue4.(*ipv4.PacketConn).SetMulticastLoopback(true); err != nil {
		return nil, fmt.Errorf("setting multicast loopback: %w", err)
	}
	if rc, err := o.ue4c.(*net.UDPConn).SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			_, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
			o.emitGSO.Store(err == nil)
		})
	}

	// Other hosts' IGMP and MLD reports.
	prog, err := bpf.Assemble(MembershipFilter())
	if err != nil {
		return nil, fmt.Errorf("assembling the membership filter: %w", err)
	}
	if o.pkt, err = sock.OpenPacket(o.ifi.Name, prog, false); err != nil {
		return nil, err
	}

	if needs6(cfg) {
		o.cap6c, err = net.ListenPacket("ip6:udp", "::")
		if err != nil {
			return nil, permHint(err, "opening the IPv6 capture socket")
		}
		if err := bindToDevice(o.cap6c, o.ifi.Name, false); err != nil {
			return nil, permHint(err, "binding the IPv6 capture socket to "+o.ifi.Name)
		}
		o.cap6 = ipv6.NewPacketConn(o.cap6c)
		if prog, err := bpf.Assemble(SkipMarked([]bpf.Instruction{bpf.RetConstant{Val: 0x40000}})); err != nil {
			return nil, fmt.Errorf("assembling the IPv6 capture filter: %w", err)
		} else if err := o.cap6.SetBPF(prog); err != nil {
			return nil, fmt.Errorf("attaching the IPv6 capture filter: %w", err)
		}
		if err := o.cap6.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface|ipv6.FlagHopLimit, true); err != nil {
			return nil, fmt.Errorf("asking for IPv6 packet info: %w", err)
		}
		o.em6c, err = net.ListenPacket("ip6:255", "::")
		if err != nil {
			return nil, permHint(err, "opening the IPv6 raw emission socket")
		}
		if err := bindToDevice(o.em6c, o.ifi.Name, false); err != nil {
			return nil, permHint(err, "binding the IPv6 emission socket to "+o.ifi.Name)
		}
		if err := setMark(o.em6c); err != nil {
			return nil, permHint(err, "marking the IPv6 emission socket")
		}
		o.em6 = ipv6.NewPacketConn(o.em6c)
		if err := o.em6.SetMulticastInterface(o.ifi); err != nil {
			return nil, fmt.Errorf("choosing %s for IPv6 emission: %w", o.ifi.Name, err)
		}
		if err := o.em6.SetMulticastLoopback(true); err != nil {
			return nil, fmt.Errorf("setting IPv6 multicast loopback: %w", err)
		}
		if o.addr6.IsValid() {
			a := o.addr6
			if a.IsLinkLocalUnicast() {
				a = a.WithZone(o.ifi.Name)
			}
			if o.ue6c, err = openUDPEmit(ctx, o.ifi, netip.AddrPortFrom(a, cfg.SourcePort)); err != nil {
				return nil, err
			}
			o.ueSrc6 = localAddrPort(o.ue6c)
			p6 := ipv6.NewPacketConn(o.ue6c)
			o.ue6 = p6
			if err := p6.SetMulticastInterface(o.ifi); err != nil {
				return nil, fmt.Errorf("choosing %s for IPv6 emission: %w", o.ifi.Name, err)
			}
			if err := p6.SetMulticastLoopback(true); err != nil {
				return nil, fmt.Errorf("setting IPv6 multicast loopback: %w", err)
			}
		}
	}
	return o, nil
}

func (o *osIO) close() {
	if o.capPkt != nil {
		o.capPkt.f.Close()
	}
	if o.under != nil {
		o.under.Close()
	}
	for _, c := range []interface{ Close() error }{o.cap4c, o.cap6c, o.em4c, o.em6c, o.ue4c, o.ue6c} {
		if c != nil && !isNilConn(c) {
			c.Close()
		}
	}
	if o.pkt != nil {
		o.pkt.Close()
	}
}

// query sends general queries on the LAN (IGMPv3 from the interface's
// IPv4 address, MLDv2 from its link-local address), so that the hosts
// report their memberships and snooping switches forward the reports here.
func (o *osIO) query(v4, v6 bool, log *slog.Logger) {
	if v4 && o.addr4.IsValid() {
		b := AppendIGMPQuery(nil, o.addr4)
		if _, err := o.em4c.WriteTo(b, &net.IPAddr{IP: net.IPv4(224, 0, 0, 1)}); err != nil {
			log.Warn("sending an IGMP query", "err", err)
		}
	}
	if v6 && o.em6c != nil && o.ll6.IsValid() {
		b := AppendMLDQuery(nil, o.ll6)
		if _, err := o.em6c.WriteTo(b, &net.IPAddr{IP: net.ParseIP("ff02::1"), Zone: o.ifi.Name}); err != nil {
			log.Warn("sending an MLD query", "err", err)
		}
	}
}

func isNilConn(c interface{ Close() error }) bool {
	switch v := c.(type) {
	case *net.UDPConn:
		return v == nil
	case net.PacketConn:
		return v == nil
	}
	return false
}

func (o *osIO) join(g netip.Addr) error {
	a := &net.IPAddr{IP: g.AsSlice()}
	if g.Is4() {
		return o.cap4.JoinGroup(o.ifi, a)
	}
	if o.cap6 == nil {
		return errors.New("no IPv6 capture socket")
	}
	return o.cap6.JoinGroup(o.ifi, a)
}

func (o *osIO) leave(g netip.Addr) error {
	a := &net.IPAddr{IP: g.AsSlice()}
	if g.Is4() {
		return o.cap4.LeaveGroup(o.ifi, a)
	}
	if o.cap6 == nil {
		return nil
	}
	return o.cap6.LeaveGroup(o.ifi, a)
}

func (o *osIO) readMembership() map[netip.Addr]int {
	out := map[netip.Addr]int{}
	if b, err := os.ReadFile("/proc/net/igmp"); err == nil {
		for g, n := range ParseIGMP(b, o.ifi.Name) {
			out[g] += n
		}
	}
	if o.cap6 != nil {
		if b, err := os.ReadFile("/proc/net/igmp6"); err == nil {
			for g, n := range ParseIGMP6(b, o.ifi.Name) {
				out[g] += n
			}
		}
	}
	return out
}

func (o *osIO) writeUnderlay(msgs []ipv4.Message) (int, error) {
	return o.underW.WriteBatch(msgs, 0)
}

func (o *osIO) writeLAN(v6 bool, msgs []ipv4.Message) (int, error) {
	if v6 {
		return o.em6.WriteBatch(msgs, 0)
	}
	return o.em4.WriteBatch(msgs, 0)
}

// openUDPEmit opens a UDP socket bound to ap on ifi for `source relay`:
// marked like the raw emission sockets (so the capture filter drops what
// it sends), allowed to broadcast.
func openUDPEmit(ctx context.Context, ifi *net.Interface, ap netip.AddrPort) (net.PacketConn, error) {
	network := "udp4"
	if ap.Addr().Is6() {
		network = "udp6"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_MARK, EmitMark); serr != nil {
				serr = fmt.Errorf("marking: %w", serr)
				return
			}
			if serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifi.Name); serr != nil {
				serr = fmt.Errorf("binding to %s: %w", ifi.Name, serr)
				return
			}
			if network == "udp4" {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_BROADCAST, 1)
			}
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := lc.ListenPacket(ctx, network, ap.String())
	if err != nil {
		return nil, permHint(err, "opening the source relay emission socket on "+ap.String())
	}
	return c, nil
}

func localAddrPort(c net.PacketConn) netip.AddrPort {
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
}

// ownSource reports whether src is where this relay's UDP emission
// sockets send from.
func (o *osIO) ownSource(src netip.AddrPort) bool {
	src = netip.AddrPortFrom(src.Addr().WithZone(""), src.Port())
	return src == o.ueSrc4 || o.ueSrc6.IsValid() && src == o.ueSrc6
}

// emitSources are the addresses `source relay` re-emits from.
func (o *osIO) emitSources() []netip.AddrPort {
	var s []netip.AddrPort
	for _, a := range []netip.AddrPort{o.ueSrc4, o.ueSrc6} {
		if a.IsValid() {
			s = append(s, netip.AddrPortFrom(a.Addr().WithZone(""), a.Port()))
		}
	}
	return s
}

func (o *osIO) udpEmit(v6 bool) bool {
	if v6 {
		return o.ue6 != nil
	}
	return o.ue4 != nil
}

func (o *osIO) writeSeg(v6 bool, msgs []ipv4.Message) (int, error) {
	if v6 {
		return o.ue6.WriteBatch(msgs, 0)
	}
	return o.ue4.WriteBatch(msgs, 0)
}

// appendTTL appends an IP_TTL (IPv4) or IPV6_HOPLIMIT control message.
func appendTTL(b []byte, v6 bool, ttl uint8) []byte {
	n := len(b)
	b = append(b, make([]byte, unix.CmsgSpace(4))...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[n]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_TTL
	v := int32(max(ttl, 1)) // IP_TTL takes 1-255
	if v6 {
		h.Level, h.Type = unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT
		v = int32(ttl)
	}
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[n+unix.CmsgLen(0):], uint32(v))
	return b
}

// segmentOOBLen is the control message space of one UDP_SEGMENT size.
var segmentOOBLen = unix.CmsgSpace(2)

// appendSegmentSize appends a UDP_SEGMENT control message: the kernel cuts
// the message into datagrams of size bytes (the last may be shorter).
func appendSegmentSize(b []byte, size int) []byte {
	n := len(b)
	b = append(b, make([]byte, unix.CmsgSpace(2))...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[n]))
	h.Level, h.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	binary.NativeEndian.PutUint16(b[n+unix.CmsgLen(0):], uint16(size))
	return b
}

// segmentUnsupported reports whether err says that the kernel cannot
// segment this send.
func segmentUnsupported(err error) bool {
	return errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOPROTOOPT) || errors.Is(err, unix.EOPNOTSUPP)
}

// batchSize is how many datagrams one read or write system call moves.
const batchSize = 64

func newMsgs(n, size, oob int) []ipv4.Message {
	ms := make([]ipv4.Message, n)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, size)}
		if oob > 0 {
			ms[i].OOB = make([]byte, oob)
		}
	}
	return ms
}

// unblock makes blocked reads on c return once ctx is done.
func unblock(ctx context.Context, c interface{ SetReadDeadline(time.Time) error }) func() bool {
	return context.AfterFunc(ctx, func() { c.SetReadDeadline(time.Unix(1, 0)) })
}

// Run opens the relay's sockets and carries datagrams until ctx ends.
// When the LAN interface vanishes (deleted, or replaced by another of its
// name), the relay closes its sockets, counts it, and opens them again once
// the interface is back; meanwhile it carries nothing and its peers see it
// down.
func (r *Relay) Run(ctx context.Context) error {
	cfg := r.config()
	o, err := openIO(ctx, cfg)
	if err != nil {
		return err
	}
	srv, err := startServers(ctx, r, cfg)
	if err != nil {
		o.close()
		return err
	}
	defer srv.close()
	r.log.Info("relay started", "node", cfg.Node, "listen", cfg.Listen.String(), "interface", cfg.Interface,
		"peers", len(cfg.Peers), "source", string(cfg.Source), "admin", cfg.Admin, "metrics", cfg.Metrics)
	for o != nil {
		r.setIO(o)
		lost := r.carry(ctx, o)
		o.close()
		if !lost {
			break
		}
		r.stats.interfaceLost.Add(1)
		r.stats.interfaceDown.Store(true)
		r.offline()
		r.log.Warn("interface gone: carrying nothing until it is back", "interface", cfg.Interface)
		if o = r.reopen(ctx); o != nil {
			r.stats.interfaceDown.Store(false)
			r.log.Info("interface back: carrying again", "interface", cfg.Interface, "index", o.ifi.Index)
		}
	}
	r.log.Info("relay stopped")
	return nil
}

// config returns the current configuration.
func (r *Relay) config() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// setIO makes o the sockets the relay uses; no loop may be running.
func (r *Relay) setIO(o *osIO) {
	r.mu.Lock()
	r.io = o
	r.mu.Unlock()
}

// offline drops what the relay knew while its sockets were open: the joins
// went with them (the next sockets join again), and its peers, no longer
// heard, are down until they are heard again.
func (r *Relay) offline() {
	r.mu.Lock()
	clear(r.joined)
	r.members = map[netip.Addr]int{}
	for _, p := range r.peers {
		p.up.Store(false)
	}
	r.rebuild()
	r.mu.Unlock()
}

// ifaceCheckEvery is how often a running relay checks that its LAN
// interface is still the one its sockets are bound to.
const ifaceCheckEvery = time.Second

// carry runs the relay's loops on o until ctx ends (false) or the LAN
// interface vanishes (true).
func (r *Relay) carry(ctx context.Context, o *osIO) (lost bool) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.ue4c != nil && r.config().Source == config.SourceRelay {
		r.log.Info("re-emitting from the relay's own address", "from", o.ue4c.LocalAddr().String(), "udp_segment", o.emitGSO.Load())
	}
	var wg sync.WaitGroup
	loop := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(sctx) }()
	}
	loop(r.underlayLoop)
	loop(r.membershipLoop)
	if o.capPkt != nil {
		loop(r.capture4Loop)
	} else {
		loop(r.capture4RawLoop)
	}
	if o.cap6 != nil {
		loop(r.capture6Loop)
	}
	r.tick(sctx, time.Now(), true)
	loop(r.tickLoop)

	t := time.NewTicker(ifaceCheckEvery)
	for !lost && sctx.Err() == nil {
		select {
		case <-sctx.Done():
		case <-t.C:
			lost = o.ifaceGone()
		case <-r.ifaceCheck:
			lost = o.ifaceGone()
		}
	}
	t.Stop()
	cancel()
	// The blocking reads (underlay, packet capture) see the end within
	// readTimeout.
	o.cap4c.SetReadDeadline(time.Unix(1, 0))
	if o.cap6c != nil {
		o.cap6c.SetReadDeadline(time.Unix(1, 0))
	}
	wg.Wait()
	return lost
}

// ifaceGone reports whether o's LAN interface is gone: no interface has its
// name, or another one does (deleted and made again). Another failure of
// the lookup is not taken for a vanished interface.
func (o *osIO) ifaceGone() bool {
	ifr, err := unix.NewIfreq(o.ifi.Name)
	if err != nil {
		return false
	}
	if err := unix.IoctlIfreq(o.under.fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return errors.Is(err, unix.ENODEV)
	}
	return int(ifr.Uint32()) != o.ifi.Index
}

// reopen opens the relay's sockets again once the LAN interface is back,
// trying every reopenEvery; nil when ctx ends first.
func (r *Relay) reopen(ctx context.Context) *osIO {
	t := time.NewTicker(reopenEvery)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		o, err := openIO(ctx, r.config())
		if err == nil {
			return o
		}
		if msg := err.Error(); msg != last {
			last = msg
			r.log.Info("waiting for the interface", "err", msg)
		}
	}
}

// reopenEvery is how often a relay whose interface vanished tries to open
// its sockets again.
const reopenEvery = 500 * time.Millisecond

func (r *Relay) tickLoop(ctx context.Context) {
	const every = 200 * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	lastHello := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.mu.Lock()
			ka := r.cfg.Keepalive
			r.mu.Unlock()
			due := now.Sub(lastHello) >= ka
			if due {
				lastHello = now
			}
			r.tick(ctx, now, due)
		case <-r.kick:
			r.tick(ctx, time.Now(), true)
			lastHello = time.Now()
		}
	}
}

// readErr logs a read error and pauses briefly so that a persistent error
// (an interface gone) does not spin.
func (r *Relay) readErr(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	r.log.Warn("reading", "socket", what, "err", err)
	select { // the interface may be gone: check now
	case r.ifaceCheck <- struct{}{}:
	default:
	}
	select {
	case <-ctx.Done():
	case <-time.After(100 * time.Millisecond):
	}
}

// membershipLoop hears the IGMP and MLD messages of other hosts on the LAN.
func (r *Relay) membershipLoop(ctx context.Context) {
	buf := make([]byte, 1<<16)
	for ctx.Err() == nil {
		n, info, err := r.io.pkt.Read(ctx, buf)
		if err != nil {
			r.readErr(ctx, "membership", err)
			continue
		}
		if info.Outgoing() {
			continue // this host's own: its memberships are in /proc
		}
		p, err := igmp.DecodeIP(buf[:n])
		if err != nil || p.Msg == nil {
			if err != nil && !errors.Is(err, igmp.ErrNotIP) {
				r.stats.drop(DropMalformed)
			}
			continue
		}
		r.onMembership(time.Now(), p.Src, p.Msg)
	}
}

func (r *Relay) underlayLoop(ctx context.Context) {
	u := r.io.under
	w := &recvWork{}
	for ctx.Err() == nil {
		n, err := u.read()
		if err != nil {
			r.readErr(ctx, "underlay", err)
			continue
		}
		if n == 0 {
			continue
		}
		r.stats.underlayReads.Add(uint64(n))
		now := time.Now()
		for i := 0; i < n; i++ {
			b, from, oob := u.datagram(i)
			if !from.IsValid() {
				continue
			}
			// Coalesced frames (UDP_GRO): all of one size but the last.
			seg := groSize(oob)
			if seg <= 0 {
				seg = len(b)
			}
			for len(b) > 0 {
				k := min(seg, len(b))
				r.onFrame(w, from, b[:k], now)
				b = b[k:]
			}
		}
		r.flushEmit(w)
	}
}

// groSize returns the segment size of a UDP_GRO control message in oob,
// or 0.
func groSize(oob []byte) int {
	for len(oob) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(oob) {
			return 0
		}
		if h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && l >= unix.CmsgLen(4) {
			return int(binary.NativeEndian.Uint32(oob[unix.CmsgLen(0):]))
		}
		oob = oob[min(unix.CmsgSpace(l-unix.CmsgLen(0)), len(oob)):]
	}
	return 0
}

func (r *Relay) capture4Loop(ctx context.Context) {
	c := r.io.capPkt
	w := newSendWork()
	for ctx.Err() == nil {
		n, err := c.read()
		if err != nil {
			r.readErr(ctx, "capture4", err)
			continue
		}
		if n == 0 {
			continue
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			b := c.bufs[i][:c.hdrs[i].Len]
			seg, ok := vnetSegment(b)
			if !ok {
				continue
			}
			off, ok := ipOffset(b[vnetHdrLen:], c.linkLen)
			if !ok {
				continue
			}
			r.captured4(w, seg, b[vnetHdrLen+off:], now)
		}
		r.flush(w)
	}
}

// capture4RawLoop reads IPv4 from the raw socket, on interfaces where no
// packet socket does.
func (r *Relay) capture4RawLoop(ctx context.Context) {
	defer unblock(ctx, r.io.cap4c)()
	ms := newMsgs(batchSize, 65536, 0)
	w := newSendWork()
	for ctx.Err() == nil {
		n, err := r.io.cap4.ReadBatch(ms, 0)
		if err != nil {
			r.readErr(ctx, "capture4", err)
			continue
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			r.captured4(w, 0, ms[i].Buffers[0][:ms[i].N], now)
		}
		r.flush(w)
	}
}

func (r *Relay) capture6Loop(ctx context.Context) {
	defer unblock(ctx, r.io.cap6c)()
	ms := newMsgs(batchSize, 65536, 128)
	w := newSendWork()
	var cm ipv6.ControlMessage
	for ctx.Err() == nil {
		n, err := r.io.cap6.ReadBatch(ms, 0)
		if err != nil {
			r.readErr(ctx, "capture6", err)
			continue
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			cm = ipv6.ControlMessage{}
			if err := cm.Parse(ms[i].OOB[:ms[i].NN]); err != nil || cm.Dst == nil {
				continue
			}
			if cm.IfIndex != 0 && cm.IfIndex != r.io.ifi.Index {
				continue
			}
			d, _ := netip.AddrFromSlice(cm.Dst)
			if !d.IsMulticast() {
				continue
			}
			ia, ok := ms[i].Addr.(*net.IPAddr)
			if !ok {
				continue
			}
			s, _ := netip.AddrFromSlice(ia.IP)
			sport, dport, payload, err := ParseUDP(ms[i].Buffers[0][:ms[i].N])
			if err != nil {
				continue
			}
			hops := cm.HopLimit
			if hops < 0 || hops > 255 {
				hops = 1
			}
			r.onCaptured(w, netip.AddrPortFrom(s, sport), netip.AddrPortFrom(d, dport), 0, uint8(hops), false, payload, now)
		}
		r.flush(w)
	}
}

// captured4 handles one IPv4 packet read from the LAN; seg is the segment
// size of a segmented send not yet cut (0: one datagram).
func (r *Relay) captured4(w *sendWork, seg int, pkt []byte, now time.Time) {
	src, dst, ipid, ttl, payload, err := ParseIPv4UDP(pkt)
	if err != nil {
		return
	}
	d := dst.Addr()
	bcast := d == broadcastGroup || (d == r.io.bcast4 && r.io.bcast4.IsValid())
	if !bcast && !d.IsMulticast() {
		return
	}
	if seg <= 0 || seg >= len(payload) {
		r.onCaptured(w, src, dst, ipid, ttl, bcast, payload, now)
		return
	}
	// A segmented send (UDP_SEGMENT) seen before the kernel cut it: its
	// datagrams, with the identifications they get.
	for k := 0; len(payload) > 0; k++ {
		m := min(seg, len(payload))
		r.onCaptured(w, src, dst, ipid+uint16(k), ttl, bcast, payload[:m], now)
		payload = payload[m:]
	}
}

// linkHeaderLen is the length of the link-layer header that a raw packet
// socket on interface name reads before the IP header: 14 on Ethernet, 0 on
// interfaces without one; ok is false for other kinds.
func linkHeaderLen(name string) (int, bool) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return 0, false
	}
	switch string(bytes.TrimSpace(b)) {
	case "1": // ARPHRD_ETHER
		return 14, true
	case "65534": // ARPHRD_NONE
		return 0, true
	}
	return 0, false
}

// pktCapture is an AF_PACKET socket on the LAN interface that reads IPv4
// packets, those this host sends and those it receives, in batches
// (recvmmsg), each after a virtio-net header that tells the segment size of
// a segmented (UDP_SEGMENT) send, which a raw socket would see as one
// datagram.
type pktCapture struct {
	f       *os.File // owns fd
	fd      int
	linkLen int // bytes of link-layer header before the IP header
	hdrs    []mmsghdr
	iov     []unix.Iovec
	bufs    [][]byte
}

// mmsghdr is struct mmsghdr.
type mmsghdr struct {
	Hdr unix.Msghdr
	Len uint32
	_   [4]byte
}

func openPktCapture(ifi *net.Interface, filter []bpf.RawInstruction, linkLen int) (*pktCapture, error) {
	// Blocking: read by a goroutine that waits in recvmmsg (see udpSock).
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	ins := make([]unix.SockFilter, len(filter))
	for i, r := range filter {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	if err = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err == nil {
		err = unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog)
	}
	if err == nil {
		err = setReadTimeout(fd)
	}
	if err == nil {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20) != nil {
			unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
		}
		// Protocol 0 until now: nothing was queued before the filter.
		// Every protocol (the filter keeps IPv4): only such a socket
		// sees the packets this host sends.
		err = unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index})
	}
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	c := &pktCapture{f: os.NewFile(uintptr(fd), "capture4"), fd: fd, linkLen: linkLen}
	c.hdrs = make([]mmsghdr, batchSize)
	c.iov = make([]unix.Iovec, batchSize)
	c.bufs = make([][]byte, batchSize)
	for i := range c.hdrs {
		c.bufs[i] = make([]byte, vnetHdrLen+65536)
		c.iov[i].Base = &c.bufs[i][0]
		c.iov[i].SetLen(len(c.bufs[i]))
		c.hdrs[i].Hdr.Iov = &c.iov[i]
		c.hdrs[i].Hdr.SetIovlen(1)
	}
	return c, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// read waits up to readTimeout for packets and reads up to batchSize of
// them; packet i is c.bufs[i][:c.hdrs[i].Len]. 0 packets and no error
// means the wait timed out.
func (c *pktCapture) read() (int, error) { return recvmmsg(c.fd, c.hdrs) }
