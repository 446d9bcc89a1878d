package integration_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/labtest"
)

// unitCommand is the command line of setting key (ExecStart, ExecStop) in
// unit, with the instance name, the config directory and the binary
// replaced as given.
func unitCommand(t *testing.T, unit, key string, repl *strings.Replacer) []string {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.Fields(repl.Replace(v))
		}
	}
	t.Fatalf("%s has no %s=", unit, key)
	return nil
}

// TestTunnelUnitUpAndDown: mcast-tunnel@NAME's ExecStart brings the
// overlay of /etc/mcast/tunnel/NAME.yaml up on each node (broadcast ping
// across it answered), and its ExecStop takes it down, leaving the node as
// it was.
func TestTunnelUnitUpAndDown(t *testing.T) {
	l := labtest.Up(t, "cloud", "--nodes", "2")
	dir := t.TempDir()
	cfg := tunnelConfig(t, "vxlan-mesh", 2, "")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lab.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	unit := repoFile("dist", "systemd", "mcast-tunnel@.service")
	repl := strings.NewReplacer("%i", "lab", "/etc/mcast/tunnel", dir, "/usr/bin/mcast", l.Bin)
	start, stop := unitCommand(t, unit, "ExecStart", repl), unitCommand(t, unit, "ExecStop", repl)

	before := tunSnapshot(t, l, "vm1")
	for _, n := range []string{"vm1", "vm2"} {
		l.MustRun(n, start...)
	}
	if out := tunBroadcastPing(t, l, "vm1"); !strings.Contains(out, "172.16.254.2") {
		t.Errorf("broadcast ping across the overlay from vm1: vm2 did not answer:\n%s", out)
	}
	for _, n := range []string{"vm1", "vm2"} {
		l.MustRun(n, stop...)
	}
	if after := tunSnapshot(t, l, "vm1"); after != before {
		t.Errorf("ExecStop did not leave vm1 as it was:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
