package tunnel_test

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mcasttools/mcast/internal/tunnel"
	"github.com/vishvananda/netlink"
)

func load(t *testing.T, file string) *tunnel.Config {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tunnel.Parse(file, b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// vm is the host of node i of the cloud lab.
func vm(i int, mtu int) tunnel.Host {
	return tunnel.Host{Interfaces: []tunnel.HostInterface{
		{Name: "lo", MTU: 65536, Prefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
		{Name: "eth0", MTU: mtu, Prefixes: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i), 10}), 24)}},
	}}
}

func TestPlan(t *testing.T) {
	tests := []struct {
		file, node string
		host       tunnel.Host
		want       []string
	}{
		{"vxlan-mesh.yaml", "vm1", vm(1, 1500), []string{
			"# node vm1 (underlay 10.0.1.10 on eth0), mode vxlan-mesh, role peer",
			"# overlay 172.16.254.1/24, mtu 1450 = underlay mtu 1500 - 50 bytes of VXLAN overhead",
			"ip link add mcast0 group 1835234164 mtu 1450 type vxlan id 4242 local 10.0.1.10 dstport 4789 ttl 64",
			"ip link set mcast0 alias 'mcast-tunnel vxlan-mesh node=vm1'",
			"# send broadcast, multicast and unknown unicast to every peer",
			"bridge fdb append 00:00:00:00:00:00 dev mcast0 dst 10.0.2.10",
			"bridge fdb append 00:00:00:00:00:00 dev mcast0 dst 10.0.3.10",
			"ip addr add 172.16.254.1/24 brd 172.16.254.255 dev mcast0",
			"ip link set mcast0 up",
			"ip route add 224.0.0.0/4 dev mcast0",
			"sysctl -w net.ipv4.icmp_echo_ignore_broadcasts=0",
		}},
		{"gretap-hub.yaml", "vm1", vm(1, 9000), []string{
			"# node vm1 (underlay 10.0.1.10 on eth0), mode gretap-hub, role hub",
			"# overlay 172.16.254.1/24, mtu 8962 = underlay mtu 9000 - 38 bytes of GRETAP overhead",
			"ip link add mcast0 group 1835234164 mtu 8962 type bridge mcast_snooping 1 mcast_querier 1 mcast_query_use_ifaddr 1",
			"ip link set mcast0 alias 'mcast-tunnel gretap-hub node=vm1'",
			"# tunnel to vm2",
			"ip link add mcast0p2 group 1835234164 mtu 8962 type gretap local 10.0.1.10 remote 10.0.2.10 ttl 64",
			"ip link set mcast0p2 alias 'mcast-tunnel gretap-hub node=vm1 port=vm2'",
			"ip link set mcast0p2 master mcast0",
			"# tunnel to vm3",
			"ip link add mcast0p3 group 1835234164 mtu 8962 type gretap local 10.0.1.10 remote 10.0.3.10 ttl 64",
			"ip link set mcast0p3 alias 'mcast-tunnel gretap-hub node=vm1 port=vm3'",
			"ip link set mcast0p3 master mcast0",
			"ip addr add 172.16.254.1/24 brd 172.16.254.255 dev mcast0",
			"ip link set mcast0 up",
			"ip link set mcast0p2 up",
			"ip link set mcast0p3 up",
			"ip route add 224.0.0.0/4 dev mcast0",
			"sysctl -w net.ipv4.icmp_echo_ignore_broadcasts=0",
		}},
		{"gretap-hub.yaml", "vm3", tunnel.Host{}, []string{
			"# node vm3 (underlay 10.0.3.10), mode gretap-hub, role spoke",
			"# overlay 172.16.254.3/24, mtu 1462 = underlay mtu 1500 - 38 bytes of GRETAP overhead",
			"# (10.0.3.10 is not an address of this host: underlay mtu assumed 1500)",
			"# tunnel to vm1",
			"ip link add mcast0 group 1835234164 mtu 1462 type gretap local 10.0.3.10 remote 10.0.1.10 ttl 64",
			"ip link set mcast0 alias 'mcast-tunnel gretap-hub node=vm3'",
			"ip addr add 172.16.254.3/24 brd 172.16.254.255 dev mcast0",
			"ip link set mcast0 up",
			"ip route add 224.0.0.0/4 dev mcast0",
			"sysctl -w net.ipv4.icmp_echo_ignore_broadcasts=0",
		}},
		{"vxlan-hub.yaml", "vm3", vm(3, 1500), []string{
			"# node vm3 (underlay 10.0.3.10 on eth0), mode vxlan-hub, role spoke",
			"# overlay 172.16.254.3/24, mtu 1450 = underlay mtu 1500 - 50 bytes of VXLAN overhead",
			"# tunnel to vm1",
			"ip link add mcast0 group 1835234164 mtu 1450 type vxlan id 4245 local 10.0.3.10 remote 10.0.1.10 dstport 4789 ttl 64",
			"ip link set mcast0 alias 'mcast-tunnel vxlan-hub node=vm3'",
			"ip addr add 172.16.254.3/24 brd 172.16.254.255 dev mcast0",
			"ip link set mcast0 up",
			"ip route add 224.0.0.0/4 dev mcast0",
			"sysctl -w net.ipv4.icmp_echo_ignore_broadcasts=0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.node, func(t *testing.T) {
			s, err := tunnel.Desire(load(t, tt.file), tt.node, tt.host)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, s.Plan()); d != "" {
				t.Errorf("plan (-want +got):\n%s", d)
			}
		})
	}
}

