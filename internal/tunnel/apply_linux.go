package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// kernel talks netlink in the caller's network namespace.
type kernel struct {
	h   *netlink.Handle
	log io.Writer
	n   int // changes made
}

func newKernel(log io.Writer) (*kernel, error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("opening netlink: %w", err)
	}
	if log == nil {
		log = io.Discard
	}
	return &kernel{h: h, log: log}, nil
}

func (k *kernel) close() { k.h.Close() }

func (k *kernel) did(cmd string) {
	k.n++
	fmt.Fprintln(k.log, cmd)
}

// link returns the device called name, or nil.
func (k *kernel) link(name string) (netlink.Link, error) {
	l, err := k.h.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up device %s: %w", name, err)
	}
	return l, nil
}

// owned reports whether mcast tunnel made the device d.
func owned(d netlink.Link) bool { return OwnedDevice(d.Attrs().Alias, d.Attrs().Group) }

// undo is a journal of what Up made, run backwards when a later step fails.
type undo []func()

func (u *undo) push(f func()) { *u = append(*u, f) }
func (u undo) run() {
	for i := len(u) - 1; i >= 0; i-- {
		u[i]()
	}
}

// Up makes this host (its current network namespace) match s, and writes
// each change it makes to log as the equivalent command. Running it again
// changes nothing. On failure it removes what it made before failing.
// It returns how many changes it made.
func Up(ctx context.Context, s State, log io.Writer) (int, error) {
	k, err := newKernel(log)
	if err != nil {
		return 0, err
	}
	defer k.close()
	var u undo
	if err := k.up(ctx, s, &u); err != nil {
		u.run()
		return 0, err
	}
	return k.n, nil
}

func (k *kernel) up(ctx context.Context, s State, u *undo) error {
	// Check everything before making anything.
	for _, l := range s.Links {
		cur, err := k.link(l.Name)
		if err != nil {
			return err
		}
		if cur != nil && !owned(cur) {
			return fmt.Errorf("device %s already exists and was not made by mcast tunnel; remove it or pick another device name in the config", l.Name)
		}
	}
	for _, r := range s.Routes {
		rs, err := k.h.RouteListFiltered(unix.AF_INET, &netlink.Route{Dst: prefixNet(r.Dst), Table: unix.RT_TABLE_MAIN},
			netlink.RT_FILTER_DST|netlink.RT_FILTER_TABLE)
		if err != nil {
			return fmt.Errorf("listing routes to %s: %w", r.Dst, err)
		}
		for _, cur := range rs {
			dev, _ := k.h.LinkByIndex(cur.LinkIndex)
			if dev == nil || dev.Attrs().Name != r.Dev {
				name := fmt.Sprintf("ifindex %d", cur.LinkIndex)
				if dev != nil {
					name = dev.Attrs().Name
				}
				return fmt.Errorf("route %s already goes through %s: remove it (ip route del %s dev %s) or set multicast_route in the config", r.Dst, name, r.Dst, name)
			}
		}
	}

	for _, l := range s.Links {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := k.ensureLink(s, l, u); err != nil {
			return err
		}
	}
	for _, f := range s.FDB {
		// Entries to nodes no longer in the config are removed below.
		if err := k.ensureFDB(f, u); err != nil {
			return err
		}
	}
	if err := k.pruneFDB(s); err != nil {
		return err
	}
	for _, a := range s.Addrs {
		if err := k.ensureAddr(s, a, u); err != nil {
			return err
		}
	}
	for _, l := range s.Links {
		cur, err := k.link(l.Name)
		if err != nil {
			return err
		}
		if cur.Attrs().Flags&net.FlagUp == 0 {
			if err := k.h.LinkSetUp(cur); err != nil {
				return fmt.Errorf("%s: %w", l.upCmd(), err)
			}
			k.did(l.upCmd())
		}
	}
	for _, r := range s.Routes {
		if err := k.ensureRoute(r, u); err != nil {
			return err
		}
	}
	return k.ensureSysctls(s, u)
}

