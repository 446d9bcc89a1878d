package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay"
)

// TestRelayFleetCA: in a fleet whose mesh has a CA, vm1 and vm2 carry
// certificates the CA signed and become members and peers of each other,
// with the prefixes of their certificates; vm3's certificate is from
// another CA, so neither takes it, and each counts the refusal. A relay
// whose certificate names another relay does not start (exit 2).
func TestRelayFleetCA(t *testing.T) {
	fl := upFleetLab(t, 3)
	defer fl.stopAll()
	ca := func(name string) (key, pub string) {
		key = filepath.Join(fl.dir, name+".key")
		os.WriteFile(key, []byte(mcastOut(t, "", "relay", "ca", "genkey")+"\n"), 0o600)
		return key, mcastOut(t, mustRead(t, key), "relay", "ca", "pubkey")
	}
	sign := func(caKey, vm, name string) string {
		i := strings.TrimPrefix(vm, "vm")
		c := mcastOut(t, "", "relay", "ca", "sign", "--ca-key", caKey, "--name", name, "--pubkey", nodeKey(vm).Public().String(),
			"--underlay", "10.0."+i+".10:7474", "--allow", "10.0."+i+".0/24", "--valid", "1h")
		path := filepath.Join(fl.dir, vm+"-"+name+".cert")
		os.WriteFile(path, []byte(c+"\n"), 0o644)
		return path
	}
	meshKey, meshPub := ca("mesh")
	otherKey, otherPub := ca("other")
	for _, vm := range []string{"vm1", "vm2"} {
		fl.run(vm, fl.fleetConf(vm, fl.gossipKey, "group 239.1.1.1", "ca "+meshPub, "gossip-cert "+sign(meshKey, vm, vm)))
	}
	fl.run("vm3", fl.fleetConf("vm3", fl.gossipKey, "group 239.1.1.1", "ca "+otherPub, "gossip-cert "+sign(otherKey, "vm3", "vm3")))

	fl.awaitAll([]string{"vm1", "vm2"}, "the other member alive and vm3 refused", 20*time.Second, func(st relay.Status) bool {
		return aliveMembers(st) == 1 && st.Fleet.Counters.Refused > 0
	})
	st1, err := fl.fleetStatus("vm1")
	if err != nil {
		t.Fatal(err)
	}
	p2 := peerByName(st1, "vm2")
	if !p2.Member || peerByName(st1, "vm3").Name != "" || memberState(st1, "vm3") != "" {
		t.Errorf("vm1's peers %+v, members %+v: want vm2 (member) and not vm3", st1.Peers, st1.Fleet.Members)
	}
	if log := fl.procs["vm1"].Stderr(); !strings.Contains(log, "member=vm3") || !strings.Contains(log, "not signed by this CA") {
		t.Errorf("vm1 did not log why vm3 is refused:\n%s", log)
	}

	// A certificate for another name: refused at start.
	conf := fl.fleetConf("vm3", fl.gossipKey, "group 239.1.1.1", "ca "+meshPub, "gossip-cert "+sign(meshKey, "vm3", "vm9"))
	out, err := exec.Command(fl.Bin, "relay", "--config", conf).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if msg := strings.TrimSpace(string(out)); code != 2 || !strings.Contains(msg, `is for "vm9"`) || strings.Contains(msg, "\n") {
		t.Errorf("a certificate for vm9 on vm3: exit %d, %q; want exit 2 and one line naming it", code, msg)
	}
}
