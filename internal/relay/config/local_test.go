package config_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay/config"
)

// TestAutoSkipsLocalGroups: `group auto` carries every multicast group
// except those never meant to leave the link (the IANA local network
// control block, interface-local and link-local IPv6 scopes, SSDP's
// discovery groups), and a group or range the config names is carried
// even when it is one of those.
func TestAutoSkipsLocalGroups(t *testing.T) {
	parse := func(groups string) *config.Config {
		t.Helper()
		c, err := config.Parse(strings.NewReader("node a\nlisten 10.0.0.1\ninterface eth0\nkey k\n"+groups), "x")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	auto := parse("group auto\n")
	named := parse("group auto\ngroup 224.0.0.251 239.255.255.250 ff02::fb\ngroup 224.0.0.100/30\n")
	tests := []struct {
		group       string
		auto, named bool
	}{
		// IPv4: 224.0.0.0/24, the Local Network Control Block (RFC 5771).
		{"224.0.0.1", false, false},   // all systems
		{"224.0.0.2", false, false},   // all routers
		{"224.0.0.22", false, false},  // IGMPv3 reports
		{"224.0.0.106", false, false}, // multicast router discovery (a bridge's querier)
		{"224.0.0.251", false, true},  // mDNS, carried when named
		{"224.0.0.252", false, false}, // LLMNR
		{"224.0.0.101", false, true},  // inside a named range
		{"224.0.0.255", false, false},
		{"224.0.0.0", false, false},
		{"224.0.1.1", true, true}, // internetwork control (NTP): routed, carried
		{"224.0.1.129", true, true},
		{"239.255.255.250", false, true}, // SSDP, carried when named
		{"239.255.255.251", true, true},
		{"239.1.1.1", true, true},
		{"232.1.1.1", true, true},
		{"10.0.0.1", false, false},
		{"255.255.255.255", false, false},
		// IPv6: scopes 0 (reserved), 1 (interface-local), 2 (link-local), any flags.
		{"ff01::1", false, false},
		{"ff01::2", false, false},
		{"ff02::1", false, false},
		{"ff02::2", false, false},
		{"ff02::16", false, false},
		{"ff02::1:ff00:1", false, false}, // solicited-node
		{"ff02::1:ffab:cdef", false, false},
		{"ff02::fb", false, true}, // mDNS, carried when named
		{"ff02::c", false, false}, // SSDP link-local
		{"ff00::1", false, false},
		{"ff11::1", false, false},
		{"ff12::1234", false, false},
		{"ff32:40:fd00::1", false, false},
		{"ff05::c", false, false}, // SSDP site-local
		{"ff05::1:3", true, true}, // DHCPv6 servers, site-local
		{"ff05::fb", true, true},
		{"ff15::1", true, true},
		{"ff0e::1", true, true},
		{"ff3e::8000:1", true, true},
		{"fe80::1", false, false},
	}
	for _, tt := range tests {
		g := netip.MustParseAddr(tt.group)
		if got := auto.Carries(g); got != tt.auto {
			t.Errorf("group auto: carries %s %v, want %v", g, got, tt.auto)
		}
		if got := named.Carries(g); got != tt.named {
			t.Errorf("group auto and named groups: carries %s %v, want %v", g, got, tt.named)
		}
	}
}
