package tunnel

import (
	"fmt"
	"net/netip"
	"strings"
)

// Host is what the desired state needs to know about the machine: its
// interfaces, their MTU and addresses.
type Host struct {
	Interfaces []HostInterface
}

// HostInterface is one interface of the host.
type HostInterface struct {
	Name     string
	MTU      int
	Prefixes []netip.Prefix
}

// owner finds the interface holding address a.
func (h Host) owner(a netip.Addr) (HostInterface, bool) {
	for _, i := range h.Interfaces {
		for _, p := range i.Prefixes {
			if p.Addr() == a {
				return i, true
			}
		}
	}
	return HostInterface{}, false
}

// LocalNode finds the node of c whose underlay address belongs to this host.
func (c *Config) LocalNode(h Host) (Node, error) {
	var found []Node
	for _, n := range c.Nodes {
		if _, ok := h.owner(n.Underlay); ok {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return Node{}, fmt.Errorf("%w: no underlay address in %s belongs to a local interface (%s); name the node with --node", errNoNode, c.File, h.addrList())
	case 1:
		return found[0], nil
	}
	return Node{}, fmt.Errorf("%s: nodes %s and %s both have underlay addresses on this host; name the node with --node", c.File, found[0].Name, found[1].Name)
}

func (h Host) addrList() string {
	var s []string
	for _, i := range h.Interfaces {
		for _, p := range i.Prefixes {
			if p.Addr().Is4() && !p.Addr().IsLoopback() {
				s = append(s, p.Addr().String()+" on "+i.Name)
			}
		}
	}
	if len(s) == 0 {
		return "none with IPv4"
	}
	return strings.Join(s, ", ")
}

// Link kinds.
const (
	KindBridge = "bridge"
	KindVXLAN  = "vxlan"
	KindGretap = "gretap"
)

// Link is a device the overlay needs on a node.
type Link struct {
	Name   string
	Kind   string // bridge, vxlan or gretap
	MTU    int
	Master string // the bridge it is a port of, if any
	Alias  string // marks the device as made by mcast tunnel
	Peer   string // the node a point-to-point tunnel leads to

	// Tunnels.
	Local, Remote netip.Addr // Remote unset: vxlan-mesh, peers in the FDB
	VNI           int
	Port          int
	TTL           int

	// Bridges.
	Snooping bool // IGMP snooping, with the bridge as querier
}

// Addr is an address on a device.
type Addr struct {
	Dev       string
	Prefix    netip.Prefix
	Broadcast netip.Addr
}

// FDB is an all-zeros forwarding entry of a VXLAN device: broadcast,
// unknown unicast and multicast frames are sent to Dst (one per peer).
type FDB struct {
	Dev  string
	Dst  netip.Addr
	Peer string
}

// Route is a route through a device, such as 224.0.0.0/4.
type Route struct {
	Dev string
	Dst netip.Prefix
}

// Sysctl is a setting up changes, and down restores.
type Sysctl struct {
	Key, Value string
}

// Peer is another node, as seen from this one.
type Peer struct {
	Name     string     `json:"name"`
	Underlay netip.Addr `json:"underlay"`
	Overlay  netip.Addr `json:"overlay"`
	Hub      bool       `json:"hub"`
}

// State is what one node of an overlay should have. Plan prints it as
// commands; Up makes the host match it; Down removes it.
type State struct {
	Config      *Config
	Node        Node
	Role        string // hub, spoke or peer
	Device      string // the overlay device: the bridge on a hub, else the tunnel
	UnderlayDev string // the interface holding the node's underlay address ("" when not on this host)
	UnderlayMTU int
	MTU         int
	Links       []Link // in the order they are made
	Addrs       []Addr
	FDB         []FDB
	Routes      []Route
	Sysctls     []Sysctl
	Peers       []Peer
}

// AliasPrefix starts the alias of every device mcast tunnel makes.
const AliasPrefix = "mcast-tunnel "

// OwnerGroup is the device group (IFLA_GROUP) of every device mcast tunnel
// makes, "mcst" in ASCII. The kernel takes the group in the request that
// creates a device, but not the alias, which takes a second request: the
// group marks a device as made by mcast tunnel from its first moment, so a
// device whose maker was killed before it got its alias is still known.
const OwnerGroup uint32 = 0x6d637374

// Desire computes what node should have, given the host it runs on.
// When the node's underlay address is not on h (plan on another machine),
// the underlay MTU is taken as 1500.
func Desire(c *Config, node string, h Host) (State, error) {
	n, ok := c.Node(node)
	if !ok {
		var names []string
		for _, n := range c.Nodes {
			names = append(names, n.Name)
		}
		return State{}, fmt.Errorf("%s: unknown node %q (nodes: %s)", c.File, node, strings.Join(names, ", "))
	}
	s := State{Config: c, Node: n, Device: c.Device, UnderlayMTU: DefaultUnderlayMT}
	if i, ok := h.owner(n.Underlay); ok {
		s.UnderlayDev = i.Name
		if i.MTU > 0 {
			s.UnderlayMTU = i.MTU
		}
	}
	names := map[string]bool{c.Device: true}
	for i := range c.Nodes {
		names[portName(c.Device, i+1)] = true
	}
	for _, i := range h.Interfaces {
		if names[i.Name] {
			continue // the overlay's own devices, from an earlier up
		}
		for _, p := range i.Prefixes {
			if p.Addr().Is4() && !p.Addr().IsLoopback() && p.Masked().Overlaps(c.Subnet) {
				return State{}, &ConfigError{File: c.File, Line: c.Lines["subnet"],
					Msg: fmt.Sprintf("the overlay subnet %s overlaps %s on %s of this host", c.Subnet, p, i.Name)}
			}
		}
	}
	max := s.UnderlayMTU - c.Mode.Overhead()
	s.MTU = max
	if c.MTU > 0 {
		if c.MTU > max {
			return State{}, &ConfigError{File: c.File, Line: c.Lines["mtu"],
				Msg: fmt.Sprintf("mtu %d does not fit: the underlay MTU %d minus the %d-byte %s overhead allows at most %d", c.MTU, s.UnderlayMTU, c.Mode.Overhead(), c.Mode, max)}
		}
		s.MTU = c.MTU
	}
	if s.MTU < 576 {
		return State{}, fmt.Errorf("%s: the underlay MTU %d leaves only %d bytes for the overlay, below 576", c.File, s.UnderlayMTU, s.MTU)
	}
	alias := AliasPrefix + string(c.Mode) + " node=" + n.Name
	for _, p := range c.Nodes {
		if p.Name != n.Name {
			s.Peers = append(s.Peers, Peer{Name: p.Name, Underlay: p.Underlay, Overlay: p.Overlay, Hub: p.Name == c.Hub})
		}
	}
	tunnel := func(name string, peer Node, vni int) Link {
		l := Link{Name: name, MTU: s.MTU, Alias: alias, Local: n.Underlay, TTL: c.TTL, Peer: peer.Name}
		if c.Mode == GretapHub {
			l.Kind = KindGretap
		} else {
			l.Kind, l.VNI, l.Port = KindVXLAN, vni, c.Port
		}
		if peer.Name != "" {
			l.Remote = peer.Underlay
		}
		return l
	}
	switch {
	case c.Mode == VXLANMesh:
		s.Role = "peer"
		s.Links = append(s.Links, tunnel(c.Device, Node{}, c.VNI))
		for _, p := range s.Peers {
			s.FDB = append(s.FDB, FDB{Dev: c.Device, Dst: p.Underlay, Peer: p.Name})
		}
	case c.Hub == n.Name:
		s.Role = "hub"
		s.Links = append(s.Links, Link{Name: c.Device, Kind: KindBridge, MTU: s.MTU, Alias: alias, Snooping: c.Snooping})
		for i, p := range c.Nodes {
			if p.Name == n.Name {
				continue
			}
			l := tunnel(portName(c.Device, i+1), p, c.VNI+i+1)
			l.Master = c.Device
			l.Alias = alias + " port=" + p.Name
			s.Links = append(s.Links, l)
		}
	default:
		s.Role = "spoke"
		hub, _ := c.Node(c.Hub)
		s.Links = append(s.Links, tunnel(c.Device, hub, c.VNI+c.Index(n.Name)))
	}
	s.Addrs = []Addr{{Dev: c.Device, Prefix: netip.PrefixFrom(n.Overlay, c.Subnet.Bits()), Broadcast: c.Broadcast()}}
	s.Routes = []Route{{Dev: c.Device, Dst: c.MulticastRoute}}
	if c.BroadcastPing {
		s.Sysctls = []Sysctl{{Key: "net.ipv4.icmp_echo_ignore_broadcasts", Value: "0"}}
	}
	return s, nil
}

// portName names the hub's port towards the node at 1-based index i.
func portName(device string, i int) string { return fmt.Sprintf("%sp%d", device, i) }

// Owned reports whether a device alias marks it as made by mcast tunnel.
func Owned(alias string) bool { return strings.HasPrefix(alias, AliasPrefix) }

// OwnedDevice reports whether a device with this alias and device group
// was made by mcast tunnel: its group is OwnerGroup, or its alias says so
// (devices made before the group was set have only the alias).
func OwnedDevice(alias string, group uint32) bool { return group == OwnerGroup || Owned(alias) }

// Restores parses the "restore=key=value" records of a device alias: the
// values sysctls had before up changed them.
func Restores(alias string) []Sysctl {
	var out []Sysctl
	for _, f := range strings.Fields(alias) {
		if rest, ok := strings.CutPrefix(f, "restore="); ok {
			if k, v, ok := strings.Cut(rest, "="); ok && k != "" {
				out = append(out, Sysctl{Key: k, Value: v})
			}
		}
	}
	return out
}

// WithRestores returns alias with the restore records of rs, replacing any
// it had.
func WithRestores(alias string, rs []Sysctl) string {
	var keep []string
	for _, f := range strings.Fields(alias) {
		if !strings.HasPrefix(f, "restore=") {
			keep = append(keep, f)
		}
	}
	for _, r := range rs {
		keep = append(keep, "restore="+r.Key+"="+r.Value)
	}
	return strings.Join(keep, " ")
}