// sameLink reports whether the existing device cur is what l asks for, in
// the properties that cannot change without making it again.
func sameLink(cur netlink.Link, l Link) bool {
	base := WithRestores(cur.Attrs().Alias, nil)
	if base != l.Alias {
		return false
	}
	switch c := cur.(type) {
	case *netlink.Bridge:
		return l.Kind == KindBridge
	case *netlink.Vxlan:
		return l.Kind == KindVXLAN && c.VxlanId == l.VNI && c.Port == l.Port && c.TTL == l.TTL &&
			addrOf(c.SrcAddr) == l.Local && addrOf(c.Group) == l.Remote
	case *netlink.Gretap:
		return l.Kind == KindGretap && int(c.Ttl) == l.TTL && addrOf(c.Local) == l.Local && addrOf(c.Remote) == l.Remote
	}
	return false
}

func addrOf(ip net.IP) netip.Addr {
	if ip == nil || ip.IsUnspecified() {
		return netip.Addr{}
	}
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

func (k *kernel) ensureLink(s State, l Link, u *undo) error {
	cur, err := k.link(l.Name)
	if err != nil {
		return err
	}
	alias := l.Alias
	if cur != nil && !sameLink(cur, l) {
		// The config changed, or an up killed before it set the alias
		// left the device: make it again, keeping its sysctl records.
		alias = WithRestores(l.Alias, Restores(cur.Attrs().Alias))
		if err := k.h.LinkDel(cur); err != nil {
			return fmt.Errorf("%s: %w", l.delCmd(), err)
		}
		k.did(l.delCmd())
		cur = nil
	}
	if cur == nil {
		// The request gives the device the group OwnerGroup, which marks
		// it as ours even if this process dies before the alias is set.
		if err := k.h.LinkAdd(LinkRequest(l)); err != nil {
			return linkAddError(l, err)
		}
		name := l.Name
		u.push(func() {
			if d, _ := k.h.LinkByName(name); d != nil {
				_ = k.h.LinkDel(d)
			}
		})
		k.did(l.addCmd())
		if cur, err = k.link(l.Name); err != nil || cur == nil {
			return fmt.Errorf("device %s vanished after it was made: %v", l.Name, err)
		}
		// The kernel ignores IFLA_IFALIAS when it creates a link: set it now.
		if err := k.h.LinkSetAlias(cur, alias); err != nil {
			return fmt.Errorf("%s: %w", l.aliasCmd(alias), err)
		}
		cur.Attrs().Alias = alias
		k.did(l.aliasCmd(alias))
	} else if cur.Attrs().MTU != l.MTU {
		if err := k.h.LinkSetMTU(cur, l.MTU); err != nil {
			return fmt.Errorf("%s: %w", l.mtuCmd(), err)
		}
		k.did(l.mtuCmd())
	}
	if l.Kind == KindBridge {
		want := boolArg(l.Snooping)
		if readSys(l.Name, "multicast_snooping") != want || readSys(l.Name, "multicast_querier") != want ||
			readSys(l.Name, "multicast_query_use_ifaddr") != "1" {
			if err := setBridgeMulticast(cur.Attrs().Index, l.Snooping); err != nil {
				return fmt.Errorf("%s: %w", l.querierCmd(), err)
			}
			k.did(l.querierCmd())
		}
	}
	if l.Master != "" {
		m, err := k.link(l.Master)
		if err != nil || m == nil {
			return fmt.Errorf("%s: bridge %s is missing: %v", l.masterCmd(), l.Master, err)
		}
		if cur.Attrs().MasterIndex != m.Attrs().Index {
			if err := k.h.LinkSetMasterByIndex(cur, m.Attrs().Index); err != nil {
				return fmt.Errorf("%s: %w", l.masterCmd(), err)
			}
			k.did(l.masterCmd())
		}
	}
	return nil
}

// linkAddError names the kernel feature a failed device creation lacks.
func linkAddError(l Link, err error) error {
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EPROTONOSUPPORT) || errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("kernel feature %s is missing (%s): %s: %w", featureName(l.Kind), moduleName(l.Kind), l.addCmd(), err)
	}
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%s: %w (needs CAP_NET_ADMIN: run as root)", l.addCmd(), err)
	}
	return fmt.Errorf("%s: %w", l.addCmd(), err)
}