// The hub's VXLAN port towards spoke i uses the VNI spoke i uses.
func TestVXLANHubVNIsMatch(t *testing.T) {
	c := load(t, "vxlan-hub.yaml")
	hub, err := tunnel.Desire(c, "vm1", vm(1, 1500))
	if err != nil {
		t.Fatal(err)
	}
	for i, spoke := range []string{"vm2", "vm3"} {
		s, err := tunnel.Desire(c, spoke, vm(i+2, 1500))
		if err != nil {
			t.Fatal(err)
		}
		port := hub.Links[i+1]
		if port.VNI != s.Links[0].VNI || port.Remote != s.Node.Underlay || s.Links[0].Remote != hub.Node.Underlay {
			t.Errorf("hub port %+v does not match spoke %s tunnel %+v", port, spoke, s.Links[0])
		}
	}
}

func TestDesireErrors(t *testing.T) {
	c := load(t, "vxlan-mesh.yaml")
	overlap := vm(1, 1500)
	overlap.Interfaces = append(overlap.Interfaces, tunnel.HostInterface{Name: "eth1", MTU: 1500,
		Prefixes: []netip.Prefix{netip.MustParsePrefix("172.16.0.5/16")}})
	tests := []struct {
		name string
		node string
		host tunnel.Host
		mtu  int
		want string
	}{
		{"unknown node", "vm9", vm(1, 1500), 0, `unknown node "vm9"`},
		{"overlapping local subnet", "vm1", overlap, 0, "vxlan-mesh.yaml:4: the overlay subnet 172.16.254.0/24 overlaps 172.16.0.5/16 on eth1 of this host"},
		{"mtu too large", "vm1", vm(1, 1500), 1460, "mtu 1460 does not fit: the underlay MTU 1500 minus the 50-byte vxlan-mesh overhead allows at most 1450"},
		{"underlay too small", "vm1", vm(1, 600), 0, "leaves only 550 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.MTU = tt.mtu
			_, err := tunnel.Desire(c, tt.node, tt.host)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestLocalNode(t *testing.T) {
	c := load(t, "vxlan-mesh.yaml")
	n, err := c.LocalNode(vm(2, 1500))
	if err != nil || n.Name != "vm2" {
		t.Errorf("LocalNode = %v, %v; want vm2", n.Name, err)
	}
	_, err = c.LocalNode(vm(7, 1500))
	if err == nil || !strings.Contains(err.Error(), "10.0.7.10 on eth0") {
		t.Errorf("error %v, want one naming the local addresses", err)
	}
}

func TestLinkRequests(t *testing.T) {
	hub, err := tunnel.Desire(load(t, "gretap-hub.yaml"), "vm1", vm(1, 1500))
	if err != nil {
		t.Fatal(err)
	}
	br, ok := tunnel.LinkRequest(hub.Links[0]).(*netlink.Bridge)
	if !ok || br.Name != "mcast0" || br.MTU != 1462 || br.MulticastSnooping == nil || !*br.MulticastSnooping || br.Alias != "mcast-tunnel gretap-hub node=vm1" ||
		br.Group != tunnel.OwnerGroup {
		t.Errorf("bridge request %+v", tunnel.LinkRequest(hub.Links[0]))
	}
	g, ok := tunnel.LinkRequest(hub.Links[1]).(*netlink.Gretap)
	if !ok {
		t.Fatalf("port request is %T, want *netlink.Gretap", tunnel.LinkRequest(hub.Links[1]))
	}
	if g.Name != "mcast0p2" || g.MTU != 1462 || !g.Local.Equal(net.IPv4(10, 0, 1, 10)) || !g.Remote.Equal(net.IPv4(10, 0, 2, 10)) ||
		g.Ttl != 64 || g.PMtuDisc != 1 || g.Type() != "gretap" || g.IKey != 0 || g.OKey != 0 {
		t.Errorf("gretap request %+v", g)
	}

	mesh, err := tunnel.Desire(load(t, "vxlan-mesh.yaml"), "vm2", vm(2, 1500))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := tunnel.LinkRequest(mesh.Links[0]).(*netlink.Vxlan)
	if !ok || v.VxlanId != 4242 || v.Port != 4789 || !v.Learning || v.Group != nil || !v.SrcAddr.Equal(net.IPv4(10, 0, 2, 10)) || v.TTL != 64 || v.MTU != 1450 {
		t.Errorf("vxlan request %+v", v)
	}
	if len(mesh.FDB) != 2 {
		t.Fatalf("FDB %+v, want one entry per peer", mesh.FDB)
	}
	n := tunnel.FDBRequest(mesh.FDB[0], 7)
	if n.LinkIndex != 7 || n.Family != 7 || n.State != 0x80 || n.Flags != 0x02 || n.HardwareAddr.String() != "00:00:00:00:00:00" || !n.IP.Equal(net.IPv4(10, 0, 1, 10)) {
		t.Errorf("fdb request %+v", n)
	}
	a := tunnel.AddrRequest(mesh.Addrs[0])
	if a.IPNet.String() != "172.16.254.2/24" || !a.Broadcast.Equal(net.IPv4(172, 16, 254, 255)) {
		t.Errorf("addr request %+v", a)
	}
	r := tunnel.RouteRequest(mesh.Routes[0], 7)
	if r.Dst.String() != "224.0.0.0/4" || r.LinkIndex != 7 || r.Scope != 253 {
		t.Errorf("route request %+v", r)
	}
}

func TestRestores(t *testing.T) {
	a := "mcast-tunnel vxlan-mesh node=vm1"
	rs := []tunnel.Sysctl{{Key: "net.ipv4.icmp_echo_ignore_broadcasts", Value: "1"}}
	with := tunnel.WithRestores(a, rs)
	if with != a+" restore=net.ipv4.icmp_echo_ignore_broadcasts=1" {
		t.Errorf("WithRestores = %q", with)
	}
	if d := cmp.Diff(rs, tunnel.Restores(with)); d != "" {
		t.Errorf("Restores (-want +got):\n%s", d)
	}
	if tunnel.WithRestores(with, nil) != a || !tunnel.Owned(with) || tunnel.Owned("uplink") {
		t.Error("alias round trip")
	}
	// A device made by an up killed before it set the alias is still ours.
	if !tunnel.OwnedDevice("", tunnel.OwnerGroup) || !tunnel.OwnedDevice(with, 0) || tunnel.OwnedDevice("uplink", 0) {
		t.Error("OwnedDevice")
	}
}
