package integration_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay"
)

// TestRelayInterfaceVanishes: vm2's relay serves a LAN interface of its own
// (lan0; the underlay stays on eth0), which is deleted under it and made
// again. The relay keeps running, shows and counts the loss, its peer sees
// it down, and it carries again once the interface is back.
func TestRelayInterfaceVanishes(t *testing.T) {
	rl := upRelayLab(t, 2)
	makeLAN := func() {
		rl.MustRun("vm2", "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan0p")
		rl.MustRun("vm2", "ip", "addr", "add", "192.168.77.1/24", "dev", "lan0")
		rl.MustRun("vm2", "ip", "link", "set", "lan0p", "up")
		rl.MustRun("vm2", "ip", "link", "set", "lan0", "up")
	}
	makeLAN()
	rl.start("vm1", "group 239.1.1.1")
	conf := rl.writeConf("vm2", "group 239.1.1.1")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(strings.Replace(string(b), "interface eth0\n", "interface lan0\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	rl.procs["vm2"] = rl.StartMcast("vm2", "relay", "--config", conf, "--log-level", "debug")

	receive := func() {
		t.Helper()
		r := rl.StartMcast("vm2", "recv", "--iface", "lan0", "--timeout", "60s", "239.1.1.1")
		rl.waitStatus("vm1", "vm2 wanting the group", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
		r.WaitFor("received: message", 20*time.Second)
		r.Stop()
	}
	send := rl.StartMcast("vm1", "send", "--iface", "eth0", "--count", "0", "--interval", "10ms", "239.1.1.1")
	defer send.Stop()
	receive()

	rl.MustRun("vm2", "ip", "link", "del", "lan0")
	st := rl.waitStatus("vm2", "the interface gone", func(st relay.Status) bool { return !st.InterfaceUp })
	if st.InterfaceLost != 1 || len(st.Joined) != 0 {
		t.Errorf("with lan0 gone: interface_lost %d (want 1), joined %v (want none)", st.InterfaceLost, st.Joined)
	}
	if r := rl.Mcast("vm2", "relay", "status", "--admin", filepath.Join(rl.dir, "vm2.sock")); !strings.Contains(r.Stdout, "interface lan0 is gone") {
		t.Errorf("relay status does not say the interface is gone: %s", r)
	}
	rl.waitStatus("vm1", "vm2 down", func(st relay.Status) bool { return !peerByName(st, "vm2").Up })
	select {
	case <-rl.procs["vm2"].Done():
		t.Fatalf("vm2's relay exited when its interface vanished:\n%s", rl.logs())
	default:
	}

	makeLAN()
	st = rl.waitStatus("vm2", "the interface back", func(st relay.Status) bool { return st.InterfaceUp })
	if st.InterfaceLost != 1 {
		t.Errorf("interface_lost %d after one loss", st.InterfaceLost)
	}
	receive()
	logs := rl.procs["vm2"].Stderr()
	for _, want := range []string{"interface gone", "interface back"} {
		if !strings.Contains(logs, want) {
			t.Errorf("vm2's log does not say %q:\n%s", want, logs)
		}
	}
}

// TestRelayPortInUse: a second relay on a listen address already taken
// fails at start with one line that names the address.
func TestRelayPortInUse(t *testing.T) {
	rl := upRelayLab(t, 2)
	rl.start("vm1", "group 239.1.1.1")
	rl.waitStatus("vm1", "the relay up", func(relay.Status) bool { return true })
	r := rl.Mcast("vm1", "relay", "--config", rl.writeConf("vm1", "group 239.1.1.1"))
	if r.Code != 1 || !strings.Contains(r.Stderr, "10.0.1.10:7474") || !strings.Contains(r.Stderr, "address already in use") ||
		strings.Count(r.Stderr, "\n") != 1 {
		t.Fatalf("second relay on 10.0.1.10:7474: %s; want exit 1 and one line naming the address", r)
	}
}
