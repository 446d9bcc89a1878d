package integration_test

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/relay/config"
)

// TestRelayLogRateLimit: under a flood of frames with forged tags spoofing
// a peer's address (while the peer's real frames flow), of frames naming
// sessions that do not exist and of garbage, the relay logs each kind of line at most
// once per interval, counts every frame, and goes on carrying.
func TestRelayLogRateLimit(t *testing.T) {
	rl := upRelayLab(t, 2)
	for _, n := range rl.nodes {
		rl.start(n, "group 239.1.1.1")
	}
	const n = 400
	recv := rl.StartMcast("vm2", recvArgs(n, "2s", "239.1.1.1")...)
	rl.waitStatus("vm1", "vm2 wanting 239.1.1.1", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	logStart := len(rl.procs["vm2"].Stderr())
	attack := exec.Command("ip", "netns", "exec", rl.Name+"-vpc", "python3", filepath.Join(testdataDir(t), "relay_flood.py"),
		"10.0.2.10", "7474", "10.0.1.10", strconv.FormatUint(uint64(config.NodeID("vm1")), 10), "3", "3000")
	var out strings.Builder
	attack.Stdout, attack.Stderr = &out, &out
	if err := attack.Start(); err != nil {
		t.Fatal(err)
	}
	defer attack.Process.Kill()
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", "239.1.1.1"); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	if err := attack.Wait(); err != nil {
		t.Fatalf("attacker: %v\n%s", err, out.String())
	}
	t.Logf("attacker: %s", strings.TrimSpace(out.String()))
	exactlyOnceJSON(t, "vm2 under the flood", recv.Wait(), n, "10.0.1.10")
	st := rl.waitStatus("vm2", "the flood counted", func(st relay.Status) bool {
		return st.Drops[relay.DropAuth] >= 1000 && st.Drops[relay.DropUnknownSession] >= 1000 && st.Drops[relay.DropMalformed] >= 1000
	})
	logs := rl.procs["vm2"].Stderr()[logStart:]
	for _, msg := range []string{"failed authentication", "malformed frame"} {
		// One line at once, then at most one per interval: the flood and
		// the status wait take under 10 s.
		if c := strings.Count(logs, msg); c > 2 {
			t.Errorf("%d lines %q in the relay's log under the flood, want at most 2", c, msg)
		}
	}
	if c := strings.Count(logs, "level=WARN"); c > 10 {
		t.Errorf("%d warnings in the relay's log under the flood (drops %v), want at most 10:\n%.3000s", c, st.Drops, logs)
	}
	t.Logf("vm2 drops %v; log under the flood:\n%s", st.Drops, logs)
}
