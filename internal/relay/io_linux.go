package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/sock"
	"golang.org/x/net/bpf"
	"golang.org/x/net/ipv4"
)

// osIO is the relay's sockets, all opened through internal/sock. It is the
// Linux linkIO.
type osIO struct {
	ifi  *net.Interface
	link linkFacts
	idx  int // the interface's place in the config (0: the first)

	// The underlay: frames to and from peers. The first interface's osIO
	// owns it; the others share it.
	under     *sock.UDPConn
	ownsUnder bool

	// IPv4 capture: on an Ethernet interface (or one without a link
	// header) capPkt reads IPv4 and cap4 only holds the joins; elsewhere
	// cap4 reads.
	cap4    *sock.IPConn
	capPkt  *sock.PacketConn
	linkLen int // bytes of link-layer header before capPkt's IP headers
	// IPv6 capture: likewise, capPkt6 reads where the link header is
	// known (cap6 then only holds the joins).
	cap6    *sock.IPConn
	capPkt6 *sock.PacketConn

	em4, em6 *sock.IPConn // raw emission: whole IP packets
	ue4, ue6 *sock.IPConn // `source relay` emission: UDP datagrams

	members *sock.PacketConn // IGMP and MLD of the LAN
}

// openAll opens the relay's sockets on each of cfg's interfaces, the
// underlay with the first's.
func openAll(ctx context.Context, cfg *config.Config) ([]*osIO, error) {
	var all []*osIO
	for i, name := range ifaceNames(cfg) {
		var under *sock.UDPConn
		if i > 0 {
			under = all[0].under
		}
		o, err := openIO(ctx, cfg, name, i, under)
		if err != nil {
			closeAll(all)
			return nil, err
		}
		all = append(all, o)
	}
	return all, nil
}

func closeAll(all []*osIO) {
	for _, o := range all {
		o.close()
	}
}

// openIO opens every socket of the relay on interface name (the idx-th of
// cfg), one opener per kind of socket; the underlay socket too when under
// is nil.
func openIO(ctx context.Context, cfg *config.Config, name string, idx int, under *sock.UDPConn) (_ *osIO, err error) {
	o := &osIO{idx: idx, under: under}
	defer func() {
		if err != nil {
			o.close()
		}
	}()
	if err := o.openInterface(cfg, name); err != nil {
		return nil, err
	}
	if under == nil {
		if err := o.openUnderlay(cfg); err != nil {
			return nil, err
		}
	} else {
		o.link.gso.Store(under.Segmentation())
	}
	var replies []uint16
	if len(ifaceNames(cfg)) > 1 && !forwarding(name) {
		// Answers to the searches carried from another interface arrive
		// here addressed to a host this interface cannot route to.
		replies = replyPorts(cfg)
	}
	if err := o.openCapture4(replies); err != nil {
		return nil, err
	}
	if err := o.openEmit(false); err != nil {
		return nil, err
	}
	// `source relay` emission, IPv4 (opened whatever the source mode, so
	// that SIGHUP may switch to it).
	if err := o.openUDPEmit(ctx, netip.AddrPortFrom(o.link.addr4, cfg.SourcePort)); err != nil {
		return nil, err
	}
	if err := o.openMembershipCapture(); err != nil {
		return nil, err
	}
	if !needs6(cfg) {
		return o, nil
	}
	if err := o.openCapture6(); err != nil {
		return nil, err
	}
	if err := o.openEmit(true); err != nil {
		return nil, err
	}
	if o.link.addr6.IsValid() {
		a := o.link.addr6
		if a.IsLinkLocalUnicast() {
			a = a.WithZone(o.ifi.Name)
		}
		if err := o.openUDPEmit(ctx, netip.AddrPortFrom(a, cfg.SourcePort)); err != nil {
			return nil, err
		}
	}
	return o, nil
}

// openInterface finds interface name, its MTU and its addresses.
func (o *osIO) openInterface(cfg *config.Config, name string) error {
	var err error
	o.ifi, err = net.InterfaceByName(name)
	if err != nil {
		return fmt.Errorf("interface %q: %w", name, err)
	}
	o.link.mtu = o.ifi.MTU
	addrs, err := o.ifi.Addrs()
	if err != nil {
		return fmt.Errorf("interface %s addresses: %w", name, err)
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			o.link.addAddr(ipn)
		}
	}
	if !o.link.addr4.IsValid() && (len(cfg.BroadcastPorts) > 0 || cfg.Source == config.SourceRelay) {
		return fmt.Errorf("interface %s has no IPv4 address (needed for broadcasts and source relay)", name)
	}
	return nil
}

