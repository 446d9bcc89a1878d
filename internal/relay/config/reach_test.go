package config_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay/config"
)

const reflectorHead = "node r1\nlisten 127.0.0.1\nprivate-key k\ninterface iot\ninterface lan\n"

func TestReflectorConfig(t *testing.T) {
	c, err := config.Parse(strings.NewReader(reflectorHead+"interface guest\nservice mdns ssdp\ngroup 239.1.1.1\nbroadcast-port 9\nmdns-type _IPP._tcp _googlecast._tcp\n"+
		"allow mdns from iot to lan\nallow broadcast:9 239.1.1.0/24 from lan to iot,guest\n"), "r.conf")
	if err != nil {
		t.Fatal(err)
	}
	if c.Interface != "iot" || len(c.Interfaces) != 3 || c.Interfaces[2] != "guest" || c.InterfaceLines[1] != 5 {
		t.Fatalf("interfaces: %q %v", c.Interfaces, c.InterfaceLines)
	}
	mdns := netip.MustParseAddrPort("224.0.0.251:5353")
	mdns6 := netip.MustParseAddrPort("[ff02::fb]:5353")
	g := netip.MustParseAddrPort("239.1.1.1:5000")
	b9 := netip.MustParseAddrPort("255.255.255.255:9")
	checks := []struct {
		name string
		ok   bool
	}{
		{"service groups carried", c.Carries(mdns.Addr()) && c.Carries(mdns6.Addr()) && c.Carries(netip.MustParseAddr("ff05::c"))},
		{"llmnr not named", !c.Carries(netip.MustParseAddr("224.0.0.252"))},
		{"service port", c.PortCarried(mdns) && !c.PortCarried(netip.MustParseAddrPort("224.0.0.251:9999"))},
		{"explicit group any port", c.PortCarried(g)},
		{"mdns iot to lan", c.Crosses(mdns, false, "iot", "lan") && c.Crosses(mdns6, false, "iot", "lan")},
		{"mdns not back", !c.Crosses(mdns, false, "lan", "iot") && !c.Crosses(mdns, false, "iot", "guest")},
		{"group lan to both", c.Crosses(g, false, "lan", "iot") && c.Crosses(g, false, "lan", "guest") && !c.Crosses(g, false, "iot", "lan")},
		{"broadcast", c.Crosses(b9, true, "lan", "guest") && !c.Crosses(b9, true, "guest", "lan")},
		{"mdns types", len(c.MDNSTypes) == 2 && c.MDNSTypes[0] == "_ipp._tcp"},
		{"unnamed crosses everywhere", c.Crosses(netip.MustParseAddrPort("239.255.255.250:1900"), false, "guest", "iot")},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: wrong", ch.name)
		}
	}
}

