package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/mcasttools/mcast/internal/firewall"
	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/sock/capture"
	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// LiveHost is the running system: netlink, files below /, the firewall tools.
func LiveHost() *Host {
	return &Host{
		FS:     hostfs.Host(),
		Net:    liveNet{},
		Rules:  firewall.Live,
		Root:   os.Geteuid() == 0,
		Probe:  liveProbe,
		Listen: liveListen,
	}
}

// liveListen captures IGMP and MLD with an AF_PACKET capture whose kernel
// filter passes only those (igmp.QueryFilter) and keeps the queries.
func liveListen(ctx context.Context, iface string, d time.Duration, enough func([]HeardQuery) bool) ([]HeardQuery, error) {
	c, err := capture.Open(iface, igmp.QueryFilter(sock.NetOff))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var qs []HeardQuery
	for {
		f, err := c.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return qs, nil
			}
			return qs, err
		}
		p, err := igmp.DecodeFrame(f)
		if err != nil {
			continue
		}
		if q, ok := QueryOf(f.Time, f.Iface, p); ok {
			qs = append(qs, q)
			if enough(qs) {
				return qs, nil
			}
		}
	}
}

type liveNet struct{}

func (liveNet) Links(ctx context.Context) ([]Link, error) {
	ls, err := netlink.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing links: %w", err)
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return nil, fmt.Errorf("listing addresses: %w", err)
	}
	out := make([]Link, 0, len(ls))
	for _, l := range ls {
		a := l.Attrs()
		lk := Link{
			Name:         a.Name,
			Index:        a.Index,
			Type:         l.Type(),
			Up:           a.Flags&net.FlagUp != 0,
			LowerUp:      a.RawFlags&unix.IFF_LOWER_UP != 0,
			Multicast:    a.Flags&net.FlagMulticast != 0,
			Broadcast:    a.Flags&net.FlagBroadcast != 0,
			Loopback:     a.Flags&net.FlagLoopback != 0,
			PointToPoint: a.Flags&net.FlagPointToPoint != 0,
			NoARP:        a.RawFlags&unix.IFF_NOARP != 0,
			MasterIndex:  a.MasterIndex,
		}
		for _, ad := range addrs {
			if ad.LinkIndex != a.Index || ad.IPNet == nil {
				continue
			}
			ip, ok := netip.AddrFromSlice(ad.IP)
			if !ok {
				continue
			}
			ones, _ := ad.Mask.Size()
			x := Addr{Prefix: netip.PrefixFrom(ip.Unmap(), ones), Autojoin: ad.Flags&unix.IFA_F_MCAUTOJOIN != 0}
			if b, ok := netip.AddrFromSlice(ad.Broadcast); ok && !b.IsUnspecified() {
				x.Broadcast = b.Unmap()
			}
			lk.Addrs = append(lk.Addrs, x)
		}
		out = append(out, lk)
	}
	return out, nil
}

func (n liveNet) Routes(ctx context.Context, family int) ([]Route, error) {
	fam := netlink.FAMILY_V4
	if family == 6 {
		fam = netlink.FAMILY_V6
	}
	rs, err := netlink.RouteListFiltered(fam, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, fmt.Errorf("listing IPv%d routes: %w", family, err)
	}
	names := linkNames()
	out := make([]Route, 0, len(rs))
	for _, r := range rs {
		out = append(out, convRoute(r, names))
	}
	return out, nil
}

func (liveNet) RouteGet(ctx context.Context, dst netip.Addr, oif int, src netip.Addr) (Route, error) {
	opts := &netlink.RouteGetOptions{OifIndex: oif}
	if src.IsValid() {
		opts.SrcAddr = src.AsSlice()
	}
	rs, err := netlink.RouteGetWithOptions(dst.AsSlice(), opts)
	if err != nil {
		if errors.Is(err, unix.ENETUNREACH) {
			return Route{}, fmt.Errorf("ip route get %s: %w", dst, ErrUnreachable)
		}
		return Route{}, fmt.Errorf("ip route get %s: %w", dst, err)
	}
	if len(rs) == 0 {
		return Route{}, fmt.Errorf("ip route get %s: no answer", dst)
	}
	r := convRoute(rs[0], linkNames())
	if !r.Dst.IsValid() {
		r.Dst = netip.PrefixFrom(dst, dst.BitLen())
	}
	return r, nil
}

