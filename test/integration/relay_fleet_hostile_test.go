package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
)

// TestRelayFleetHostile: vm1 and vm2 form a fleet. Beside them, vm3 has
// another gossip key, vm4 calls itself vm2, vm5 ("forger") gossips vm1's
// public key under its own name, and vm6 joins only a name that does not
// resolve. None of them becomes a member: vm1 counts vm3's gossip as
// decryption failures, the name clash is logged on both sides and vm4
// stops gossiping, the forged identity is refused and counted, and vm6
// runs, says so, and counts its failed joins.
func TestRelayFleetHostile(t *testing.T) {
	fl := upFleetLab(t, 6)
	defer fl.stopAll()
	seeds := "10.0.1.10 10.0.2.10"
	for _, vm := range []string{"vm1", "vm2"} {
		fl.run(vm, fl.fleetConf(vm, fl.gossipKey, "group 239.1.1.1"))
	}
	fl.awaitAll([]string{"vm1", "vm2"}, "one member alive", 20*time.Second, func(st relay.Status) bool { return aliveMembers(st) == 1 })

	other := fl.writeGossipKey("other.key")
	fl.run("vm3", fl.writeFleetConf(fleetNode{vm: "vm3", name: "vm3", key: "vm3", gossipKey: other, join: seeds}, "group 239.1.1.1"))
	fl.run("vm4", fl.writeFleetConf(fleetNode{vm: "vm4", name: "vm2", key: "vm4", gossipKey: fl.gossipKey, join: seeds}, "group 239.1.1.1"))
	fl.run("vm5", fl.writeFleetConf(fleetNode{vm: "vm5", name: "forger", key: "vm1", gossipKey: fl.gossipKey, join: seeds}, "group 239.1.1.1"))
	fl.run("vm6", fl.writeFleetConf(fleetNode{vm: "vm6", name: "vm6", key: "vm6", gossipKey: fl.gossipKey, join: "no-such-seed.invalid"}, "group 239.1.1.1"))

	fl.awaitAll([]string{"vm1"}, "vm3's gossip counted as decryption failures, the forger refused, the name clash counted", 20*time.Second, func(st relay.Status) bool {
		c := st.Fleet.Counters
		return c.DecryptFailures > 0 && c.Refused > 0 && c.NameConflicts > 0
	})
	fl.awaitAll([]string{"vm3"}, "its joins counted as failures", 20*time.Second, func(st relay.Status) bool { return st.Fleet.Counters.JoinFailures > 0 })
	fl.awaitAll([]string{"vm4"}, "its name refused", 20*time.Second, func(st relay.Status) bool { return st.Fleet.NameTaken })
	fl.awaitAll([]string{"vm6"}, "two failed joins", 20*time.Second, func(st relay.Status) bool { return st.Fleet.Counters.JoinFailures >= 2 })

	for _, vm := range []string{"vm1", "vm2"} {
		st, err := fl.fleetStatus(vm)
		if err != nil {
			t.Fatal(err)
		}
		if aliveMembers(st) != 1 || len(st.Fleet.Members) != 1 {
			t.Errorf("%s: members %+v, want only the other of vm1 and vm2", vm, st.Fleet.Members)
		}
		for _, p := range st.Peers {
			if p.Name != "vm1" && p.Name != "vm2" {
				t.Errorf("%s has %s (%s) as a peer", vm, p.Name, p.Address)
			}
			if p.Name == "vm2" && p.Address != "10.0.2.10" {
				t.Errorf("%s has vm2 at %s: the second relay of that name took it", vm, p.Address)
			}
		}
	}
	st3, _ := fl.fleetStatus("vm3")
	if aliveMembers(st3) != 0 || st3.Fleet.Joined {
		t.Errorf("vm3, with another gossip key, joined: %+v", st3.Fleet)
	}
	fl.procs["vm4"].Stop()
	if log := fl.procs["vm4"].Stderr(); !strings.Contains(log, "node name taken") || !strings.Contains(log, "node=vm2") {
		t.Errorf("vm4 did not log that its name is taken:\n%s", log)
	}
	both := fl.procs["vm1"].Stderr() + fl.procs["vm2"].Stderr()
	if !strings.Contains(both, "two relays claim one node name") || !strings.Contains(both, "second=10.0.4.10") {
		t.Errorf("neither vm1 nor vm2 logged the second relay named vm2")
	}
	if log := fl.procs["vm1"].Stderr() + fl.procs["vm2"].Stderr(); !strings.Contains(log, `member=forger`) || !strings.Contains(log, "has the public key of") {
		t.Errorf("the forged identity was not refused by name:\n%s", log)
	}
	fl.procs["vm6"].Stop()
	log6 := fl.procs["vm6"].Stderr()
	if !strings.Contains(log6, "cannot resolve a join seed") || !strings.Contains(log6, "no-such-seed.invalid") || !strings.Contains(log6, "relay runs meanwhile") {
		t.Errorf("vm6 did not say it runs without its seed:\n%s", log6)
	}
	// The log is rate-limited: a few lines, not one per attempt.
	if n := strings.Count(log6, "cannot resolve a join seed"); n > 3 {
		t.Errorf("vm6 logged the unresolvable seed %d times", n)
	}
	if n := strings.Count(fl.procs["vm1"].Stderr(), "failed decryption"); n > 3 {
		t.Errorf("vm1 logged %d lines of gossip failing decryption: not rate-limited", n)
	}
}

