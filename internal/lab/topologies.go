package lab

import (
	"fmt"
	"sort"
)

// Options tune a built-in topology.
type Options struct {
	Nodes   int  // how many nodes, for topologies that take a count
	DropGRE bool // cloud: the router drops GRE (IP protocol 47), as Azure does
}

type builtin struct {
	summary string
	build   func(Options) (Topology, error)
}

var builtins = map[string]builtin{
	"twonic": {"two NICs of one host: node host with enX0 10.0.0.12 and enX1 10.0.0.13, node peer 10.0.0.20, one LAN", func(Options) (Topology, error) { return TwoNIC(), nil }},
	"cloud":  {"router vpc and N VMs (default 3) vm1..vmN at 10.0.i.10/24, unicast routed, multicast not; --drop-gre drops GRE as Azure does", Cloud},
	"lan":    {"N nodes (default 3) n1..nN at 10.0.0.1.. and fd00::1.., one LAN", LAN},
}

// Builtins lists the built-in topologies with a one-line summary each.
func Builtins() map[string]string {
	out := map[string]string{}
	for k, v := range builtins {
		out[k] = v.summary
	}
	return out
}

// Lookup builds the built-in topology called name.
func Lookup(name string, o Options) (Topology, error) {
	b, ok := builtins[name]
	if !ok {
		var names []string
		for k := range builtins {
			names = append(names, k)
		}
		sort.Strings(names)
		return Topology{}, fmt.Errorf("unknown topology %q (have: %v)", name, names)
	}
	t, err := b.build(o)
	if err != nil {
		return Topology{}, err
	}
	return t, t.Validate()
}

// TwoNIC is a host with two NICs on one subnet, and a peer on the same LAN.
func TwoNIC() Topology {
	return Topology{
		Name:        "twonic",
		Description: "two NICs of one host: host with enX0 10.0.0.12/24 and enX1 10.0.0.13/24 on one bridged LAN, peer 10.0.0.20/24",
		Switches:    []Switch{{Name: "lan", Snooping: true}},
		Nodes: []Node{
			{
				Name: "host",
				Links: []Link{
					{Name: "enX0", Switch: "lan", Addrs: []string{"10.0.0.12/24", "fd00::12/64"}},
					{Name: "enX1", Switch: "lan", Addrs: []string{"10.0.0.13/24", "fd00::13/64"}},
				},
				Routes: []string{"224.0.0.0/4 dev enX0"},
			},
			{
				Name:   "peer",
				Links:  []Link{{Name: "eth0", Switch: "lan", Addrs: []string{"10.0.0.20/24", "fd00::20/64"}}},
				Routes: []string{"224.0.0.0/4 dev eth0"},
			},
		},
	}
}

// MaxNodes is the most nodes a topology that takes a count can have.
const MaxNodes = 32

// nodeCount is o.Nodes, 3 when unset, checked to be 1..MaxNodes.
func nodeCount(o Options) (int, error) {
	n := o.Nodes
	if n == 0 {
		n = 3
	}
	if n < 1 || n > MaxNodes {
		return 0, fmt.Errorf("invalid node count %d: must be 1..%d", n, MaxNodes)
	}
	return n, nil
}

// LAN is o.Nodes hosts (default 3) on one bridged LAN.
func LAN(o Options) (Topology, error) {
	n, err := nodeCount(o)
	if err != nil {
		return Topology{}, err
	}
	t := Topology{
		Name:        "lan",
		Description: fmt.Sprintf("%d nodes n1..n%d on one bridged LAN 10.0.0.0/24, fd00::/64", n, n),
		Switches:    []Switch{{Name: "lan", Snooping: true}},
	}
	for i := 1; i <= n; i++ {
		t.Nodes = append(t.Nodes, Node{
			Name: fmt.Sprintf("n%d", i),
			Links: []Link{{Name: "eth0", Switch: "lan",
				Addrs: []string{fmt.Sprintf("10.0.0.%d/24", i), fmt.Sprintf("fd00::%d/64", i)}}},
			Routes: []string{"224.0.0.0/4 dev eth0"},
		})
	}
	return t, nil
}

// Cloud is a cloud network that carries only unicast: VMs in subnets of their own
// behind a router (vpc) that forwards unicast and never multicast. With
// DropGRE the router also drops GRE, as Azure does.
func Cloud(o Options) (Topology, error) {
	n, err := nodeCount(o)
	if err != nil {
		return Topology{}, err
	}
	t := Topology{
		Name:        "cloud",
		Description: fmt.Sprintf("router vpc and %d VMs, each in its own subnet 10.0.i.0/24 (fd00:i::/64); unicast routed, multicast not", n),
	}
	vpc := Node{Name: "vpc", Sysctls: []string{"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"}}
	for i := 1; i <= n; i++ {
		sw := fmt.Sprintf("net%d", i)
		t.Switches = append(t.Switches, Switch{Name: sw, Snooping: true})
		vpc.Links = append(vpc.Links, Link{Name: fmt.Sprintf("eth%d", i), Switch: sw,
			Addrs: []string{fmt.Sprintf("10.0.%d.1/24", i), fmt.Sprintf("fd00:%d::1/64", i)}})
		t.Nodes = append(t.Nodes, Node{
			Name: fmt.Sprintf("vm%d", i),
			Links: []Link{{Name: "eth0", Switch: sw,
				Addrs: []string{fmt.Sprintf("10.0.%d.10/24", i), fmt.Sprintf("fd00:%d::10/64", i)}}},
			Routes: []string{fmt.Sprintf("default via 10.0.%d.1", i), fmt.Sprintf("default via fd00:%d::1", i)},
		})
	}
	if o.DropGRE {
		t.Description += "; GRE dropped"
		vpc.Setup = [][]string{
			{"nft", "add", "table", "inet", "vpc"},
			{"nft", "add", "chain", "inet", "vpc", "forward", "{ type filter hook forward priority 0 ; }"},
			{"nft", "add", "rule", "inet", "vpc", "forward", "meta", "l4proto", "gre", "counter", "drop"},
		}
	}
	t.Nodes = append([]Node{vpc}, t.Nodes...)
	return t, nil
}