// openUnderlay opens the socket of frames to and from peers.
func (o *osIO) openUnderlay(cfg *config.Config) error {
	var err error
	// Frames a peer sent segmented are taken as one read (UDP_GRO).
	if o.under, err = sock.OpenUDP(cfg.Listen, sock.UDPOptions{GRO: true}); err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
	}
	o.ownsUnder = true
	o.link.gso.Store(o.under.Segmentation())
	return nil
}

// openCapture4 opens the IPv4 capture: a packet socket where the link
// header is known (it sees segmented sends before the kernel cuts them;
// and unicast from the replies ports) and a raw socket that holds the
// joins (and reads, elsewhere).
func (o *osIO) openCapture4(replies []uint16) (err error) {
	filter := CaptureFilter4At(o.link.bcast4, sock.NetOff)
	if len(replies) > 0 {
		filter = CaptureFilter4Replies(o.link.bcast4, sock.NetOff, replies)
	}
	o.capPkt, o.cap4, err = o.openCapture(false, filter, CaptureFilter4(o.link.bcast4))
	return err
}

// openCapture6 opens the IPv6 capture, as openCapture4 does: the packet
// socket (with or without Ethernet) also sees a local sender's packets
// without asking for multicast loopback.
func (o *osIO) openCapture6() (err error) {
	o.capPkt6, o.cap6, err = o.openCapture(true, CaptureFilter6At(sock.NetOff), []bpf.Instruction{bpf.RetConstant{Val: 0x40000}})
	o.link.ipv6 = err == nil
	return err
}

// openCapture opens one family's capture. Where the link header is known
// (Ethernet, or none at all), a packet socket reads with pktFilter, whose
// loads are relative to the network header whatever link header (VLAN tags
// too) comes first, and a raw socket only holds the joins; elsewhere the
// raw socket reads, with rawFilter.
func (o *osIO) openCapture(v6 bool, pktFilter, rawFilter []bpf.Instruction) (*sock.PacketConn, *sock.IPConn, error) {
	fam, only := "IPv4", OnlyIPv4
	if v6 {
		fam, only = "IPv6", OnlyIPv6
	}
	what := "opening the " + fam + " capture socket on " + o.ifi.Name
	var pkt *sock.PacketConn
	if hl, ok := linkHeaderLen(o.ifi.Name); ok {
		prog, err := bpf.Assemble(only(SkipMarked(pktFilter)))
		if err != nil {
			return nil, nil, fmt.Errorf("assembling the %s capture filter: %w", fam, err)
		}
		if pkt, err = sock.OpenPacketWith(o.ifi.Name, sock.PacketOptions{Filter: prog, Batch: batchSize}); err != nil {
			return nil, nil, permHint(err, what)
		}
		o.linkLen = hl
		rawFilter = []bpf.Instruction{bpf.RetConstant{Val: 0}}
	}
	prog, err := bpf.Assemble(SkipMarked(rawFilter))
	if err == nil {
		var raw *sock.IPConn
		if raw, err = sock.OpenRaw(o.ifi, v6, "udp", sock.RawOptions{Filter: prog, PacketInfo: v6}); err == nil {
			return pkt, raw, nil
		}
		err = permHint(err, what)
	} else {
		err = fmt.Errorf("assembling the %s capture filter: %w", fam, err)
	}
	if pkt != nil {
		pkt.Close()
	}
	return nil, nil, err
}

// openEmit opens the raw socket that re-emits whole IP packets, marked so
// that the capture filters drop them.
func (o *osIO) openEmit(v6 bool) error {
	c, err := sock.OpenRaw(o.ifi, v6, "255", sock.RawOptions{Mark: EmitMark, Broadcast: !v6, Emit: true})
	if err != nil {
		if v6 {
			return permHint(err, "opening the IPv6 raw emission socket on "+o.ifi.Name)
		}
		return permHint(err, "opening the IPv4 raw emission socket on "+o.ifi.Name)
	}
	if v6 {
		o.em6 = c
	} else {
		o.em4 = c
	}
	return nil
}

// openUDPEmit opens the UDP socket of `source relay` bound to ap, marked
// like the raw emission sockets.
func (o *osIO) openUDPEmit(ctx context.Context, ap netip.AddrPort) error {
	c, err := sock.OpenUDPEmit(ctx, o.ifi, ap, EmitMark)
	if err != nil {
		return permHint(err, "opening the source relay emission socket on "+ap.String())
	}
	if ap.Addr().Is6() {
		o.ue6, o.link.udp6, o.link.src6 = c, true, c.LocalAddr()
		return nil
	}
	o.ue4, o.link.udp4, o.link.src4 = c, true, c.LocalAddr()
	o.link.emitGSO.Store(c.Segmentation())
	return nil
}

