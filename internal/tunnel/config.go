package tunnel

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Mode is how the overlay is built.
type Mode string

// The modes mcast tunnel knows.
const (
	// GretapHub is the classic cloud recipe: the hub bridges one GRETAP tunnel per
	// spoke; each spoke has one GRETAP tunnel to the hub.
	GretapHub Mode = "gretap-hub"
	// VXLANHub is the same shape over VXLAN (UDP, so it crosses networks
	// that block GRE). Each spoke's tunnel has a VNI of its own.
	VXLANHub Mode = "vxlan-hub"
	// VXLANMesh makes every node a peer of every other: one VXLAN device
	// per node, replicating broadcast and multicast to each peer through
	// all-zeros FDB entries. There is no hub.
	VXLANMesh Mode = "vxlan-mesh"
)

// Modes lists the known modes.
var Modes = []Mode{GretapHub, VXLANHub, VXLANMesh}

// Hub reports whether the mode has a hub.
func (m Mode) Hub() bool { return m == GretapHub || m == VXLANHub }

// Overhead is the bytes the encapsulation adds to each frame over an IPv4
// underlay: the outer headers plus the inner Ethernet header.
func (m Mode) Overhead() int {
	if m == GretapHub {
		return 20 + 4 + 14 // outer IPv4 + GRE + inner Ethernet
	}
	return 20 + 8 + 8 + 14 // outer IPv4 + UDP + VXLAN + inner Ethernet
}

// Defaults of the optional config fields.
const (
	DefaultDevice     = "mcast0"
	DefaultVNI        = 4242
	DefaultPort       = 4789
	DefaultTTL        = 64
	DefaultUnderlayMT = 1500
)

// Config is an overlay, the same file on every node.
type Config struct {
	File   string // the name errors cite
	Mode   Mode
	Subnet netip.Prefix // the overlay subnet
	Hub    string       // hub modes: the node that bridges the others
	Device string       // the overlay device's name on every node
	MTU    int          // 0: the underlay MTU minus the overhead
	VNI    int          // VXLAN network identifier (vxlan-hub: the first spoke's)
	Port   int          // VXLAN UDP port
	TTL    int          // outer TTL
	// MulticastRoute is routed to the overlay device (the GRETAP hub recipe routes 224.0.0.0/8).
	MulticastRoute netip.Prefix
	// BroadcastPing sets net.ipv4.icmp_echo_ignore_broadcasts=0, so that
	// `ping -b` to the overlay broadcast address is answered.
	BroadcastPing bool
	// Snooping turns on IGMP snooping, with the bridge as querier, on the
	// hub's bridge; off, the bridge floods every group to every spoke.
	Snooping bool
	Nodes    []Node
	Lines    map[string]int // the line of each top-level field given
}

// Node is one host of the overlay.
type Node struct {
	Name     string
	Underlay netip.Addr // the address other nodes reach it at
	Overlay  netip.Addr // its address in the overlay subnet
	Line     int        // where the node starts in the config
	Lines    map[string]int
}

// Index is the node's 1-based position in the config, which names its hub
// port and, in vxlan-hub, picks its VNI.
func (c *Config) Index(name string) int {
	for i, n := range c.Nodes {
		if n.Name == name {
			return i + 1
		}
	}
	return 0
}

