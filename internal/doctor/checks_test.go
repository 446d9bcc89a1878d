package doctor_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/doctor"
)

func TestMulticastAddress(t *testing.T) {
	autojoin := lanNode()
	autojoin.links[1].Addrs = append(autojoin.links[1].Addrs, doctor.Addr{Prefix: pfx("239.0.0.1/32"), Autojoin: true})
	autojoin.routes = append(autojoin.routes, doctor.Route{Type: "local", Dst: pfx("239.0.0.1/32"), Dev: "eth0", Table: doctor.TableLocal, Proto: "kernel", Src: ip("239.0.0.1")})
	autojoin.get["239.0.0.1"] = doctor.Route{Type: "multicast", Dst: pfx("239.0.0.1/32"), Dev: "lo", Src: ip("239.0.0.1")}
	tests := []struct {
		name   string
		net    *fakeNet
		target doctor.Target
		status doctor.Status
		want   []string
	}{
		{"healthy", lanNode(), doctor.Target{}, doctor.OK, []string{"no multicast address"}},
		{"autojoin group address", autojoin, doctor.Target{Group: ip("239.0.0.1")}, doctor.Fail, []string{
			"239.0.0.1 on eth0", "ip addr: 239.0.0.1/32 dev eth0 autojoin",
			"ip route show table local: local 239.0.0.1 dev eth0 table local proto kernel src 239.0.0.1",
			"ip route get 239.0.0.1: multicast 239.0.0.1 dev lo src 239.0.0.1",
			"ip addr del 239.0.0.1/32 dev eth0", "VXLAN"}},
		{"autojoin, another group", autojoin, doctor.Target{Group: ip("239.0.0.2")}, doctor.Warn, []string{"your group 239.0.0.2 is not one of them"}},
		{"autojoin, no group", autojoin, doctor.Target{}, doctor.Fail, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, &doctor.Host{Net: tt.net, FS: root(t, "", nil)}, tt.target, "multicast-address")
			expect(t, r, tt.status, tt.want...)
		})
	}
}

