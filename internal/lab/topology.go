// Package lab builds throwaway network-namespace topologies on one Linux
// machine: nodes (namespaces with interfaces, addresses, routes and sysctls)
// plugged into switches (a bridge, each in a namespace of its own).
//
// Topologies are data. Plan turns one into the iproute2 commands that build
// it; Up runs them; Down removes every namespace the lab made, also after an
// interrupted Up. Nothing is created in the caller's namespace.
package lab

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Topology describes a lab: its switches and nodes.
type Topology struct {
	Name        string
	Description string
	Switches    []Switch
	Nodes       []Node
}

// Switch is a LAN segment: a Linux bridge in a namespace of its own.
type Switch struct {
	Name     string
	Snooping bool // IGMP/MLD snooping (the kernel's default is on)
	Querier  bool // the bridge sends IGMP/MLD queries
}

// Node is a host: a network namespace.
type Node struct {
	Name    string
	Links   []Link
	Routes  []string   // arguments to `ip route add`, such as "224.0.0.0/4 dev enX0"
	Sysctls []string   // "key=value", applied after the links exist
	Setup   [][]string // commands run inside the node last, such as nft rules
}

// Link is one interface of a node, plugged into a switch.
type Link struct {
	Name   string   // interface name inside the node
	Switch string   // the switch it plugs into
	Addrs  []string // addresses with prefix length, IPv4 or IPv6
	MTU    int      // 0 keeps the default
}

// Step is one command of a plan: `ip` arguments, run in the caller's namespace.
type Step []string

func (s Step) String() string { return "ip " + strings.Join(s, " ") }

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,11}$`)

// ValidName checks a lab name (the prefix of its namespaces).
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid lab name %q: use 1 to 12 lowercase letters and digits, starting with a letter", name)
	}
	return nil
}

// Namespace is the namespace name of a node or switch of lab.
func Namespace(lab, node string) string { return lab + "-" + node }

// Namespaces lists every namespace the topology makes in lab, switches first.
func (t Topology) Namespaces(lab string) []string {
	var out []string
	for _, s := range t.Switches {
		out = append(out, Namespace(lab, s.Name))
	}
	for _, n := range t.Nodes {
		out = append(out, Namespace(lab, n.Name))
	}
	return out
}

// NodeNames lists the nodes, sorted.
func (t Topology) NodeNames() []string {
	var out []string
	for _, n := range t.Nodes {
		out = append(out, n.Name)
	}
	sort.Strings(out)
	return out
}

// Validate checks that names are unique and links plug into known switches.
func (t Topology) Validate() error {
	seen := map[string]bool{}
	for _, s := range t.Switches {
		if seen[s.Name] {
			return fmt.Errorf("topology %s: name %q used twice", t.Name, s.Name)
		}
		seen[s.Name] = true
	}
	for _, n := range t.Nodes {
		if seen[n.Name] {
			return fmt.Errorf("topology %s: name %q used twice", t.Name, n.Name)
		}
		seen[n.Name] = true
		links := map[string]bool{}
		for _, l := range n.Links {
			if links[l.Name] || len(l.Name) > 15 {
				return fmt.Errorf("topology %s: node %s: bad or repeated link name %q", t.Name, n.Name, l.Name)
			}
			links[l.Name] = true
			found := false
			for _, s := range t.Switches {
				found = found || s.Name == l.Switch
			}
			if !found {
				return fmt.Errorf("topology %s: node %s link %s: unknown switch %q", t.Name, n.Name, l.Name, l.Switch)
			}
		}
	}
	return nil
}

// portName names the switch side of a node's link, within the 15 bytes a
// Linux interface name allows.
func portName(node, link string, i int) string {
	if n := node + "-" + link; len(n) <= 15 {
		return n
	}
	return fmt.Sprintf("port%d", i)
}

// Plan returns the commands that build the topology as lab.
func (t Topology) Plan(lab string) []Step {
	var steps []Step
	b := func(args ...string) { steps = append(steps, Step(args)) }
	quiet := []string{
		"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
		"net.ipv6.conf.all.accept_ra=0", "net.ipv6.conf.default.accept_ra=0",
	}
	sysctl := func(ns string, kv ...string) {
		b(append([]string{"netns", "exec", ns, "sysctl", "-qw"}, kv...)...)
	}
	for _, s := range t.Switches {
		ns := Namespace(lab, s.Name)
		b("netns", "add", ns)
		b("-n", ns, "link", "set", "lo", "up")
		sysctl(ns, quiet...)
		b("-n", ns, "link", "add", "br0", "type", "bridge",
			"mcast_snooping", boolArg(s.Snooping), "mcast_querier", boolArg(s.Querier))
		b("-n", ns, "link", "set", "br0", "up")
	}
	port := 0
	for _, n := range t.Nodes {
		ns := Namespace(lab, n.Name)
		b("netns", "add", ns)
		b("-n", ns, "link", "set", "lo", "up")
		sysctl(ns, quiet...)
		for _, l := range n.Links {
			port++
			sw := Namespace(lab, l.Switch)
			p := portName(n.Name, l.Name, port)
			b("-n", sw, "link", "add", p, "type", "veth", "peer", "name", l.Name, "netns", ns)
			b("-n", sw, "link", "set", p, "master", "br0", "up")
			if l.MTU > 0 {
				b("-n", sw, "link", "set", p, "mtu", fmt.Sprint(l.MTU))
				b("-n", ns, "link", "set", l.Name, "mtu", fmt.Sprint(l.MTU))
			}
			for _, a := range l.Addrs {
				args := []string{"-n", ns, "addr", "add", a, "dev", l.Name}
				if strings.Contains(a, ":") {
					args = append(args, "nodad")
				}
				b(args...)
			}
			b("-n", ns, "link", "set", l.Name, "up")
		}
		if len(n.Sysctls) > 0 {
			sysctl(ns, n.Sysctls...)
		}
		for _, r := range n.Routes {
			b(append([]string{"-n", ns, "route", "add"}, strings.Fields(r)...)...)
		}
		for _, c := range n.Setup {
			b(append([]string{"netns", "exec", ns}, c...)...)
		}
	}
	return steps
}

func boolArg(v bool) string {
	if v {
		return "1"
	}
	return "0"
}