// TestRelayFleetMixed: vm1 has only a static peer line for vm2 and no
// gossip; vm2 has a static line for vm1 and joins the fleet; vm3 joins
// only. A static peer is a peer of the relays that list it: vm1 and vm2
// carry each other's groups, vm2 and vm3 theirs as members, and vm1 and
// vm3 never talk.
func TestRelayFleetMixed(t *testing.T) {
	fl := upFleetLab(t, 3)
	defer fl.stopAll()
	fl.run("vm1", fl.writeFleetConf(fleetNode{vm: "vm1", name: "vm1", key: "vm1"}, "peer vm2 10.0.2.10:7474", "group 239.1.1.1"))
	fl.run("vm2", fl.writeFleetConf(fleetNode{vm: "vm2", name: "vm2", key: "vm2", gossipKey: fl.gossipKey, join: "10.0.3.10"}, "peer vm1 10.0.1.10:7474", "group 239.1.1.1"))
	fl.run("vm3", fl.writeFleetConf(fleetNode{vm: "vm3", name: "vm3", key: "vm3", gossipKey: fl.gossipKey, join: "10.0.2.10"}, "group 239.1.1.1"))

	const n = 100
	r2 := fl.StartMcast("vm2", recvArgs(2*n, "3s", "239.1.1.1")...)
	fl.awaitAll([]string{"vm1", "vm3"}, "vm2 up wanting 239.1.1.1", 20*time.Second, func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	st2, err := fl.fleetStatus("vm2")
	if err != nil {
		t.Fatal(err)
	}
	if p1, p3 := peerByName(st2, "vm1"), peerByName(st2, "vm3"); p1.Member || !p3.Member {
		t.Errorf("vm2's peers: vm1 member %v (a peer line), vm3 member %v (joined)", p1.Member, p3.Member)
	}
	var senders []*labtest.Proc
	for _, vm := range []string{"vm1", "vm3"} {
		senders = append(senders, fl.StartMcast(vm, "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", "239.1.1.1"))
	}
	for _, s := range senders {
		if r := s.Wait(); r.Code != 0 {
			t.Fatalf("sender: %s", r)
		}
	}
	res := r2.Wait()
	if sum := recvSummary(t, "vm2", res); res.Code != 0 || sum.Totals.Received != 2*n || sum.Totals.Lost != 0 || sum.Totals.Duplicates != 0 || len(sum.Flows) != 2 {
		t.Errorf("vm2 did not receive both streams whole and once: %s", res)
	}
	for _, pair := range [][2]string{{"vm1", "vm3"}, {"vm3", "vm1"}} {
		st, err := fl.fleetStatus(pair[0])
		if err != nil {
			t.Fatal(err)
		}
		if p := peerByName(st, pair[1]); p.Name != "" {
			t.Errorf("%s has %s as a peer, and neither lists the other", pair[0], pair[1])
		}
	}
	// Stopped (SIGTERM), vm3 leaves: vm2 records it left, not failed, and
	// drops it as a peer.
	if r := fl.procs["vm3"].Stop(); r.Code != 0 {
		t.Errorf("vm3 did not stop cleanly on SIGTERM: %s", r)
	}
	fl.awaitAll([]string{"vm2"}, "vm3 left", 5*time.Second, func(st relay.Status) bool {
		return memberState(st, "vm3") == "left" && peerByName(st, "vm3").Name == ""
	})
}

// TestRelayFleetConfigErrors: join without a gossip key, a malformed
// gossip key and a gossip certificate of another relay are each refused
// with one line naming the value, exit status 2.
func TestRelayFleetConfigErrors(t *testing.T) {
	bin := labtest.Binary(t)
	dir := t.TempDir()
	priv := writeNodeKey(t, dir, "a")
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("not-base64!\n"), 0o600)
	base := "node a\nlisten 10.0.0.1:7474\ninterface eth0\ngroup 239.1.1.1\nprivate-key " + priv + "\n"
	for _, tc := range []struct{ name, conf, want string }{
		{"join without gossip-key", base + "join 10.0.0.2\n", ":6: join needs gossip-key FILE"},
		{"malformed gossip key", base + "gossip-key " + bad + "\njoin 10.0.0.2\n", "gossip key file " + bad + ": want 32 bytes in base64"},
		{"missing gossip key", base + "gossip-key " + dir + "/none\n", "reading the gossip key"},
		{"unknown profile", base + "gossip-key " + bad + "\ngossip-profile fast\n", `gossip-profile "fast": want lan or wan`},
	} {
		path := filepath.Join(dir, "relay.conf")
		os.WriteFile(path, []byte(tc.conf), 0o600)
		out, err := exec.Command(bin, "relay", "--config", path).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		msg := strings.TrimSpace(string(out))
		if code != 2 || !strings.Contains(msg, tc.want) || strings.Count(msg, "\n") > 0 {
			t.Errorf("%s: exit %d, output %q; want exit 2 and one line with %q", tc.name, code, msg, tc.want)
		}
	}
}