func TestRoute(t *testing.T) {
	noRoute := lanNode()
	noRoute.routes = noRoute.routes[:1]
	delete(noRoute.get, "239.255.0.1")
	delete(noRoute.get, "239.1.2.3")
	viaDefault := lanNode()
	viaDefault.routes[1] = doctor.Route{Type: "unicast", Gateway: ip("10.0.0.254"), Dev: "eth0", Table: doctor.TableMain}
	toLo := lanNode()
	toLo.links[1].Addrs = append(toLo.links[1].Addrs, doctor.Addr{Prefix: pfx("239.1.2.3/32")})
	toLo.get["239.1.2.3"] = doctor.Route{Type: "multicast", Dst: pfx("239.1.2.3/32"), Dev: "lo", Src: ip("239.1.2.3")}
	tests := []struct {
		name   string
		net    *fakeNet
		target doctor.Target
		status doctor.Status
		want   []string
	}{
		{"healthy", lanNode(), doctor.Target{}, doctor.OK, []string{"leaves by eth0, by its multicast route", "matching route: 224.0.0.0/4 dev eth0"}},
		{"default route", viaDefault, doctor.Target{}, doctor.OK, []string{"default route's interface"}},
		{"no route", noRoute, doctor.Target{Group: ip("239.1.2.3")}, doctor.Fail, []string{"network is unreachable", "no 224.0.0.0/4 route and no default route", "ip route add 224.0.0.0/4 dev eth0"}},
		{"other interface", twonicHost(), doctor.Target{Iface: "enX1"}, doctor.Warn, []string{"leaves by enX0, not by enX1", "ip route replace 224.0.0.0/4 dev enX1"}},
		{"interface by address", twonicHost(), doctor.Target{Iface: "10.0.0.12"}, doctor.OK, nil},
		{"to lo", toLo, doctor.Target{Group: ip("239.1.2.3")}, doctor.Fail, []string{"routed to lo", "ip addr del 239.1.2.3/32 dev eth0"}},
		{"unknown interface", lanNode(), doctor.Target{Iface: "eth9"}, doctor.Skip, []string{`could not check: unknown interface "eth9"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, run(t, &doctor.Host{Net: tt.net, FS: root(t, "", nil)}, tt.target, "route"), tt.status, tt.want...)
		})
	}
}

func TestLink(t *testing.T) {
	down := lanNode()
	down.links[1].Up, down.links[1].LowerUp = false, false
	delete(down.get, "239.255.0.1")
	tun := lanNode()
	tun.links[1] = doctor.Link{Name: "tun0", Index: 2, Type: "tun", Up: true, LowerUp: true, PointToPoint: true, NoARP: true, Addrs: addrs("10.8.0.1/24")}
	tun.get["239.255.0.1"] = doctor.Route{Type: "multicast", Dev: "tun0"}
	bare := lanNode()
	bare.links[1].Addrs = addrs("fd00::1/64")
	noCarrier := lanNode()
	noCarrier.links[1].LowerUp = false
	tests := []struct {
		name   string
		net    *fakeNet
		target doctor.Target
		status doctor.Status
		want   []string
	}{
		{"healthy", lanNode(), doctor.Target{}, doctor.OK, []string{"eth0 up, with carrier, MULTICAST and an IPv4 address"}},
		{"down", down, doctor.Target{Iface: "eth0"}, doctor.Fail, []string{"eth0 is down", "ip link set eth0 up"}},
		{"down, no iface", down, doctor.Target{}, doctor.Fail, []string{"eth0 is down"}},
		{"tun", tun, doctor.Target{}, doctor.Fail, []string{"tun0 lacks the MULTICAST flag", "<POINTOPOINT,NOARP,UP,LOWER_UP> type tun"}},
		{"no IPv4", bare, doctor.Target{Iface: "eth0"}, doctor.Fail, []string{"has no IPv4 address", "ip addr add ADDRESS/LEN dev eth0"}},
		{"no carrier", noCarrier, doctor.Target{Iface: "eth0"}, doctor.Fail, []string{"no carrier"}},
		{"unknown", lanNode(), doctor.Target{Iface: "eth9"}, doctor.Skip, []string{"unknown interface"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, run(t, &doctor.Host{Net: tt.net, FS: root(t, "", nil)}, tt.target, "link"), tt.status, tt.want...)
		})
	}
}

func TestRPFilter(t *testing.T) {
	tests := []struct {
		name   string
		net    *fakeNet
		files  map[string]string
		target doctor.Target
		status doctor.Status
		want   []string
	}{
		{"single-homed", lanNode(), sysctls("net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.eth0.rp_filter=1", "net.ipv4.conf.eth0.accept_local=0"), doctor.Target{}, doctor.OK, []string{"single-homed"}},
		{"two NICs, default sysctls", twonicHost(), nil, doctor.Target{Iface: "enX1"}, doctor.Warn, []string{"enX1 shares a subnet with enX0", "sysctl -w net.ipv4.conf.enX1.accept_local=1"}},
		{"strict, remote source", twonicHost(), sysctls("net.ipv4.conf.enX1.rp_filter=1"), doctor.Target{Iface: "enX1", Source: ip("10.0.0.20")}, doctor.Fail, []string{
			"strict rp_filter on enX1 drops datagrams from 10.0.0.20: the route back to 10.0.0.20 leaves by enX0",
			"ip route get 10.0.0.20: 10.0.0.20 dev enX0 src 10.0.0.12",
			"sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.enX1.rp_filter=2"}},
		{"strict via all", twonicHost(), sysctls("net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.enX1.accept_local=1"), doctor.Target{Iface: "enX1"}, doctor.Warn, []string{"strict rp_filter on multi-homed enX1", "rp_filter 1"}},
		{"own source, accept_local", twonicHost(), sysctls("net.ipv4.conf.enX1.accept_local=1"), doctor.Target{Iface: "enX1", Source: ip("10.0.0.12")}, doctor.OK, []string{"pass the receive-path filters"}},
		{"own source, defaults", twonicHost(), nil, doctor.Target{Iface: "enX1", Source: ip("10.0.0.12")}, doctor.Warn, []string{"only as the loopback copy", "accept_local=0"}},
		{"loose and accept_local", twonicHost(), sysctls("net.ipv4.conf.enX1.accept_local=1", "net.ipv4.conf.enX0.accept_local=1", "net.ipv4.conf.all.rp_filter=2"), doctor.Target{}, doctor.OK, []string{"multi-homed, and rp_filter and accept_local let datagrams through"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := "twonic-host"
			if tt.net.links[1].Name == "eth0" {
				base = ""
			}
			h := &doctor.Host{Net: tt.net, FS: root(t, base, tt.files)}
			expect(t, run(t, h, tt.target, "rp-filter"), tt.status, tt.want...)
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		h := &doctor.Host{Net: twonicHost(), FS: root(t, "", nil)}
		expect(t, run(t, h, doctor.Target{Iface: "enX1"}, "rp-filter"), doctor.Skip, "could not check", "accept_local")
	})
}

// readRules reads a recorded ruleset; they are kept with the firewall
// package, which parses them.
func readRules(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../firewall/testdata/rules/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFirewall(t *testing.T) {
	tests := []struct {
		name   string
		rules  doctor.Rulesets
		target doctor.Target
		status doctor.Status
		want   []string
		not    []string
	}{
		{"empty", doctor.Rulesets{NftJSON: `{"nftables":[{"metainfo":{"version":"1.0.6"}}]}`}, doctor.Target{}, doctor.OK, []string{"no rule drops"}, nil},
		{"recorded drops, port 5000", doctor.Rulesets{NftJSON: readRules(t, "mixed.json")}, doctor.Target{Group: ip("239.1.2.3"), Port: 5000}, doctor.Fail, []string{
			`table inet filter chain input handle 4: "udp dport 5000 counter drop" drops UDP to 239.1.2.3:5000 arriving on eth0`,
			`handle 3: "ip protocol igmp drop" drops IGMP queries`,
			"nft delete rule inet filter input handle 4", "nft delete rule inet filter input handle 3"}, nil},
		{"recorded drops, other port", doctor.Rulesets{NftJSON: readRules(t, "mixed.json")}, doctor.Target{Group: ip("239.1.2.3"), Port: 7000}, doctor.Fail, []string{
			`handle 5: "ip daddr 224.0.0.0/4 drop" drops UDP to 239.1.2.3:7000`}, []string{"handle 4", "chain OUTPUT"}},
		{"recorded drops, iptables-nft output", doctor.Rulesets{NftJSON: readRules(t, "mixed.json")}, doctor.Target{Group: ip("239.1.2.3"), Port: 6000}, doctor.Fail, []string{
			`nft: table ip filter chain OUTPUT handle 2: "udp dport 6000 counter drop" drops UDP to 239.1.2.3:6000 leaving by eth0`}, nil},
		{"iptables output drop", doctor.Rulesets{NftJSON: `{"nftables":[]}`, IptablesSave: readRules(t, "legacy-policy-drop.txt")}, doctor.Target{Group: ip("239.1.2.3"), Port: 5000}, doctor.Fail, []string{
			`iptables: chain OUTPUT: "-A OUTPUT -d 224.0.0.0/4 -j DROP" drops UDP to 239.1.2.3:5000 leaving by eth0`,
			"iptables -D OUTPUT -d 224.0.0.0/4 -j DROP",
			"iptables: chain INPUT policy drop, no rule accepts it: drops IGMP queries",
			"iptables -I INPUT -p igmp -j ACCEPT"}, []string{"UDP to 239.1.2.3:5000 arriving"}},
		{"iptables policy, other port", doctor.Rulesets{IptablesSave: readRules(t, "legacy-policy-drop.txt")}, doctor.Target{Group: ip("239.1.2.3"), Port: 6000}, doctor.Fail, []string{
			"chain INPUT policy drop, no rule accepts it: drops UDP to 239.1.2.3:6000 arriving on eth0",
			"iptables -I INPUT -d 239.1.2.3 -p udp --dport 6000 -j ACCEPT"}, nil},
		{"jump, limit and policy", doctor.Rulesets{NftJSON: readRules(t, "jump-policy.json")}, doctor.Target{Group: ip("239.1.2.3"), Port: 5000}, doctor.Warn, []string{
			`"ip daddr 239.0.0.0/8 limit ... drop" may drop UDP to 239.1.2.3:5000 arriving on eth0`}, []string{"IGMP queries", "eth1"}},
		{"jump, policy drops other port", doctor.Rulesets{NftJSON: readRules(t, "jump-policy.json")}, doctor.Target{Group: ip("224.1.1.1"), Port: 6000}, doctor.Fail, []string{
			"nft: table inet fw chain input policy drop, no rule accepts it: drops UDP to 224.1.1.1:6000 arriving on eth0",
			"nft insert rule inet fw input ip daddr 224.1.1.1 udp dport 6000 accept"}, []string{"eth1"}},
		{"jump, policy, no group", doctor.Rulesets{NftJSON: readRules(t, "jump-policy.json")}, doctor.Target{}, doctor.Fail, []string{
			"policy drop, no rule accepts it: drops MLD queries (to ff02::1) arriving on eth0",
			`"ip daddr 239.0.0.0/8 limit ... drop" may drop UDP to 239.255.0.1 (any port)`,
			"icmpv6 type { mld-listener-query"}, nil},
		{"unparsable", doctor.Rulesets{NftJSON: `{"nftables": [`}, doctor.Target{}, doctor.Skip, []string{"could not check: parsing nft JSON"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &doctor.Host{Net: lanNode(), FS: root(t, "", nil), Rules: func(context.Context) (doctor.Rulesets, error) { return tt.rules, nil }}
			r := run(t, h, tt.target, "firewall")
			expect(t, r, tt.status, tt.want...)
			all := strings.Join(r.Evidence, "\n")
			for _, n := range tt.not {
				if strings.Contains(all, n) {
					t.Errorf("evidence has %q:\n%s", n, all)
				}
			}
		})
	}
}

func TestBroadcast(t *testing.T) {
	tun := lanNode()
	tun.links[1].Broadcast, tun.links[1].PointToPoint = false, true
	slash32 := lanNode()
	slash32.links[1].Addrs = addrs("10.0.0.1/32")
	unicast := lanNode()
	unicast.get["10.0.0.255"] = doctor.Route{Type: "unicast", Dst: pfx("10.0.0.255/32"), Gateway: ip("10.0.0.254"), Dev: "eth0"}
	tests := []struct {
		name   string
		net    *fakeNet
		files  map[string]string
		status doctor.Status
		want   []string
	}{
		{"healthy", lanNode(), sysctls("net.ipv4.icmp_echo_ignore_broadcasts=0"), doctor.OK, []string{"ip route get 10.0.0.255: broadcast 10.0.0.255 dev eth0 table local src 10.0.0.1"}},
		{"ignores ping -b", lanNode(), sysctls("net.ipv4.icmp_echo_ignore_broadcasts=1"), doctor.Warn, []string{"net.ipv4.icmp_echo_ignore_broadcasts=1", "ping -b", "sysctl -w net.ipv4.icmp_echo_ignore_broadcasts=0"}},
		{"no BROADCAST flag", tun, sysctls("net.ipv4.icmp_echo_ignore_broadcasts=0"), doctor.Fail, []string{"eth0 has no BROADCAST flag"}},
		{"/32", slash32, sysctls("net.ipv4.icmp_echo_ignore_broadcasts=0"), doctor.Warn, []string{"has no subnet broadcast address"}},
		{"not a broadcast route", unicast, sysctls("net.ipv4.icmp_echo_ignore_broadcasts=0"), doctor.Warn, []string{"10.0.0.255 is not a broadcast address on eth0", "ip addr replace 10.0.0.1/24 dev eth0 brd +"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, run(t, &doctor.Host{Net: tt.net, FS: root(t, "", tt.files)}, doctor.Target{}, "broadcast"), tt.status, tt.want...)
		})
	}
}

func TestLimits(t *testing.T) {
	bridged := lanNode()
	bridged.links = append(bridged.links, doctor.Link{Name: "br1", Index: 5, Type: "bridge", Up: true, LowerUp: true, Multicast: true, Broadcast: true, Addrs: addrs("192.168.77.1/24")})
	bridgeV3 := map[string]string{
		"sys/class/net/br1/bridge/multicast_snooping": "1", "sys/class/net/br1/bridge/multicast_querier": "1",
		"sys/class/net/br1/bridge/multicast_igmp_version": "3", "sys/class/net/br1/bridge/multicast_membership_interval": "26000",
	}
	many := "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n2\teth0      :    18      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n"
	for i := 1; i <= 17; i++ {
		many += "\t\t\t\t" + strings.ToUpper(strings.TrimPrefix(hex4(239, 0, 0, byte(i)), "")) + "     1 0:00000000\t\t0\n"
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := sysctls(kv...)
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name   string
		net    *fakeNet
		files  map[string]string
		target doctor.Target
		status doctor.Status
		want   []string
	}{
		{"healthy", twonicHost(), nil, doctor.Target{}, doctor.OK, []string{"net.ipv4.igmp_max_memberships=20, net.ipv4.igmp_max_msf=10"}},
		{"forced v2, querier unknown", twonicHost(), sysctls("net.ipv4.conf.enX0.force_igmp_version=2"), doctor.Target{}, doctor.Warn, []string{"enX0 is forced to IGMPv2", "net.ipv4.conf.enX0.force_igmp_version=0"}},
		{"forced v2 against v3 bridge querier", bridged, with(bridgeV3, "net.ipv4.conf.br1.force_igmp_version=2", "net.ipv4.conf.all.force_igmp_version=0"), doctor.Target{Iface: "br1"}, doctor.Fail, []string{
			"br1 is forced to IGMPv2 but its querier (bridge br1) speaks IGMPv3", "sysctl -w net.ipv4.conf.all.force_igmp_version=0 net.ipv4.conf.br1.force_igmp_version=0"}},
		{"forced v2, v2 querier", bridged, with(map[string]string{"sys/class/net/br1/bridge/multicast_snooping": "1", "sys/class/net/br1/bridge/multicast_querier": "1", "sys/class/net/br1/bridge/multicast_igmp_version": "2", "sys/class/net/br1/bridge/multicast_membership_interval": "26000"}, "net.ipv4.conf.br1.force_igmp_version=2", "net.ipv4.conf.all.force_igmp_version=0"), doctor.Target{Iface: "br1"}, doctor.OK, []string{"speaks IGMPv2 too"}},
		{"near igmp_max_memberships", lanNode(), map[string]string{"proc/net/igmp": many}, doctor.Target{}, doctor.Warn, []string{"eth0 holds 17 groups and one socket may join at most 20", "sysctl -w net.ipv4.igmp_max_memberships=40"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := "twonic-host"
			files := tt.files
			if tt.net.links[1].Name == "eth0" {
				base = ""
				files = with(files, "net.ipv4.igmp_max_memberships=20", "net.ipv4.igmp_max_msf=10", "net.ipv4.conf.all.force_igmp_version=0", "net.ipv4.conf.eth0.force_igmp_version=0", "net.ipv4.conf.br1.force_igmp_version=0")
				if _, ok := files["proc/net/igmp"]; !ok {
					files["proc/net/igmp"] = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter"
				}
			}
			expect(t, run(t, &doctor.Host{Net: tt.net, FS: root(t, base, files)}, tt.target, "limits"), tt.status, tt.want...)
		})
	}
}

// hex4 is an IPv4 address as /proc/net/igmp prints it (little-endian hex).
func hex4(a, b, c, d byte) string {
	const digits = "0123456789ABCDEF"
	out := []byte{}
	for _, x := range []byte{d, c, b, a} {
		out = append(out, digits[x>>4], digits[x&15])
	}
	return string(out)
}

func TestSnooping(t *testing.T) {
	bridged := lanNode()
	bridged.links = append(bridged.links,
		doctor.Link{Name: "br0", Index: 5, Type: "bridge", Up: true, LowerUp: true, Multicast: true, Broadcast: true},
		doctor.Link{Name: "vq1", Index: 6, Type: "veth", Up: true, LowerUp: true, Multicast: true, Broadcast: true, MasterIndex: 5})
	br := func(snoop, querier string) map[string]string {
		return map[string]string{
			"sys/class/net/br0/bridge/multicast_snooping": snoop, "sys/class/net/br0/bridge/multicast_querier": querier,
			"sys/class/net/br0/bridge/multicast_igmp_version": "2", "sys/class/net/br0/bridge/multicast_membership_interval": "26000",
		}
	}
	tests := []struct {
		name   string
		net    *fakeNet
		files  map[string]string
		status doctor.Status
		want   []string
	}{
		{"no bridge", lanNode(), nil, doctor.OK, []string{"no Linux bridge"}},
		{"snooping, no querier", bridged, br("1", "0"), doctor.Fail, []string{"bridge br0 snoops IGMP/MLD but is not a querier and hears none", "about 260 s", "hears no other querier",
			"multicast_snooping=1 multicast_querier=0 multicast_igmp_version=2 multicast_membership_interval=4m20s; ports: vq1",
			"ip link set br0 type bridge mcast_querier 1"}},
		{"querier", bridged, br("1", "1"), doctor.OK, []string{"not snooping, a querier, or hearing one"}},
		{"not snooping", bridged, br("0", "0"), doctor.OK, nil},
		{"hears another querier", func() *fakeNet {
			n := lanNode()
			n.links = bridged.links
			n.querier = map[int]doctor.Querier{5: {Addr: ip("192.168.77.2"), PortIndex: 6, OtherTimer: 250 * time.Second}}
			return n
		}(), br("1", "0"), doctor.OK, []string{"bridge br0 hears querier 192.168.77.2 on port vq1 (other-querier timer 4m10s)"}},
		{"unreadable", bridged, nil, doctor.Skip, []string{"could not check: reading bridge br0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, run(t, &doctor.Host{Net: tt.net, FS: root(t, "", tt.files)}, doctor.Target{}, "snooping"), tt.status, tt.want...)
		})
	}
}

func TestTTL(t *testing.T) {
	cloudVM := &fakeNet{
		links:  []doctor.Link{lo, eth("eth0", 2, "10.0.1.10/24")},
		routes: []doctor.Route{{Type: "unicast", Gateway: ip("10.0.1.1"), Dev: "eth0", Table: doctor.TableMain}},
		get: map[string]doctor.Route{
			"239.1.2.3":   {Type: "multicast", Dst: pfx("239.1.2.3/32"), Dev: "eth0", Src: ip("10.0.1.10")},
			"239.255.0.1": {Type: "multicast", Dst: pfx("239.255.0.1/32"), Dev: "eth0", Src: ip("10.0.1.10")},
			"10.0.2.10":   {Type: "unicast", Dst: pfx("10.0.2.10/32"), Gateway: ip("10.0.1.1"), Dev: "eth0", Src: ip("10.0.1.10")},
		},
	}
	tests := []struct {
		name   string
		net    *fakeNet
		target doctor.Target
		status doctor.Status
		want   []string
	}{
		{"on the LAN", lanNode(), doctor.Target{Group: ip("239.1.2.3")}, doctor.OK, []string{"no router in between"}},
		{"link-local group", cloudVM, doctor.Target{Group: ip("224.0.0.251")}, doctor.OK, []string{"link-local"}},
		{"behind a router, TTL 1", cloudVM, doctor.Target{Group: ip("239.1.2.3")}, doctor.Warn, []string{"toward router 10.0.1.1 with TTL 1", "mcast send --ttl 8 239.1.2.3"}},
		{"behind a router, TTL 8", cloudVM, doctor.Target{Group: ip("239.1.2.3"), TTL: 8}, doctor.OK, nil},
		{"sender behind a router", cloudVM, doctor.Target{Group: ip("239.1.2.3"), TTL: 8, Source: ip("10.0.2.10")}, doctor.Warn, []string{"the sender 10.0.2.10 is behind router 10.0.1.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expect(t, run(t, &doctor.Host{Net: tt.net, FS: root(t, "", nil)}, tt.target, "ttl"), tt.status, tt.want...)
		})
	}
}

// A group routed through a router (ip route add 239.0.0.0/8 via 10.0.1.1)
// leaves toward that router whatever the TTL: with a TTL high enough the
// check passes, but it must not say there is no router in between.
func TestTTLRoutedGroup(t *testing.T) {
	routed := &fakeNet{
		links: []doctor.Link{lo, eth("eth0", 2, "10.0.1.10/24")},
		routes: []doctor.Route{
			{Type: "unicast", Dst: pfx("10.0.1.0/24"), Dev: "eth0", Table: doctor.TableMain, Proto: "kernel", Src: ip("10.0.1.10")},
			{Type: "unicast", Dst: pfx("239.0.0.0/8"), Gateway: ip("10.0.1.1"), Dev: "eth0", Table: doctor.TableMain},
		},
		get: map[string]doctor.Route{
			"239.1.2.3": {Type: "multicast", Dst: pfx("239.1.2.3/32"), Gateway: ip("10.0.1.1"), Dev: "eth0", Src: ip("10.0.1.10")},
		},
	}
	for _, ttl := range []int{1, 8} {
		r := run(t, &doctor.Host{Net: routed, FS: root(t, "", nil)}, doctor.Target{Group: ip("239.1.2.3"), TTL: ttl}, "ttl")
		if strings.Contains(r.Summary, "no router") || !strings.Contains(r.Summary, "router 10.0.1.1") {
			t.Errorf("TTL %d: summary %q, want it to name router 10.0.1.1", ttl, r.Summary)
		}
	}
	r := run(t, &doctor.Host{Net: routed, FS: root(t, "", nil)}, doctor.Target{Group: ip("239.1.2.3"), TTL: 8}, "ttl")
	expect(t, r, doctor.OK, "toward router 10.0.1.1 with TTL 8", "if 10.0.1.1 routes multicast")
}

func TestEnvironment(t *testing.T) {
	tests := []struct {
		root   string
		net    *fakeNet
		status doctor.Status
		want   []string
	}{
		{"bare", lanNode(), doctor.OK, []string{"not a container, not a cloud VM", "no /sys/class/dmi/id"}},
		{"qemu", lanNode(), doctor.OK, []string{"a VM (qemu)"}},
		{"ec2", lanNode(), doctor.Warn, []string{"Amazon EC2", "Transit Gateway multicast domains", "/sys/class/dmi/id/sys_vendor: Amazon EC2", "mcast tunnel", "mcast relay"}},
		{"gce", lanNode(), doctor.Warn, []string{"Google Compute Engine", "allow-listed regional multicast"}},
		{"azure", lanNode(), doctor.Warn, []string{"Microsoft Azure", "GRE"}},
		{"oci", lanNode(), doctor.Warn, []string{"Oracle Cloud Infrastructure", "chassis_asset_tag: OracleCloud.com"}},
		{"docker", lanNode(), doctor.Warn, []string{"/.dockerenv exists", "bridged (veth) network", "--network host"}},
		{"k8s", &fakeNet{links: []doctor.Link{lo}}, doctor.Fail, []string{"/proc/1/cgroup mentions kubepods", "no network but lo"}},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			expect(t, run(t, &doctor.Host{Net: tt.net, FS: root(t, tt.root, nil)}, doctor.Target{}, "environment"), tt.status, tt.want...)
		})
	}
}

func TestProbe(t *testing.T) {
	probe := func(hits ...doctor.ProbeHit) func(context.Context, doctor.ProbeSpec) (doctor.ProbeOutcome, error) {
		return func(_ context.Context, s doctor.ProbeSpec) (doctor.ProbeOutcome, error) {
			return doctor.ProbeOutcome{Sent: s.Count, Hits: hits}, nil
		}
	}
	loop := []doctor.ProbeHit{{IfIndex: 2, Src: ip("10.0.0.12")}, {IfIndex: 2, Src: ip("10.0.0.12")}, {IfIndex: 2, Src: ip("10.0.0.12")}}
	wire := append(loop, doctor.ProbeHit{IfIndex: 3, Src: ip("10.0.0.12")}, doctor.ProbeHit{IfIndex: 3, Src: ip("10.0.0.12")}, doctor.ProbeHit{IfIndex: 3, Src: ip("10.0.0.12")})
	g := ip("239.1.2.3")
	tests := []struct {
		name   string
		root   bool
		files  map[string]string
		target doctor.Target
		probe  func(context.Context, doctor.ProbeSpec) (doctor.ProbeOutcome, error)
		status doctor.Status
		want   []string
	}{
		{"no group", true, nil, doctor.Target{}, probe(), doctor.Skip, []string{"not run: the probe joins a group and sends to it, so it needs --group G[:PORT] (and root)"}},
		{"not root", false, nil, doctor.Target{Group: g}, probe(), doctor.Skip, []string{"could not check: the probe runs only as root"}},
		{"nothing back", true, nil, doctor.Target{Group: g}, probe(), doctor.Fail, []string{"none of the 3 datagrams to 239.1.2.3 came back", "sent 3 of 3 datagrams to 239.1.2.3:28000 from 10.0.0.12 on enX0"}},
		{"same NIC, loopback", true, nil, doctor.Target{Group: g, Iface: "enX0"}, probe(loop...), doctor.OK, []string{"3 on enX0 [loopback copy]", "says nothing of the network"}},
		{"two NICs, defaults", true, nil, doctor.Target{Group: g, Port: 5000, Iface: "enX1", Source: ip("10.0.0.12")}, probe(loop...), doctor.Warn, []string{
			"came back only as loopback copies (3 on enX0 [loopback copy]); none crossed the wire to enX1", "sysctl -w net.ipv4.conf.enX1.accept_local=1"}},
		{"two NICs, accept_local", true, sysctls("net.ipv4.conf.enX1.accept_local=1"), doctor.Target{Group: g, Port: 5000, Iface: "enX1", Source: ip("10.0.0.12")}, probe(wire...), doctor.OK, []string{
			"came back across the wire on enX1", "3 on enX1 [wire, from this host]"}},
		{"probe error", true, nil, doctor.Target{Group: g}, func(context.Context, doctor.ProbeSpec) (doctor.ProbeOutcome, error) {
			return doctor.ProbeOutcome{}, errors.New("probe: joining 239.1.2.3 on enX0: no buffer space available")
		}, doctor.Skip, []string{"could not check: probe: joining"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &doctor.Host{Net: twonicHost(), FS: root(t, "twonic-host", tt.files), Root: tt.root, Probe: tt.probe}
			expect(t, run(t, h, tt.target, "probe"), tt.status, tt.want...)
		})
	}
}

type fnCheck struct {
	name string
	fn   func(ctx context.Context) doctor.Result
}

func (c fnCheck) Name() string                          { return c.name }
func (c fnCheck) Run(ctx context.Context) doctor.Result { return c.fn(ctx) }

func TestRunIsolatesChecks(t *testing.T) {
	checks := []doctor.Check{
		fnCheck{"panics", func(context.Context) doctor.Result { panic("boom") }},
		fnCheck{"hangs", func(ctx context.Context) doctor.Result { time.Sleep(time.Hour); return doctor.Result{} }},
		fnCheck{"fails", func(context.Context) doctor.Result { return doctor.Result{Status: doctor.Fail, Summary: "x"} }},
		fnCheck{"ok", func(context.Context) doctor.Result { return doctor.Result{Status: doctor.OK} }},
	}
	rs := doctor.Run(context.Background(), checks, 200*time.Millisecond)
	want := []struct {
		name   string
		status doctor.Status
		text   string
	}{{"panics", doctor.Skip, "could not check: internal error: boom"}, {"hangs", doctor.Skip, "could not check: no answer within 200ms"}, {"fails", doctor.Fail, "x"}, {"ok", doctor.OK, ""}}
	for i, w := range want {
		if rs[i].Check != w.name || rs[i].Status != w.status || rs[i].Summary != w.text {
			t.Errorf("report %d = %+v, want %+v", i, rs[i], w)
		}
	}
	if !doctor.Failed(rs) {
		t.Error("Failed = false, want true")
	}
}

func TestCatalogNames(t *testing.T) {
	var got []string
	for _, c := range doctor.Catalog(&doctor.Host{}, doctor.Target{}) {
		got = append(got, c.Name())
	}
	want := "multicast-address route link rp-filter firewall broadcast limits snooping ttl environment probe"
	if strings.Join(got, " ") != want {
		t.Errorf("catalog %v, want %s", got, want)
	}
}
