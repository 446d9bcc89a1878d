package tunnel

import (
	"fmt"
	"strings"
)

// The commands below are what `ip`, `bridge` and `sysctl` would run to
// make each part of a State. Plan prints them; Up logs them as it makes
// the same change through netlink.

func (l Link) addCmd() string {
	b := []string{"ip", "link", "add", l.Name, "group", fmt.Sprint(OwnerGroup), "mtu", fmt.Sprint(l.MTU), "type", l.Kind}
	switch l.Kind {
	case KindBridge:
		b = append(b, "mcast_snooping", boolArg(l.Snooping), "mcast_querier", boolArg(l.Snooping), "mcast_query_use_ifaddr", "1")
	case KindVXLAN:
		b = append(b, "id", fmt.Sprint(l.VNI), "local", l.Local.String())
		if l.Remote.IsValid() {
			b = append(b, "remote", l.Remote.String())
		}
		b = append(b, "dstport", fmt.Sprint(l.Port), "ttl", fmt.Sprint(l.TTL))
	case KindGretap:
		b = append(b, "local", l.Local.String(), "remote", l.Remote.String(), "ttl", fmt.Sprint(l.TTL))
	}
	return strings.Join(b, " ")
}

func (l Link) aliasCmd(alias string) string {
	return fmt.Sprintf("ip link set %s alias '%s'", l.Name, alias)
}
func (l Link) masterCmd() string { return fmt.Sprintf("ip link set %s master %s", l.Name, l.Master) }
func (l Link) mtuCmd() string    { return fmt.Sprintf("ip link set %s mtu %d", l.Name, l.MTU) }
func (l Link) upCmd() string     { return fmt.Sprintf("ip link set %s up", l.Name) }
func (l Link) delCmd() string    { return fmt.Sprintf("ip link del %s", l.Name) }
func (l Link) querierCmd() string {
	return fmt.Sprintf("ip link set %s type bridge mcast_snooping %s mcast_querier %s mcast_query_use_ifaddr 1", l.Name, boolArg(l.Snooping), boolArg(l.Snooping))
}

func (a Addr) addCmd() string {
	return fmt.Sprintf("ip addr add %s brd %s dev %s", a.Prefix, a.Broadcast, a.Dev)
}
func (a Addr) delCmd() string { return fmt.Sprintf("ip addr del %s dev %s", a.Prefix, a.Dev) }

func (f FDB) addCmd() string {
	return fmt.Sprintf("bridge fdb append 00:00:00:00:00:00 dev %s dst %s", f.Dev, f.Dst)
}
func (f FDB) delCmd() string {
	return fmt.Sprintf("bridge fdb del 00:00:00:00:00:00 dev %s dst %s", f.Dev, f.Dst)
}

func (r Route) addCmd() string { return fmt.Sprintf("ip route add %s dev %s", r.Dst, r.Dev) }

func (s Sysctl) setCmd() string { return fmt.Sprintf("sysctl -w %s=%s", s.Key, s.Value) }

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// Plan returns the commands that build s by hand, with comment lines
// (starting with #) saying what they are for.
func (s State) Plan() []string {
	c := s.Config
	out := []string{
		fmt.Sprintf("# node %s (underlay %s%s), mode %s, role %s", s.Node.Name, s.Node.Underlay, onDev(s.UnderlayDev), c.Mode, s.Role),
		fmt.Sprintf("# overlay %s, mtu %d = underlay mtu %d - %d bytes of %s overhead", s.Addrs[0].Prefix, s.MTU, s.UnderlayMTU, c.Mode.Overhead(), encapName(c.Mode)),
	}
	if s.UnderlayDev == "" {
		out = append(out, fmt.Sprintf("# (%s is not an address of this host: underlay mtu assumed %d)", s.Node.Underlay, s.UnderlayMTU))
	}
	if c.MTU > 0 {
		out[1] = fmt.Sprintf("# overlay %s, mtu %d (from the config; at most %d = underlay mtu %d - %d bytes of %s overhead)", s.Addrs[0].Prefix, s.MTU, s.UnderlayMTU-c.Mode.Overhead(), s.UnderlayMTU, c.Mode.Overhead(), encapName(c.Mode))
	}
	for _, l := range s.Links {
		if l.Peer != "" {
			out = append(out, fmt.Sprintf("# tunnel to %s", l.Peer))
		}
		out = append(out, l.addCmd(), l.aliasCmd(l.Alias))
		if l.Master != "" {
			out = append(out, l.masterCmd())
		}
	}
	if len(s.FDB) > 0 {
		out = append(out, "# send broadcast, multicast and unknown unicast to every peer")
	}
	for _, f := range s.FDB {
		out = append(out, f.addCmd())
	}
	for _, a := range s.Addrs {
		out = append(out, a.addCmd())
	}
	for _, l := range s.Links {
		out = append(out, l.upCmd())
	}
	for _, r := range s.Routes {
		out = append(out, r.addCmd())
	}
	for _, sc := range s.Sysctls {
		out = append(out, sc.setCmd())
	}
	return out
}

func onDev(dev string) string {
	if dev == "" {
		return ""
	}
	return " on " + dev
}

func encapName(m Mode) string {
	if m == GretapHub {
		return "GRETAP"
	}
	return "VXLAN"
}