// Node returns the node called name.
func (c *Config) Node(name string) (Node, bool) {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// ConfigError is a mistake in a config file, at a line.
type ConfigError struct {
	File string
	Line int
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$`)
	deviceRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,10}$`)
	lineRE   = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// known fields, for the unknown-field error.
var (
	topFields  = []string{"mode", "subnet", "hub", "device", "mtu", "vni", "port", "ttl", "multicast_route", "broadcast_ping", "snooping", "nodes"}
	nodeFields = []string{"name", "underlay", "overlay"}
)

// Parse reads a config from data; file names it in errors. It checks
// everything that can be checked without looking at a host.
func Parse(file string, data []byte) (*Config, error) {
	bad := func(line int, format string, a ...any) error {
		return &ConfigError{File: file, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			return nil, bad(n, "%s", m[2])
		}
		if err.Error() == "EOF" {
			return nil, bad(0, "empty config")
		}
		return nil, bad(0, "%s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, bad(doc.Line, "want a mapping of fields (mode, subnet, nodes, ...)")
	}
	top := doc.Content[0]
	c := &Config{File: file, Device: DefaultDevice, VNI: DefaultVNI, Port: DefaultPort, TTL: DefaultTTL,
		MulticastRoute: netip.MustParsePrefix("224.0.0.0/4"), Snooping: true}
	fields, err := mapping(top, topFields, "", bad)
	if err != nil {
		return nil, err
	}
	c.Lines = map[string]int{}
	for i := 0; i+1 < len(top.Content); i += 2 {
		c.Lines[top.Content[i].Value] = top.Content[i].Line
	}
	str := func(key string) (string, int, bool, error) {
		v, ok := fields[key]
		if !ok {
			return "", top.Line, false, nil
		}
		if v.Kind != yaml.ScalarNode {
			return "", v.Line, true, bad(v.Line, "%s: want a single value", key)
		}
		return v.Value, v.Line, true, nil
	}
	integer := func(key string, lo, hi int, dst *int) error {
		s, line, ok, err := str(key)
		if err != nil || !ok {
			return err
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return bad(line, "invalid %s %q: want a whole number %d..%d", key, s, lo, hi)
		}
		*dst = n
		return nil
	}
	boolean := func(key string, dst *bool) error {
		s, line, ok, err := str(key)
		if err != nil || !ok {
			return err
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return bad(line, "invalid %s %q: want true or false", key, s)
		}
		*dst = b
		return nil
	}

	s, line, ok, err := str("mode")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, bad(line, "missing mode (one of %s)", modeList())
	}
	c.Mode = Mode(s)
	if !knownMode(c.Mode) {
		return nil, bad(line, "unknown mode %q (want one of %s)", s, modeList())
	}
	modeLine := line

	s, line, ok, err = str("subnet")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, bad(line, "missing subnet (the overlay subnet, such as 172.16.254.0/24)")
	}
	p, perr := netip.ParsePrefix(s)
	switch {
	case perr != nil:
		return nil, bad(line, "invalid subnet %q: want an IPv4 prefix such as 172.16.254.0/24", s)
	case !p.Addr().Is4():
		return nil, bad(line, "invalid subnet %q: only IPv4 overlays are supported", s)
	case p.Bits() < 8 || p.Bits() > 30:
		return nil, bad(line, "invalid subnet %q: the prefix length must be 8..30", s)
	case p.Masked() != p:
		return nil, bad(line, "invalid subnet %q: host bits are set (did you mean %s?)", s, p.Masked())
	}
	c.Subnet = p
	subnetLine := line

	if s, line, ok, err = str("device"); err != nil {
		return nil, err
	} else if ok {
		if !deviceRE.MatchString(s) {
			return nil, bad(line, "invalid device %q: 1 to 11 letters, digits, - or _, starting with a letter", s)
		}
		c.Device = s
	}
	if s, line, ok, err = str("mtu"); err != nil {
		return nil, err
	} else if ok && s != "auto" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 576 || n > 65000 {
			return nil, bad(line, "invalid mtu %q: want auto (the underlay MTU minus the overhead) or 576..65000", s)
		}
		c.MTU = n
	}
	if err := integer("vni", 1, 1<<24-1, &c.VNI); err != nil {
		return nil, err
	}
	if err := integer("port", 1, 65535, &c.Port); err != nil {
		return nil, err
	}
	if err := integer("ttl", 1, 255, &c.TTL); err != nil {
		return nil, err
	}
	if s, line, ok, err = str("multicast_route"); err != nil {
		return nil, err
	} else if ok {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() || !p.Addr().IsMulticast() || p.Masked() != p {
			return nil, bad(line, "invalid multicast_route %q: want an IPv4 multicast prefix such as 224.0.0.0/4", s)
		}
		c.MulticastRoute = p
	}
	if err := boolean("broadcast_ping", &c.BroadcastPing); err != nil {
		return nil, err
	}
	if err := boolean("snooping", &c.Snooping); err != nil {
		return nil, err
	}

	nodes, ok := fields["nodes"]
	if !ok {
		return nil, bad(top.Line, "missing nodes (a list of name, underlay, overlay)")
	}
	if nodes.Kind != yaml.SequenceNode {
		return nil, bad(nodes.Line, "nodes: want a list of name, underlay, overlay")
	}
	names := map[string]int{}
	unders := map[netip.Addr]int{}
	overs := map[netip.Addr]int{}
	bcast := broadcast(c.Subnet)
	for _, item := range nodes.Content {
		if item.Kind != yaml.MappingNode {
			return nil, bad(item.Line, "node: want name, underlay and overlay")
		}
		nf, err := mapping(item, nodeFields, "node ", bad)
		if err != nil {
			return nil, err
		}
		n := Node{Line: item.Line, Lines: map[string]int{}}
		get := func(key string) (string, int, error) {
			v, ok := nf[key]
			if !ok {
				return "", item.Line, bad(item.Line, "node: missing %s", key)
			}
			n.Lines[key] = v.Line
			if v.Kind != yaml.ScalarNode {
				return "", v.Line, bad(v.Line, "node %s: want a single value", key)
			}
			return v.Value, v.Line, nil
		}
		name, line, err := get("name")
		if err != nil {
			return nil, err
		}
		if !nameRE.MatchString(name) {
			return nil, bad(line, "invalid node name %q: 1 to 32 letters, digits, '.', '-' or '_'", name)
		}
		if first, dup := names[name]; dup {
			return nil, bad(line, "node %s is defined twice (first at line %d)", name, first)
		}
		names[name] = line
		n.Name = name

		s, line, err := get("underlay")
		if err != nil {
			return nil, err
		}
		a, aerr := netip.ParseAddr(s)
		switch {
		case aerr != nil || !a.Is4():
			return nil, bad(line, "node %s: invalid underlay address %q: want an IPv4 address", name, s)
		case a.IsMulticast() || a.IsUnspecified() || a.IsLoopback():
			return nil, bad(line, "node %s: invalid underlay address %s: want a unicast address", name, a)
		case c.Subnet.Contains(a):
			return nil, bad(line, "node %s: underlay address %s is inside the overlay subnet %s (line %d): the subnets overlap", name, a, c.Subnet, subnetLine)
		}
		if first, dup := unders[a]; dup {
			return nil, bad(line, "node %s: underlay address %s is already used at line %d", name, a, first)
		}
		unders[a] = line
		n.Underlay = a

		s, line, err = get("overlay")
		if err != nil {
			return nil, err
		}
		a, aerr = netip.ParseAddr(s)
		switch {
		case aerr != nil || !a.Is4():
			return nil, bad(line, "node %s: invalid overlay address %q: want an IPv4 address", name, s)
		case !c.Subnet.Contains(a):
			return nil, bad(line, "node %s: overlay address %s is outside the overlay subnet %s (line %d)", name, a, c.Subnet, subnetLine)
		case a == c.Subnet.Addr() || a == bcast:
			return nil, bad(line, "node %s: overlay address %s is the subnet's network or broadcast address", name, a)
		}
		if first, dup := overs[a]; dup {
			return nil, bad(line, "node %s: overlay address %s is already used at line %d", name, a, first)
		}
		overs[a] = line
		n.Overlay = a
		c.Nodes = append(c.Nodes, n)
	}
	if len(c.Nodes) < 2 {
		return nil, bad(c.Lines["nodes"], "nodes: want at least 2, got %d", len(c.Nodes))
	}
	if len(c.Nodes) > 250 {
		return nil, bad(c.Lines["nodes"], "nodes: at most 250, got %d", len(c.Nodes))
	}
	if c.MulticastRoute.Overlaps(c.Subnet) {
		return nil, bad(subnetLine, "the overlay subnet %s overlaps multicast_route %s", c.Subnet, c.MulticastRoute)
	}

	s, line, ok, err = str("hub")
	if err != nil {
		return nil, err
	}
	switch {
	case c.Mode.Hub() && !ok:
		c.Hub = c.Nodes[0].Name
	case c.Mode.Hub():
		if _, found := c.Node(s); !found {
			return nil, bad(line, "hub %q is not one of the nodes", s)
		}
		c.Hub = s
	case ok:
		return nil, bad(line, "hub is only for the hub modes (mode %s at line %d has no hub)", c.Mode, modeLine)
	}
	if c.Mode == VXLANHub && c.VNI+len(c.Nodes) > 1<<24-1 {
		return nil, bad(modeLine, "vxlan-hub gives each spoke VNI vni+index: vni %d is too large for %d nodes", c.VNI, len(c.Nodes))
	}
	return c, nil
}

// mapping returns the fields of a YAML mapping, rejecting unknown and
// repeated keys with their line.
func mapping(m *yaml.Node, known []string, what string, bad func(int, string, ...any) error) (map[string]*yaml.Node, error) {
	out := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		found := false
		for _, f := range known {
			found = found || f == k.Value
		}
		if !found {
			return nil, bad(k.Line, "unknown %sfield %q (known: %s)", what, k.Value, strings.Join(known, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, bad(k.Line, "%sfield %q is given twice", what, k.Value)
		}
		out[k.Value] = v
	}
	return out, nil
}

func knownMode(m Mode) bool {
	for _, k := range Modes {
		if k == m {
			return true
		}
	}
	return false
}

func modeList() string {
	var s []string
	for _, m := range Modes {
		s = append(s, string(m))
	}
	return strings.Join(s, ", ")
}

// broadcast is the all-ones address of p.
func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Broadcast is the overlay's broadcast address (the GRETAP hub recipe pings it with -b).
func (c *Config) Broadcast() netip.Addr { return broadcast(c.Subnet) }

// errNoNode is wrapped when no node of the config is this host.
var errNoNode = errors.New("no node of the config is this host")