func linkNames() map[int]string {
	m := map[int]string{}
	ls, _ := netlink.LinkList()
	for _, l := range ls {
		m[l.Attrs().Index] = l.Attrs().Name
	}
	return m
}

var rtnNames = map[int]string{
	unix.RTN_UNICAST: "unicast", unix.RTN_LOCAL: "local", unix.RTN_BROADCAST: "broadcast",
	unix.RTN_ANYCAST: "anycast", unix.RTN_MULTICAST: "multicast", unix.RTN_BLACKHOLE: "blackhole",
	unix.RTN_UNREACHABLE: "unreachable", unix.RTN_PROHIBIT: "prohibit", unix.RTN_THROW: "throw",
	unix.RTN_NAT: "nat",
}

var protoNames = map[netlink.RouteProtocol]string{
	unix.RTPROT_KERNEL: "kernel", unix.RTPROT_BOOT: "boot", unix.RTPROT_STATIC: "static",
	unix.RTPROT_DHCP: "dhcp", unix.RTPROT_RA: "ra",
}

func convRoute(r netlink.Route, names map[int]string) Route {
	out := Route{Type: rtnNames[r.Type], Table: r.Table, Dev: names[r.LinkIndex], Proto: protoNames[r.Protocol]}
	if out.Type == "" {
		out.Type = fmt.Sprintf("type%d", r.Type)
	}
	if r.Dst != nil {
		if ip, ok := netip.AddrFromSlice(r.Dst.IP); ok {
			ones, _ := r.Dst.Mask.Size()
			out.Dst = netip.PrefixFrom(ip.Unmap(), ones)
		}
	}
	if ip, ok := netip.AddrFromSlice(r.Gw); ok {
		out.Gateway = ip.Unmap()
	}
	if ip, ok := netip.AddrFromSlice(r.Src); ok {
		out.Src = ip.Unmap()
	}
	return out
}

// BridgeQuerier asks the kernel (RTM_GETLINK) for the bridge's view of the
// IGMP querier on its segment.
func (liveNet) BridgeQuerier(ctx context.Context, ifindex int) (Querier, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(ifindex)
	req.AddData(msg)
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWLINK)
	if err != nil {
		return Querier{}, fmt.Errorf("reading bridge %d: %w", ifindex, err)
	}
	for _, m := range msgs {
		if len(m) < unix.SizeofIfInfomsg {
			continue
		}
		attrs, err := nl.ParseRouteAttr(m[unix.SizeofIfInfomsg:])
		if err != nil {
			return Querier{}, fmt.Errorf("reading bridge %d: %w", ifindex, err)
		}
		for _, a := range attrs {
			if a.Attr.Type&0x3fff != unix.IFLA_LINKINFO {
				continue
			}
			info, err := nl.ParseRouteAttr(a.Value)
			if err != nil {
				return Querier{}, fmt.Errorf("reading bridge %d link info: %w", ifindex, err)
			}
			for _, i := range info {
				if i.Attr.Type&0x3fff != unix.IFLA_INFO_DATA {
					continue
				}
				data, err := nl.ParseRouteAttr(i.Value)
				if err != nil {
					return Querier{}, fmt.Errorf("reading bridge %d data: %w", ifindex, err)
				}
				for _, d := range data {
					if d.Attr.Type&0x3fff == unix.IFLA_BR_MCAST_QUERIER_STATE {
						return ParseQuerierState(d.Value)
					}
				}
			}
		}
	}
	// The kernel leaves the attribute out when it knows of no querier
	// (and kernels before 5.15 never send it).
	return Querier{}, nil
}
