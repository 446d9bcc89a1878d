package integration_test

// Attacks on the relay mesh from the underlay (an attacker in the lab's
// router namespace) and from an insider (a relay of the mesh with its own
// valid identity), after issue 19's probe of the shared-key relay.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay"
)

// attacker starts the frame recorder/replayer in the router namespace.
func (rl *relayLab) attacker(args ...string) (*exec.Cmd, *strings.Builder) {
	rl.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", rl.Name + "-vpc", "python3", filepath.Join(testdataDir(rl.t), "relay_replay.py")}, args...)...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		rl.t.Fatal(err)
	}
	return cmd, &out
}

// attack runs the attacker to the end.
func (rl *relayLab) attack(args ...string) string {
	rl.t.Helper()
	cmd, out := rl.attacker(args...)
	if err := cmd.Wait(); err != nil {
		rl.t.Fatalf("attacker %v: %v\n%s", args, err, out.String())
	}
	rl.t.Logf("attacker: %s", strings.TrimSpace(out.String()))
	return out.String()
}

// TestRelayReplayAfterRestart: frames from vm1 to vm2 recorded on the
// underlay (handshakes included) and replayed after vm2's relay restarted
// deliver nothing: the restarted relay has new sessions, and the old
// frames name sessions it no longer has. (Issue 19, item 1: with the
// shared key and an in-memory replay window, 20 old datagrams were
// delivered again.)
func TestRelayReplayAfterRestart(t *testing.T) {
	rl := upRelayLab(t, 2)
	capture := filepath.Join(rl.dir, "capture")
	rec, recOut := rl.attacker("record", capture, "10.0.2.10", "7474", "5")
	time.Sleep(300 * time.Millisecond)
	for _, n := range rl.nodes {
		rl.start(n, "group 239.1.1.1")
	}
	const n = 200
	r2 := rl.StartMcast("vm2", recvArgs(n, "3s", "239.1.1.1")...)
	rl.waitStatus("vm1", "vm2 wanting 239.1.1.1", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", "239.1.1.1"); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	if err := rec.Wait(); err != nil {
		t.Fatalf("recorder: %v\n%s", err, recOut)
	}
	t.Logf("attacker: %s", strings.TrimSpace(recOut.String()))
	if strings.Contains(recOut.String(), "recorded 0 frames") {
		t.Fatal("the attacker recorded nothing")
	}
	exactlyOnceJSON(t, "vm2 before the restart", r2.Wait(), n, "10.0.1.10")

	rl.stop("vm2")
	rl.start("vm2", "group 239.1.1.1")
	r2 = rl.StartMcast("vm2", "recv", "--iface", "eth0", "--timeout", "60s", "239.1.1.1")
	rl.waitStatus("vm2", "vm1 up", func(st relay.Status) bool { return peerByName(st, "vm1").Up })
	rl.waitStatus("vm1", "vm2 wanting 239.1.1.1 again", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	rl.attack("replay", capture, "10.0.2.10")
	st := rl.waitStatus("vm2", "the replay counted", func(st relay.Status) bool {
		return st.Drops[relay.DropUnknownSession]+st.Drops[relay.DropReplay] > 0
	})
	time.Sleep(500 * time.Millisecond)
	out := r2.Stop()
	if got := strings.Count(out.Stdout, "received:"); got != 0 {
		t.Errorf("vm2 delivered %d recorded datagrams again after its restart:\n%s", got, out.Stdout)
	}
	if e := st.Emitted["239.1.1.1"]; e != 0 {
		t.Errorf("vm2's restarted relay emitted %d datagrams", e)
	}
	t.Logf("vm2 drops: %v", st.Drops)
}

// TestRelayRedirection: frames vm1 sealed for vm3, sent to vm2 with vm1's
// address, are rejected: vm2 emits nothing of a group its LAN has no
// member for. (Issue 19, item 2: 13 such datagrams were emitted.)
func TestRelayRedirection(t *testing.T) {
	rl := upRelayLab(t, 3)
	for _, n := range rl.nodes {
		rl.start(n, "group 239.1.1.1 239.1.1.2")
	}
	const n = 100
	r3 := rl.StartMcast("vm3", recvArgs(n, "3s", "239.1.1.2")...)
	rl.waitStatus("vm1", "vm3 wanting 239.1.1.2", func(st relay.Status) bool { return peerWants(st, "vm3", "239.1.1.2") })
	rl.waitStatus("vm1", "vm2 up", func(st relay.Status) bool { return peerByName(st, "vm2").Up })
	capture := filepath.Join(rl.dir, "capture")
	rec, recOut := rl.attacker("record", capture, "10.0.3.10", "7474", "2.5")
	time.Sleep(300 * time.Millisecond)
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", "239.1.1.2"); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	if err := rec.Wait(); err != nil {
		t.Fatalf("recorder: %v\n%s", err, recOut)
	}
	exactlyOnceJSON(t, "vm3", r3.Wait(), n, "10.0.1.10")
	rl.attack("replay", capture, "10.0.2.10")
	st := rl.waitStatus("vm2", "the redirected frames counted", func(st relay.Status) bool {
		return st.Drops[relay.DropUnknownSession]+st.Drops[relay.DropAuth] > 0
	})
	time.Sleep(300 * time.Millisecond)
	st, _ = rl.status("vm2")
	if e := st.Emitted["239.1.1.2"]; e != 0 {
		t.Errorf("vm2 emitted %d datagrams of 239.1.1.2 redirected from vm3's frames", e)
	}
	t.Logf("vm2 drops: %v", st.Drops)
}

