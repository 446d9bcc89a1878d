package cli

import (
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/labtest"
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

// -I naming an interface without an address of the family is refused at
// once: nothing could be sent from it or answered on it. Run in the
// package's own network namespace (TestMain), with a dummy link made here (a veth pair: no dummy module in a container).
func TestPingInterfaceWithoutAddress(t *testing.T) {
	if !labtest.Isolated() || os.Geteuid() != 0 {
		t.Skip("needs root in the package's own network namespace")
	}
	for _, c := range [][]string{{"link", "add", "na0", "type", "veth", "peer", "name", "na1"}, {"link", "set", "na1", "up"}, {"link", "set", "na0", "up"}, {"link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", c, err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", "na0").Run() })
	for _, args := range [][]string{
		{"ping", "-I", "na0", "--count", "1", "--timeout", "2s", "127.0.0.1"},
		{"ping", "--serve", "-I", "na0", "--timeout", "2s"},
		{"ping", "--proto", "ssmping", "-I", "na0", "--count", "1", "--timeout", "2s", "127.0.0.1"},
	} {
		code, _, errb := run(t, nil, append([]string{"mcast"}, args...)...)
		if code != 1 || !strings.Contains(errb, `interface "na0" has no IPv4 address`) {
			t.Errorf("%v: exit %d, stderr %q; want exit 1 naming na0", args, code, errb)
		}
	}
}
