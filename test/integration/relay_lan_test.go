package integration_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/relay/config"
)

// extraNode adds namespace <lab>-NAME with eth0 (addr, default route via gw)
// on switch sw of lab l, removed when the test ends (before the lab).
func extraNode(t *testing.T, l *labtest.Lab, name, sw, addr, gw string) string {
	t.Helper()
	ns := l.Name + "-" + name
	swns := l.Name + "-" + sw
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	run("netns", "add", ns)
	run("-n", ns, "link", "set", "lo", "up")
	run("-n", swns, "link", "add", name+"-eth0", "type", "veth", "peer", "name", "eth0", "netns", ns)
	run("-n", swns, "link", "set", name+"-eth0", "master", "br0", "up")
	run("-n", ns, "addr", "add", addr, "dev", "eth0")
	run("-n", ns, "link", "set", "eth0", "up")
	run("-n", ns, "route", "add", "default", "via", gw)
	return ns
}

// TestRelayTwoOnOneLAN: two relays serve vm2's LAN; one is the elected
// forwarder for the group, receivers get no duplicates, and when the
// forwarder dies the other takes over within seconds.
func TestRelayTwoOnOneLAN(t *testing.T) {
	rl := upRelayLab(t, 2)
	ns2b := extraNode(t, rl.Lab, "vm2b", "net2", "10.0.2.11/24", "10.0.2.1")
	rl.nodes = []string{"vm1", "vm2", "vm2b"}
	conf := func(node string, lines ...string) string {
		addr := map[string]string{"vm1": "10.0.1.10", "vm2": "10.0.2.10", "vm2b": "10.0.2.11"}
		var b strings.Builder
		fmt.Fprintf(&b, "node %s\nlisten %s:7474\ninterface eth0\nkey %s\nadmin %s\nkeepalive 300ms\npeer-timeout 1500ms\ngroup 239.1.1.1\n",
			node, addr[node], filepath.Join(rl.dir, "key"), filepath.Join(rl.dir, node+".sock"))
		for _, l := range lines {
			b.WriteString(l + "\n")
		}
		path := filepath.Join(rl.dir, node+".conf")
		os.WriteFile(path, []byte(withKeys(t, rl.dir, b.String())), 0o600)
		return path
	}
	c1 := conf("vm1", "peer vm2 10.0.2.10:7474", "peer vm2b 10.0.2.11:7474")
	c2 := conf("vm2", "peer vm1 10.0.1.10:7474", "peer vm2b 10.0.2.11:7474 lan")
	c2b := conf("vm2b", "peer vm1 10.0.1.10:7474", "peer vm2 10.0.2.10:7474 lan")
	rl.procs["vm1"] = rl.StartMcast("vm1", "relay", "--config", c1)
	rl.procs["vm2"] = rl.StartMcast("vm2", "relay", "--config", c2)
	relay2b := labtest.StartNS(t, ns2b, rl.Bin, "relay", "--config", c2b)
	_ = relay2b

	// The receiver is on vm2, a host both relays serve. Neither relay has
	// `interest all`: the elected forwarder asks for the group, either
	// for its own host's member or for its LAN peer's.
	recv := rl.StartMcast("vm2", "recv", "--iface", "eth0", "--timeout", "60s", "239.1.1.1")
	rl.waitStatus("vm2", "vm2b up", func(st relay.Status) bool { return peerByName(st, "vm2b").Up })
	g := netipMust("239.1.1.1")
	df := relay.Forwarder(g, []uint32{config.NodeID("vm2"), config.NodeID("vm2b")})
	dfName, other := "vm2", "vm2b"
	if df == config.NodeID("vm2b") {
		dfName, other = "vm2b", "vm2"
	}
	t.Logf("elected forwarder for 239.1.1.1: %s", dfName)
	rl.waitStatus("vm1", "the forwarder wanting the group", func(st relay.Status) bool {
		return peerWants(st, dfName, "239.1.1.1") && peerWants(st, other)
	})

	send := rl.StartMcast("vm1", "send", "--iface", "eth0", "--count", "0", "--interval", "10ms", "239.1.1.1")
	recv.WaitFor("received: message 50 ", 20*time.Second)
	// Kill the forwarder.
	if dfName == "vm2" {
		rl.procs["vm2"].Stop()
	} else {
		relay2b.Stop()
	}
	mark := strings.Count(recv.Stdout(), "received:")
	// The survivor asks for the group: for its own host's member, or, when
	// the receiver's host lost its relay, for the member it heard report.
	rl.waitStatus("vm1", "the survivor wanting the group", func(st relay.Status) bool { return peerWants(st, other, "239.1.1.1") })
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(recv.Stdout(), "received:") < mark+100 {
		if time.Now().After(deadline) {
			t.Fatalf("no failover: the receiver got %d datagrams in 15s after the forwarder died", strings.Count(recv.Stdout(), "received:")-mark)
		}
		time.Sleep(100 * time.Millisecond)
	}
	send.Stop()
	out := recv.Stop().Stdout
	seen := map[string]int{}
	dups := 0
	for _, m := range receivedLine.FindAllStringSubmatch(out, -1) {
		if seen[m[1]]++; seen[m[1]] > 1 {
			dups++
		}
		if !strings.HasPrefix(m[2], "10.0.1.10:") {
			t.Errorf("message %s from %s, want the original sender", m[1], m[2])
		}
	}
	if dups > 0 {
		t.Errorf("%d duplicates with two relays on one LAN", dups)
	}
	t.Logf("received %d distinct datagrams, failover after %d", len(seen), mark)
}