// openMembershipCapture opens the packet socket that hears other hosts'
// IGMP and MLD reports.
func (o *osIO) openMembershipCapture() error {
	prog, err := bpf.Assemble(MembershipFilter())
	if err != nil {
		return fmt.Errorf("assembling the membership filter: %w", err)
	}
	o.members, err = sock.OpenPacket(o.ifi.Name, prog, false)
	return err
}

func (o *osIO) close() {
	for _, c := range []*sock.PacketConn{o.capPkt, o.capPkt6} {
		if c != nil {
			c.Close()
		}
	}
	if o.under != nil && o.ownsUnder {
		o.under.Close()
	}
	for _, c := range []*sock.IPConn{o.cap4, o.cap6, o.em4, o.em6, o.ue4, o.ue6} {
		if c != nil {
			c.Close()
		}
	}
	if o.members != nil {
		o.members.Close()
	}
}

// permHint names the capability a permission error lacks.
func permHint(err error, what string) error {
	if errors.Is(err, os.ErrPermission) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("%s: %w (needs CAP_NET_RAW and CAP_NET_ADMIN: run as root or grant them)", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
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

// ifaceGone reports whether o's LAN interface is gone: no interface has its
// name, or another one does (deleted and made again). Another failure of
// the lookup is not taken for a vanished interface.
func (o *osIO) ifaceGone() bool {
	idx, err := o.under.InterfaceIndex(o.ifi.Name)
	if err != nil {
		return errors.Is(err, syscall.ENODEV)
	}
	return idx != o.ifi.Index
}

func (o *osIO) facts() *linkFacts { return &o.link }

func (o *osIO) writeFrames(msgs []ipv4.Message) (int, error) { return o.under.WriteBatch(msgs) }

func (o *osIO) emitPackets(v6 bool, msgs []ipv4.Message) (int, error) {
	if v6 {
		return o.em6.WriteBatch(msgs)
	}
	return o.em4.WriteBatch(msgs)
}

func (o *osIO) emitDatagrams(v6 bool, msgs []ipv4.Message) (int, error) {
	if v6 {
		return o.ue6.WriteBatch(msgs)
	}
	return o.ue4.WriteBatch(msgs)
}

func (o *osIO) join(g netip.Addr) error {
	if g.Is4() {
		return o.cap4.Join(g)
	}
	if o.cap6 == nil {
		return errors.New("no IPv6 capture socket")
	}
	return o.cap6.Join(g)
}

func (o *osIO) leave(g netip.Addr) error {
	if g.Is4() {
		return o.cap4.Leave(g)
	}
	if o.cap6 == nil {
		return nil
	}
	return o.cap6.Leave(g)
}

func (o *osIO) memberships() map[netip.Addr]int {
	var v4 []hostfs.IGMPIface
	var v6 []hostfs.IGMP6Group
	if b, err := os.ReadFile("/proc/net/igmp"); err == nil {
		v4, _ = hostfs.ParseIGMP(bytes.NewReader(b))
	}
	if o.cap6 != nil {
		if b, err := os.ReadFile("/proc/net/igmp6"); err == nil {
			v6, _ = hostfs.ParseIGMP6(bytes.NewReader(b))
		}
	}
	return groupUsers(v4, v6, o.ifi.Name)
}

// query sends general queries on the LAN (IGMPv3 from the interface's
// IPv4 address, MLDv2 from its link-local address), so that the hosts
// report their memberships and snooping switches forward the reports here.
func (o *osIO) query(v4, v6 bool, log *slog.Logger) {
	if v4 && o.link.addr4.IsValid() {
		b := AppendIGMPQuery(nil, o.link.addr4)
		if err := o.em4.WriteTo(b, netip.AddrFrom4([4]byte{224, 0, 0, 1})); err != nil {
			log.Warn("sending an IGMP query", "err", err)
		}
	}
	if v6 && o.em6 != nil && o.link.ll6.IsValid() {
		b := AppendMLDQuery(nil, o.link.ll6)
		if err := o.em6.WriteTo(b, netip.MustParseAddr("ff02::1").WithZone(o.ifi.Name)); err != nil {
			log.Warn("sending an MLD query", "err", err)
		}
	}
}

// forwarding reports whether the kernel routes IPv4 from interface name:
// then it carries unicast answers between interfaces itself.
func forwarding(name string) bool {
	b, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + name + "/forwarding")
	return err == nil && string(bytes.TrimSpace(b)) == "1"
}
