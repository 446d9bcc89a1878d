package lab_test

import (
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/lab"
)

func TestPlanTwoNIC(t *testing.T) {
	plan := lab.TwoNIC().Plan("x")
	var text []string
	for _, s := range plan {
		text = append(text, s.String())
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{
		"ip netns add x-lan",
		"ip -n x-lan link add br0 type bridge mcast_snooping 1 mcast_querier 0",
		"ip -n x-lan link add host-enX0 type veth peer name enX0 netns x-host",
		"ip -n x-lan link set host-enX1 master br0 up",
		"ip -n x-host addr add 10.0.0.13/24 dev enX1",
		"ip -n x-peer addr add 10.0.0.20/24 dev eth0",
		"ip -n x-host route add 224.0.0.0/4 dev enX0",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	// Nothing in the plan may act on the caller's own namespace: every
	// step names a namespace.
	for _, s := range plan {
		if s[0] != "-n" && !(s[0] == "netns" && (s[1] == "add" || s[1] == "exec")) {
			t.Errorf("step outside the lab's namespaces: %s", s)
		}
	}
}

func TestCloudDropGRE(t *testing.T) {
	c, err := lab.Lookup("cloud", lab.Options{Nodes: 2, DropGRE: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.NodeNames(), ","); got != "vm1,vm2,vpc" {
		t.Errorf("nodes %s", got)
	}
	var all []string
	for _, s := range c.Plan("c") {
		all = append(all, s.String())
	}
	joined := strings.Join(all, "\n")
	for _, want := range []string{"ip -n c-vm2 route add default via 10.0.2.1", "meta l4proto gre counter drop", "net.ipv4.ip_forward=1"} {
		if !strings.Contains(joined, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := []struct {
		topo lab.Topology
		err  string
	}{
		{lab.Topology{Name: "a", Switches: []lab.Switch{{Name: "s"}}, Nodes: []lab.Node{{Name: "s"}}}, `name "s" used twice`},
		{lab.Topology{Name: "a", Nodes: []lab.Node{{Name: "n", Links: []lab.Link{{Name: "eth0", Switch: "nope"}}}}}, `unknown switch "nope"`},
		{lab.Topology{Name: "a", Switches: []lab.Switch{{Name: "s"}}, Nodes: []lab.Node{{Name: "n", Links: []lab.Link{{Name: "averyveryverylongname", Switch: "s"}}}}}, "bad or repeated link name"},
	}
	for _, b := range bad {
		if err := b.topo.Validate(); err == nil || !strings.Contains(err.Error(), b.err) {
			t.Errorf("Validate: %v, want %q", err, b.err)
		}
	}
	if _, err := lab.Lookup("mesh", lab.Options{}); err == nil || !strings.Contains(err.Error(), `unknown topology "mesh"`) {
		t.Errorf("Lookup(mesh): %v", err)
	}
	if _, err := lab.Lookup("lan", lab.Options{Nodes: 99}); err == nil || !strings.Contains(err.Error(), "invalid node count 99") {
		t.Errorf("Lookup(lan, 99): %v", err)
	}
	for _, name := range []string{"", "Bad", "1abc", "waytoolongname1"} {
		if err := lab.ValidName(name); err == nil {
			t.Errorf("ValidName(%q) accepted", name)
		}
	}
}