func featureName(kind string) string {
	switch kind {
	case KindGretap:
		return "GRETAP"
	case KindVXLAN:
		return "VXLAN"
	}
	return strings.ToUpper(kind)
}

func moduleName(kind string) string {
	switch kind {
	case KindGretap:
		return "module ip_gre"
	case KindVXLAN:
		return "module vxlan"
	}
	return "module " + kind
}

// readSys reads /sys/class/net/DEV/bridge/NAME ("" when unreadable).
func readSys(dev, name string) string {
	b, err := os.ReadFile(filepath.Join("/sys/class/net", dev, "bridge", name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// setBridgeMulticast sets a bridge's IGMP snooping and querier (the netlink
// library has no field for the querier): RTM_NEWLINK with IFLA_BR_*.
func setBridgeMulticast(index int, on bool) error {
	b := byte(0)
	if on {
		b = 1
	}
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Index = int32(index)
	req.AddData(msg)
	info := nl.NewRtAttr(unix.IFLA_LINKINFO, nil)
	info.AddRtAttr(nl.IFLA_INFO_KIND, nl.NonZeroTerminated("bridge"))
	data := info.AddRtAttr(nl.IFLA_INFO_DATA, nil)
	data.AddRtAttr(nl.IFLA_BR_MCAST_SNOOPING, []byte{b})
	data.AddRtAttr(nl.IFLA_BR_MCAST_QUERIER, []byte{b})
	data.AddRtAttr(nl.IFLA_BR_MCAST_QUERY_USE_IFADDR, []byte{1})
	req.AddData(info)
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

func isZeroMAC(m net.HardwareAddr) bool {
	if len(m) != 6 {
		return false
	}
	for _, b := range m {
		if b != 0 {
			return false
		}
	}
	return true
}

// zeroFDB lists the all-zeros FDB destinations of a device.
func (k *kernel) zeroFDB(index int) ([]netip.Addr, error) {
	ns, err := k.h.NeighList(index, afBridge)
	if err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, n := range ns {
		if n.LinkIndex == index && isZeroMAC(n.HardwareAddr) && n.IP != nil {
			out = append(out, addrOf(n.IP))
		}
	}
	return out, nil
}

func (k *kernel) ensureFDB(f FDB, u *undo) error {
	dev, err := k.link(f.Dev)
	if err != nil || dev == nil {
		return fmt.Errorf("%s: device missing: %v", f.addCmd(), err)
	}
	have, err := k.zeroFDB(dev.Attrs().Index)
	if err != nil {
		return fmt.Errorf("listing the FDB of %s: %w", f.Dev, err)
	}
	for _, a := range have {
		if a == f.Dst {
			return nil
		}
	}
	req := FDBRequest(f, dev.Attrs().Index)
	if err := k.h.NeighAppend(req); err != nil {
		return fmt.Errorf("%s: %w", f.addCmd(), err)
	}
	u.push(func() { _ = k.h.NeighDel(req) })
	k.did(f.addCmd())
	return nil
}

// pruneFDB removes all-zeros entries to addresses no longer peers.
func (k *kernel) pruneFDB(s State) error {
	for _, l := range s.Links {
		if l.Kind != KindVXLAN || l.Remote.IsValid() {
			continue
		}
		dev, err := k.link(l.Name)
		if err != nil || dev == nil {
			return err
		}
		have, err := k.zeroFDB(dev.Attrs().Index)
		if err != nil {
			return fmt.Errorf("listing the FDB of %s: %w", l.Name, err)
		}
		for _, a := range have {
			want := false
			for _, f := range s.FDB {
				want = want || (f.Dev == l.Name && f.Dst == a)
			}
			if !want {
				f := FDB{Dev: l.Name, Dst: a}
				if err := k.h.NeighDel(FDBRequest(f, dev.Attrs().Index)); err != nil {
					return fmt.Errorf("%s: %w", f.delCmd(), err)
				}
				k.did(f.delCmd())
			}
		}
	}
	return nil
}

func (k *kernel) ensureAddr(s State, a Addr, u *undo) error {
	dev, err := k.link(a.Dev)
	if err != nil || dev == nil {
		return fmt.Errorf("%s: device missing: %v", a.addCmd(), err)
	}
	have, err := k.h.AddrList(dev, unix.AF_INET)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", a.Dev, err)
	}
	found := false
	for _, h := range have {
		p, ok := netipPrefix(h.IPNet)
		if !ok {
			continue
		}
		if p == a.Prefix && addrOf(h.Broadcast) == a.Broadcast {
			found = true
			continue
		}
		// The device is ours: an address the config no longer gives goes.
		old := Addr{Dev: a.Dev, Prefix: p}
		if err := k.h.AddrDel(dev, &h); err != nil {
			return fmt.Errorf("%s: %w", old.delCmd(), err)
		}
		k.did(old.delCmd())
	}
	if found {
		return nil
	}
	req := AddrRequest(a)
	if err := k.h.AddrAdd(dev, req); err != nil {
		return fmt.Errorf("%s: %w", a.addCmd(), err)
	}
	u.push(func() { _ = k.h.AddrDel(dev, req) })
	k.did(a.addCmd())
	return nil
}

func (k *kernel) ensureRoute(r Route, u *undo) error {
	dev, err := k.link(r.Dev)
	if err != nil || dev == nil {
		return fmt.Errorf("%s: device missing: %v", r.addCmd(), err)
	}
	req := RouteRequest(r, dev.Attrs().Index)
	rs, err := k.h.RouteListFiltered(unix.AF_INET, &netlink.Route{Dst: req.Dst, LinkIndex: req.LinkIndex, Table: unix.RT_TABLE_MAIN},
		netlink.RT_FILTER_DST|netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
	if err != nil {
		return fmt.Errorf("listing routes to %s: %w", r.Dst, err)
	}
	if len(rs) > 0 {
		return nil
	}
	if err := k.h.RouteAdd(req); err != nil {
		return fmt.Errorf("%s: %w", r.addCmd(), err)
	}
	u.push(func() { _ = k.h.RouteDel(req) })
	k.did(r.addCmd())
	return nil
}

// Probe reports whether the kernel can make devices of kind (vxlan,
// gretap), by making one for a moment.
func Probe(kind string) error {
	k, err := newKernel(nil)
	if err != nil {
		return err
	}
	defer k.close()
	name := fmt.Sprintf("mctprobe%d", os.Getpid()%10000)
	l := Link{Name: name, Kind: kind, MTU: 1400, VNI: 1, Port: DefaultPort, TTL: 64,
		Local: netip.MustParseAddr("192.0.2.1"), Remote: netip.MustParseAddr("192.0.2.2")}
	if err := k.h.LinkAdd(LinkRequest(l)); err != nil {
		if errors.Is(err, unix.EPERM) {
			return fmt.Errorf("probing %s: %w (needs CAP_NET_ADMIN)", featureName(kind), err)
		}
		return fmt.Errorf("kernel feature %s is missing (%s): %w", featureName(kind), moduleName(kind), err)
	}
	if d, _ := k.h.LinkByName(name); d != nil {
		_ = k.h.LinkDel(d)
	}
	return nil
}
