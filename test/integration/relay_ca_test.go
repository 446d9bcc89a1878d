package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
)

// mcastOut runs the mcast binary here (no namespace: key tools only) with
// stdin and returns its trimmed stdout.
func mcastOut(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(labtest.Binary(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("mcast %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// TestRelayRevokedCert: relays whose peers are certified by a mesh CA
// (made with mcast relay ca) carry traffic; once vm3's certificate is on
// vm2's revocation list and vm2 has re-read its config (SIGHUP), vm2
// refuses vm3, says why in its status, and emits nothing more from it.
func TestRelayRevokedCert(t *testing.T) {
	rl := upRelayLab(t, 3)
	caKey := filepath.Join(rl.dir, "ca.key")
	if err := os.WriteFile(caKey, []byte(mcastOut(t, "", "relay", "ca", "genkey")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	caPub := mcastOut(t, mustRead(t, caKey), "relay", "ca", "pubkey")
	for i, n := range rl.nodes {
		c := mcastOut(t, "", "relay", "ca", "sign", "--ca-key", caKey, "--name", n, "--pubkey", nodeKey(n).Public().String(),
			"--underlay", fmt.Sprintf("10.0.%d.10:7474", i+1), "--allow", fmt.Sprintf("10.0.%d.0/24", i+1), "--valid", "1h")
		os.WriteFile(filepath.Join(rl.dir, n+".cert"), []byte(c+"\n"), 0o644)
		os.WriteFile(filepath.Join(rl.dir, n+".revoked"), nil, 0o644)
	}
	for i, n := range rl.nodes {
		var b strings.Builder
		fmt.Fprintf(&b, "node %s\nlisten 10.0.%d.10:7474\ninterface eth0\nadmin %s\nkeepalive 300ms\npeer-timeout 1500ms\ngroup 239.1.1.1\nca %s\nrevoked %s\n",
			n, i+1, filepath.Join(rl.dir, n+".sock"), caPub, filepath.Join(rl.dir, n+".revoked"))
		for j, p := range rl.nodes {
			if p != n {
				fmt.Fprintf(&b, "peer %s 10.0.%d.10:7474 cert %s\n", p, j+1, filepath.Join(rl.dir, p+".cert"))
			}
		}
		conf := filepath.Join(rl.dir, n+".conf")
		os.WriteFile(conf, []byte(b.String()+"private-key "+writeNodeKey(t, rl.dir, n)+"\n"), 0o600)
		rl.procs[n] = rl.StartMcast(n, "relay", "--config", conf, "--log-level", "debug")
	}
	r2 := rl.StartMcast("vm2", "recv", "--iface", "eth0", "--timeout", "60s", "239.1.1.1")
	rl.waitStatus("vm3", "vm2 wanting 239.1.1.1", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	if r := rl.Mcast("vm3", "send", "--iface", "eth0", "--count", "20", "--interval", "5ms", "239.1.1.1"); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	before := rl.waitStatus("vm2", "20 datagrams from vm3", func(st relay.Status) bool { return st.Emitted["239.1.1.1"] >= 20 }).Emitted["239.1.1.1"]
	r2.WaitFor("received: message 19 ", 5*time.Second)

	fp := mcastOut(t, mustRead(t, filepath.Join(rl.dir, "vm3.cert")), "relay", "ca", "fingerprint")
	os.WriteFile(filepath.Join(rl.dir, "vm2.revoked"), []byte("# vm3 was compromised\n"+fp+"\n"), 0o644)
	hup(t, rl.Name+"-vm2")
	st := rl.waitStatus("vm2", "vm3 refused", func(st relay.Status) bool { return strings.Contains(st.RefusedPeers["vm3"], "revoked") })
	for _, p := range st.Peers {
		if p.Name == "vm3" {
			t.Errorf("vm3 is still a peer of vm2 after its revocation")
		}
	}
	rl.Mcast("vm3", "send", "--iface", "eth0", "--count", "20", "--interval", "5ms", "239.1.1.1")
	time.Sleep(500 * time.Millisecond)
	st, _ = rl.status("vm2")
	if e := st.Emitted["239.1.1.1"]; e != before {
		t.Errorf("vm2 emitted %d datagrams, want the %d from before the revocation", e, before)
	}
	if out := r2.Stop().Stdout; strings.Count(out, "received: message") != 20 {
		t.Errorf("vm2's receiver got %d datagrams, want 20", strings.Count(out, "received: message"))
	}
	t.Logf("vm2 refused: %v, drops %v", st.RefusedPeers, st.Drops)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