// startSecure is rl.start with each peer line allowing the sources of
// that peer's LAN alone (allow 10.0.J.0/24).
func (rl *relayLab) startSecure(node string, extra ...string) {
	rl.t.Helper()
	path := rl.writeSecureConf(node, "300ms", "1500ms", extra...)
	rl.procs[node] = rl.StartMcast(node, "relay", "--config", path, "--log-level", "debug")
}

// writeSecureConf writes node's configuration with the given keepalive
// and peer timeout, and peer lines with allow prefixes.
func (rl *relayLab) writeSecureConf(node, keepalive, timeout string, extra ...string) string {
	rl.t.Helper()
	i, _ := strconv.Atoi(strings.TrimPrefix(node, "vm"))
	var b strings.Builder
	fmt.Fprintf(&b, "node %s\nlisten 10.0.%d.10:7474\ninterface eth0\nkey %s\nadmin %s\nkeepalive %s\npeer-timeout %s\n",
		node, i, filepath.Join(rl.dir, "key"), filepath.Join(rl.dir, node+".sock"), keepalive, timeout)
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	conf := withKeys(rl.t, rl.dir, b.String())
	for _, p := range rl.nodes {
		if p != node {
			j, _ := strconv.Atoi(strings.TrimPrefix(p, "vm"))
			conf += fmt.Sprintf("peer %s 10.0.%d.10:7474 %s allow 10.0.%d.0/24\n", p, j, nodeKey(p).Public(), j)
		}
	}
	path := filepath.Join(rl.dir, node+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		rl.t.Fatal(err)
	}
	return path
}

// TestRelayInsider: vm3's relay is an insider with a valid identity of
// its own and the mesh key. It cannot act as vm1: a handshake claiming
// vm1's public key fails, and a frame sealed with the mesh key as vm1 (the
// forgery that worked with the shared key) is refused. Datagrams it
// carries with another LAN's source address (here from a spoofing host on
// its LAN) are dropped by vm2 as spoofed-source, while those of its own
// LAN go through. (Issue 19, item 3.)
func TestRelayInsider(t *testing.T) {
	rl := upRelayLab(t, 3)
	for _, n := range rl.nodes {
		rl.startSecure(n, "group 239.1.1.1")
	}
	r2 := rl.StartMcast("vm2", "recv", "--iface", "eth0", "--timeout", "60s", "239.1.1.1")
	rl.waitStatus("vm3", "vm2 wanting 239.1.1.1", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	rl.waitStatus("vm1", "vm2 wanting 239.1.1.1", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })

	// Forgeries made with vm3's key and the mesh key, sent from vm3.
	helper := exec.Command("ip", "netns", "exec", rl.Name+"-vm3", os.Args[0], "-test.run=^TestRelayInsiderHelper$", "-test.count=1", "-test.v")
	helper.Env = append(os.Environ(), "MCAST_INSIDER_KEY="+nodeKey("vm3").String(), "MCAST_INSIDER_MESH="+filepath.Join(rl.dir, "key"),
		"MCAST_INSIDER_TARGET=10.0.2.10:7474", "MCAST_INSIDER_VICTIM="+nodeKey("vm1").Public().String(), "MCAST_INSIDER_TARGET_KEY="+nodeKey("vm2").Public().String())
	if out, err := helper.CombinedOutput(); err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("insider helper: %v\n%s", err, out)
	} else {
		t.Logf("insider: %s", out)
	}
	st := rl.waitStatus("vm2", "the forgeries counted", func(st relay.Status) bool {
		return st.Drops[relay.DropAuth] > 0 && st.Drops[relay.DropMalformed] > 0
	})
	if e := st.Emitted["239.1.1.1"]; e != 0 {
		t.Errorf("vm2 emitted %d datagrams after the forgeries", e)
	}

	// A host on vm3's LAN sends with vm1's LAN's address and with vm3's.
	spoof := exec.Command("ip", "netns", "exec", rl.Name+"-vm3", "python3", filepath.Join(testdataDir(t), "relay_spoof.py"), "10.0.1.99", "4000", "239.1.1.1", "5001", "20", "255")
	if out, err := spoof.CombinedOutput(); err != nil {
		t.Fatalf("spoofer: %v\n%s", err, out)
	}
	if r := rl.Mcast("vm3", "send", "--iface", "eth0", "--count", "20", "--interval", "5ms", "239.1.1.1"); r.Code != 0 {
		t.Fatalf("sender on vm3: %s", r)
	}
	st = rl.waitStatus("vm2", "spoofed sources dropped", func(st relay.Status) bool {
		return st.Drops[relay.DropSpoofedSource] >= 20 && st.Emitted["239.1.1.1"] >= 20
	})
	time.Sleep(300 * time.Millisecond)
	out := r2.Stop().Stdout
	if strings.Contains(out, "10.0.1.99") || strings.Contains(out, "192.0.2.66") {
		t.Errorf("vm2's LAN got a datagram with a forged source:\n%s", out)
	}
	got := 0
	for _, m := range receivedLine.FindAllStringSubmatch(out, -1) {
		if strings.HasPrefix(m[2], "10.0.3.10:") {
			got++
		}
	}
	if got != 20 {
		t.Errorf("vm2 received %d datagrams of vm3's own LAN, want 20:\n%s", got, out)
	}
	t.Logf("vm2 drops: %v", st.Drops)
}
