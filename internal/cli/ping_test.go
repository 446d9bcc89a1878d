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

// isolatedVeth makes the veth pair na0/na1 (a veth: no dummy module in a
// container), both up, with addr on na0 when given, in the package's own
// network namespace (TestMain), and removes it when the test ends.
func isolatedVeth(t *testing.T, addr string) {
	t.Helper()
	if !labtest.Isolated() || os.Geteuid() != 0 {
		t.Skip("needs root in the package's own network namespace")
	}
	cmds := [][]string{{"link", "add", "na0", "type", "veth", "peer", "name", "na1"}, {"link", "set", "na1", "up"},
		{"link", "set", "na0", "up"}, {"link", "set", "lo", "up"}}
	if addr != "" {
		cmds = append(cmds, []string{"addr", "add", addr, "dev", "na0"})
	}
	t.Cleanup(func() { exec.Command("ip", "link", "del", "na0").Run() })
	for _, c := range cmds {
		if out, err := exec.Command("ip", c...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v %s", c, err, out)
		}
	}
}

// -I naming an interface without an address of the family is refused at
// once: nothing could be sent from it or answered on it.
func TestPingInterfaceWithoutAddress(t *testing.T) {
	isolatedVeth(t, "")
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

// A peer that never answered fails the run, as ping(8) exits 1 when no
// reply came; run alone, mcast ping also says why while it waits.
func TestPingNobodyAnswers(t *testing.T) {
	isolatedVeth(t, "10.9.0.1/24")
	code, out, errb := run(t, nil, "mcast", "ping", "--count", "1", "--interval", "200ms", "--timeout", "3500ms", "10.9.0.1", "10.9.0.2")
	if code != 1 || !strings.Contains(errb, "no answer from 10.9.0.2: every host in the list must run mcast ping (or omping)") {
		t.Errorf("omping alone: exit %d, stderr %q", code, errb)
	}
	if strings.Count(out, "hint: "+ping.AloneHint) != 1 {
		t.Errorf("omping alone: no hint, or more than one, in %q", out)
	}
	code, _, errb = run(t, nil, "mcast", "ping", "--proto", "ssmping", "--count", "1", "--timeout", "1s", "10.9.0.2")
	if code != 1 || !strings.Contains(errb, "no answer from 10.9.0.2: is ssmpingd") {
		t.Errorf("ssmping without a server: exit %d, stderr %q", code, errb)
	}
}