func TestReachBadInput(t *testing.T) {
	for _, tc := range []struct{ conf, want string }{
		{reflectorHead + "interface iot\ngroup auto\n", "r.conf:6: interface iot given twice (first on line 4)"},
		{reflectorHead + "group auto\nallow mdns from iot to wlan\n", "r.conf:7: allow names interface wlan, which no interface line configures"},
		{reflectorHead + "group auto\nallow mdns from dmz to lan\n", "r.conf:7: allow names interface dmz, which no interface line configures"},
		{reflectorHead + "service mdns\ngroup 224.0.0.251\n", "r.conf:7: group 224.0.0.251/32 takes in 224.0.0.251, which service mdns (line 6) carries on port 5353 only: drop one"},
		{reflectorHead + "service mdns\ngroup 224.0.0.0/24\n", "r.conf:7: group 224.0.0.0/24 takes in 224.0.0.251, which service mdns (line 6) carries on port 5353 only: drop one"},
		{reflectorHead + "service mdns mdns\n", "r.conf:6: service mdns given twice (first on line 6)"},
		{reflectorHead + "service bonjour\n", `r.conf:6: service "bonjour": want one of llmnr, mdns, ssdp, wsd`},
		{reflectorHead + "service mdns\nallow mdns from iot lan\n", `r.conf:7: allow "mdns from iot lan": want allow GROUP|GROUP/BITS|broadcast:PORT|SERVICE... from IFACE to IFACE[,IFACE...]`},
		{reflectorHead + "service mdns\nallow mdns from iot to iot\n", "r.conf:7: allow: interface iot is both from and to"},
		{reflectorHead + "service mdns\nallow broadcast:0 from iot to lan\n", `r.conf:7: allow "broadcast:0": not a port 1..65535`},
		{reflectorHead + "group auto\nmdns-type _ipp._tcp\n", "r.conf:7: mdns-type without service mdns: add a service mdns line"},
		{reflectorHead + "service mdns\nmdns-type ipp.tcp\n", `r.conf:7: mdns-type "ipp.tcp": not a service type such as _ipp._tcp or _sleep-proxy._udp`},
	} {
		_, err := config.Parse(strings.NewReader(tc.conf), "r.conf")
		if err == nil || err.Error() != tc.want {
			t.Errorf("got %v\nwant %s", err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("not one line: %q", err)
		}
	}
}

func TestInterfaceWait(t *testing.T) {
	c, err := config.Parse(strings.NewReader(reflectorHead+"interface br-media wait\ngroup 239.1.1.1\n"), "r.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Interfaces) != 3 || c.Interfaces[2] != "br-media" {
		t.Fatalf("interfaces: %q", c.Interfaces)
	}
	if !c.Waits("br-media") || c.Waits("iot") || c.Waits("lan") || c.Waits("eth9") {
		t.Fatalf("waits: %v", c.InterfaceWait)
	}
	for _, tc := range []struct{ line, want string }{
		{"interface br-media later", `r.conf:6: interface br-media: unexpected "later": want interface NAME [wait] [allow PREFIX[,PREFIX...]]`},
		{"interface br-media wait wait", `r.conf:6: interface br-media: unexpected "wait": want interface NAME [wait] [allow PREFIX[,PREFIX...]]`},
		{"interface", `r.conf:6: interface takes interface NAME [wait] [allow PREFIX[,PREFIX...]]`},
		{"interface iot wait", "r.conf:6: interface iot given twice (first on line 4)"},
		{"interface br-media allow", "r.conf:6: interface br-media: allow takes PREFIX[,PREFIX...]"},
		{"interface br-media allow 172.28.0.1/24", `r.conf:6: interface br-media allow "172.28.0.1/24": 172.28.0.1/24 has host bits set (did you mean 172.28.0.0/24?)`},
		{"interface br-media allow 172.28.0.0/24 allow 10.0.0.0/8", `r.conf:6: interface br-media: unexpected "allow": want interface NAME [wait] [allow PREFIX[,PREFIX...]]`},
		{"interface br-media allow bogus", `r.conf:6: interface br-media allow "bogus": "bogus" is not ADDR or ADDR/BITS`},
		{"interface br-media allow ::ffff:10.0.0.0/104", `r.conf:6: interface br-media allow "::ffff:10.0.0.0/104": IPv4-mapped IPv6: write the IPv4 prefix`},
	} {
		_, err := config.Parse(strings.NewReader(reflectorHead+tc.line+"\ngroup 239.1.1.1\n"), "r.conf")
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: got %v, want %s", tc.line, err, tc.want)
		}
	}
}

// An interface's allow prefixes: the sources a datagram captured there may
// have (a container on a Docker bridge claiming a LAN host's address is
// not carried); an interface without them takes any source.
func TestInterfaceAllow(t *testing.T) {
	c, err := config.Parse(strings.NewReader(reflectorHead+"interface br-media allow 172.28.0.0/24,fe80::/10 wait\ngroup 239.1.1.1\n"), "r.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Waits("br-media") {
		t.Error("wait after allow not taken")
	}
	if len(c.InterfaceAllow) != 3 || c.InterfaceAllow[0] != nil || c.InterfaceAllow[1] != nil {
		t.Errorf("per interface allow: %v", c.InterfaceAllow)
	}
	if c, _ := config.Parse(strings.NewReader(reflectorHead+"group 239.1.1.1\n"), "r.conf"); c.InterfaceAllow != nil {
		t.Errorf("no interface allow: %v, want nil", c.InterfaceAllow)
	}
	for _, tc := range []struct {
		iface, src string
		want       bool
	}{
		{"br-media", "172.28.0.2", true},
		{"br-media", "fe80::42:acff:fe1c:2", true},
		{"br-media", "192.168.77.2", false},
		{"br-media", "172.28.1.2", false},
		{"br-media", "2001:db8::1", false},
		{"iot", "192.168.77.2", true},
		{"eth9", "192.168.77.2", true},
	} {
		if got := c.SourceAllowed(tc.iface, netip.MustParseAddr(tc.src)); got != tc.want {
			t.Errorf("SourceAllowed(%s, %s) = %v, want %v", tc.iface, tc.src, got, tc.want)
		}
	}
}
