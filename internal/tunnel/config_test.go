package tunnel_test

import (
	"errors"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/tunnel"
)

const good = `mode: vxlan-mesh
subnet: 172.16.254.0/24
broadcast_ping: true
nodes:
  - name: vm1
    underlay: 10.0.1.10
    overlay: 172.16.254.1
  - name: vm2
    underlay: 10.0.2.10
    overlay: 172.16.254.2
`

func TestParseGood(t *testing.T) {
	c, err := tunnel.Parse("t.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != tunnel.VXLANMesh || c.Subnet != netip.MustParsePrefix("172.16.254.0/24") || !c.BroadcastPing ||
		c.Device != "mcast0" || c.VNI != 4242 || c.Port != 4789 || c.TTL != 64 || len(c.Nodes) != 2 || c.Hub != "" {
		t.Errorf("parsed %+v", c)
	}
	if got := c.Broadcast(); got != netip.MustParseAddr("172.16.254.255") {
		t.Errorf("broadcast %s", got)
	}
	if c.Nodes[1].Line != 8 || c.Nodes[1].Lines["overlay"] != 10 {
		t.Errorf("lines: node at %d, overlay at %d", c.Nodes[1].Line, c.Nodes[1].Lines["overlay"])
	}
}

func TestParseExamples(t *testing.T) {
	for _, f := range []string{"vxlan-mesh.yaml", "vxlan-hub.yaml", "gretap-hub.yaml", "all-options.yaml"} {
		b, err := os.ReadFile("testdata/" + f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tunnel.Parse(f, b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestParseHubDefault(t *testing.T) {
	c, err := tunnel.Parse("t.yaml", []byte(strings.Replace(good, "vxlan-mesh", "gretap-hub", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Hub != "vm1" {
		t.Errorf("hub %q, want the first node", c.Hub)
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name string
		edit func(string) string
		want string // in the error, with the file and line
	}{
		{"unknown mode", func(s string) string { return strings.Replace(s, "vxlan-mesh", "ipip", 1) }, `t.yaml:1: unknown mode "ipip"`},
		{"missing mode", func(s string) string { return strings.Replace(s, "mode: vxlan-mesh\n", "", 1) }, "missing mode"},
		{"node twice", func(s string) string { return strings.Replace(s, "name: vm2", "name: vm1", 1) }, "t.yaml:8: node vm1 is defined twice (first at line 5)"},
		{"overlay outside subnet", func(s string) string { return strings.Replace(s, "overlay: 172.16.254.2", "overlay: 172.16.9.2", 1) },
			"t.yaml:10: node vm2: overlay address 172.16.9.2 is outside the overlay subnet 172.16.254.0/24 (line 2)"},
		{"overlapping subnets", func(s string) string { return strings.Replace(s, "underlay: 10.0.2.10", "underlay: 172.16.254.77", 1) },
			"t.yaml:9: node vm2: underlay address 172.16.254.77 is inside the overlay subnet 172.16.254.0/24 (line 2): the subnets overlap"},
		{"underlay twice", func(s string) string { return strings.Replace(s, "10.0.2.10", "10.0.1.10", 1) }, "t.yaml:9: node vm2: underlay address 10.0.1.10 is already used at line 6"},
		{"overlay twice", func(s string) string { return strings.Replace(s, "172.16.254.2\n", "172.16.254.1\n", 1) }, "t.yaml:10: node vm2: overlay address 172.16.254.1 is already used at line 7"},
		{"broadcast as overlay", func(s string) string { return strings.Replace(s, "172.16.254.2\n", "172.16.254.255\n", 1) }, "t.yaml:10: node vm2: overlay address 172.16.254.255 is the subnet's network or broadcast"},
		{"bad subnet", func(s string) string { return strings.Replace(s, "172.16.254.0/24", "172.16.254.1/24", 1) }, "t.yaml:2: invalid subnet \"172.16.254.1/24\": host bits are set"},
		{"ipv6 subnet", func(s string) string { return strings.Replace(s, "172.16.254.0/24", "fd00::/64", 1) }, "t.yaml:2: invalid subnet \"fd00::/64\": only IPv4"},
		{"unknown field", func(s string) string { return s + "colour: blue\n" }, `t.yaml:11: unknown field "colour"`},
		{"unknown node field", func(s string) string {
			return strings.Replace(s, "    overlay: 172.16.254.2", "    overlay: 172.16.254.2\n    role: x", 1)
		}, `t.yaml:11: unknown node field "role"`},
		{"field twice", func(s string) string { return s + "mode: vxlan-hub\n" }, `t.yaml:11: field "mode" is given twice`},
		{"one node", func(s string) string { return s[:strings.Index(s, "  - name: vm2")] }, "t.yaml:4: nodes: want at least 2, got 1"},
		{"hub in mesh", func(s string) string { return s + "hub: vm1\n" }, "t.yaml:11: hub is only for the hub modes"},
		{"unknown hub", func(s string) string { return strings.Replace(s, "vxlan-mesh", "vxlan-hub", 1) + "hub: vm9\n" }, `t.yaml:11: hub "vm9" is not one of the nodes`},
		{"bad mtu", func(s string) string { return s + "mtu: big\n" }, `t.yaml:11: invalid mtu "big"`},
		{"bad vni", func(s string) string { return s + "vni: 0\n" }, `t.yaml:11: invalid vni "0"`},
		{"bad bool", func(s string) string { return strings.Replace(s, "broadcast_ping: true", "broadcast_ping: maybe", 1) }, `t.yaml:3: invalid broadcast_ping "maybe"`},
		{"bad underlay", func(s string) string { return strings.Replace(s, "10.0.2.10", "vm2.example", 1) }, `t.yaml:9: node vm2: invalid underlay address "vm2.example"`},
		{"missing overlay", func(s string) string { return strings.Replace(s, "    overlay: 172.16.254.2\n", "", 1) }, "t.yaml:8: node: missing overlay"},
		{"bad device", func(s string) string { return s + "device: this-name-is-too-long\n" }, `t.yaml:11: invalid device`},
		{"bad multicast route", func(s string) string { return s + "multicast_route: 10.0.0.0/8\n" }, `t.yaml:11: invalid multicast_route`},
		{"yaml syntax", func(s string) string { return s + "nodes: [\n" }, "t.yaml:"},
		{"not a mapping", func(string) string { return "- a\n- b\n" }, "t.yaml:1: want a mapping"},
		{"empty", func(string) string { return "" }, "t.yaml: empty config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tunnel.Parse("t.yaml", []byte(tt.edit(good)))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tt.want)
			}
			var ce *tunnel.ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *ConfigError", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has several lines: %q", err)
			}
		})
	}
}

func TestOverhead(t *testing.T) {
	for _, tt := range []struct {
		m    tunnel.Mode
		want int
	}{{tunnel.GretapHub, 38}, {tunnel.VXLANHub, 50}, {tunnel.VXLANMesh, 50}} {
		if got := tt.m.Overhead(); got != tt.want {
			t.Errorf("%s: overhead %d, want %d", tt.m, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("mode: gretap-hub\nsubnet: 10.9.0.0/16\nhub: a\nnodes: [{name: a, underlay: 1.2.3.4, overlay: 10.9.0.1}, {name: b, underlay: 1.2.3.5, overlay: 10.9.0.2}]\n"))
	f.Add([]byte("nodes: {a: b}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := tunnel.Parse("f.yaml", b)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("multi-line error %q", err)
			}
			return
		}
		// A config that parses yields a state for each node.
		for _, n := range c.Nodes {
			s, err := tunnel.Desire(c, n.Name, tunnel.Host{})
			if err != nil {
				continue // an MTU that does not fit the assumed underlay
			}
			if len(s.Plan()) == 0 {
				t.Errorf("empty plan for %s", n.Name)
			}
		}
	})
}