func netipMust(s string) (a netipAddr) { return mustAddr(s) }

// TestRelayLoopIsBounded: three relays on one LAN, each configured as the
// others' remote peer (a deliberate loop: each re-emits where the others
// capture). The packet count stays bounded and stops when the sender stops,
// with either source mode (`source relay` re-emissions carry the kernel's
// IPv4 identification, so what stops them is their source address, which
// each relay names in its hellos), and over IPv6 (no identification: the
// relays' re-emissions carry the relay tag in their flow label).
func TestRelayLoopIsBounded(t *testing.T) {
	for _, tc := range []struct{ source, group string }{
		{"original", "239.1.1.1"}, {"relay", "239.1.1.1"}, {"original", "ff15::1"}, {"relay", "ff15::1"},
	} {
		name := tc.source
		if tc.group != "239.1.1.1" {
			name += "-ipv6"
		}
		t.Run(name, func(t *testing.T) { testRelayLoopIsBounded(t, tc.source, tc.group) })
	}
}

func testRelayLoopIsBounded(t *testing.T, source, group string) {
	l := labtest.Up(t, "lan", "--nodes", "3")
	dir := t.TempDir()
	key := filepath.Join(dir, "key")
	os.WriteFile(key, bytes.Repeat([]byte{7}, 32), 0o600)
	nodes := []string{"n1", "n2", "n3"}
	for i, n := range nodes {
		var b strings.Builder
		fmt.Fprintf(&b, "node %s\nlisten 10.0.0.%d:7474\ninterface eth0\nkey %s\nadmin %s\ngroup %s\ninterest all\nkeepalive 300ms\npeer-timeout 1500ms\nsource %s\n",
			n, i+1, key, filepath.Join(dir, n+".sock"), group, source)
		for j, p := range nodes {
			if p != n {
				fmt.Fprintf(&b, "peer %s 10.0.0.%d:7474\n", p, j+1)
			}
		}
		f := filepath.Join(dir, n+".conf")
		os.WriteFile(f, []byte(withKeys(t, dir, b.String())), 0o600)
		l.StartMcast(n, "relay", "--config", f)
	}
	status := func(n string) relay.Status {
		r := l.Mcast(n, "relay", "status", "--admin", filepath.Join(dir, n+".sock"), "--json")
		var st relay.Status
		if r.Code == 0 {
			jsonUnmarshal(r.Stdout, &st)
		}
		return st
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := status("n1")
		if peerWants(st, "n2", group) && peerWants(st, "n3", group) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("relays never saw each other: %+v", st)
		}
		time.Sleep(150 * time.Millisecond)
	}
	const n = 200
	recv := l.StartMcast("n2", "recv", "--iface", "eth0", "--timeout", "4s", group)
	time.Sleep(500 * time.Millisecond)
	l.Mcast("n1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", group)
	out := recv.Wait().Stdout
	got := len(receivedLine.FindAllStringSubmatch(out, -1))
	seen := map[string]bool{}
	for _, m := range receivedLine.FindAllStringSubmatch(out, -1) {
		seen[m[1]] = true
	}
	if len(seen) != n || got > 4*n {
		for _, nd := range nodes {
			t.Logf("%s: %+v", nd, status(nd))
		}
		t.Fatalf("receiver got %d datagrams (%d distinct) for %d sent; want all, and at most %d (the original and one re-emission per relay)", got, len(seen), n, 4*n)
	}
	// What stops the loop: a datagram from a peer already seen on the LAN
	// (loop), or a relay's IPv6 re-emission known by its tag (own
	// emissions seen).
	total := func() (sum uint64, loops uint64) {
		for _, nd := range nodes {
			st := status(nd)
			for _, v := range st.Captured {
				sum += v
			}
			for _, v := range st.Emitted {
				sum += v
			}
			loops += st.Drops[relay.DropLoop] + st.OwnSeen
		}
		return sum, loops
	}
	a, loops := total()
	time.Sleep(1500 * time.Millisecond)
	b, _ := total()
	if a != b {
		t.Errorf("relay counters still moving after the sender stopped (%d then %d): a storm", a, b)
	}
	if a > 9*n {
		t.Errorf("%d captures and emissions for %d datagrams over 3 relays: not bounded", a, n)
	}
	if loops == 0 {
		t.Errorf("no loop drops counted: the loop was not exercised")
	}
	t.Logf("receiver: %d datagrams for %d sent; relays: %d captures+emissions, %d loop drops", got, n, a, loops)
}
