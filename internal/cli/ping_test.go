package cli

import (
	"net/netip"
	"testing"

	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/ping"
)

func TestPickGroupMode(t *testing.T) {
	all := []iface.Interface{{Name: "eth0", Index: 2, Up: true, Multicast: true,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("fd00::1/64")}}}
	local := netip.MustParseAddr("10.0.0.1")
	tests := []struct {
		group, mode string
		v6          bool
		wantGroup   string
		wantMode    ping.Mode
		wantErr     bool
	}{
		{"", "", false, "232.43.211.234", ping.ModeSSM, false},
		{"", "", true, "ff3e::4321:1234", ping.ModeSSM, false},
		{"239.1.2.3", "", false, "239.1.2.3", ping.ModeASM, false},
		{"", "asm", false, "232.43.211.234", ping.ModeASM, false},
		{"", "broadcast", false, "10.0.0.255", ping.ModeBroadcast, false},
		{"10.0.1.255", "broadcast", false, "", 0, true},
		{"10.0.0.1", "", false, "", 0, true},
		{"ff3e::1", "", false, "", 0, true},
		{"", "bogus", false, "", 0, true},
	}
	for _, tt := range tests {
		g, m, err := pickGroupMode(tt.group, tt.mode, tt.v6, local, all)
		if (err != nil) != tt.wantErr {
			t.Errorf("pickGroupMode(%q, %q): err %v", tt.group, tt.mode, err)
			continue
		}
		if err == nil && (g.String() != tt.wantGroup || m != tt.wantMode) {
			t.Errorf("pickGroupMode(%q, %q) = %s %s, want %s %s", tt.group, tt.mode, g, m, tt.wantGroup, tt.wantMode)
		}
	}
}
