package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// WireGuard for the relay tests: wireguard-go (userspace, on TUN: an
// interface without an Ethernet header) in network namespaces the tests
// make, configured with wg. The interfaces' names must be unique on the
// host: wireguard-go's control sockets (/var/run/wireguard/NAME.sock) are
// named after them, outside the namespaces.

// needWireGuard skips the test where wireguard-go or wg is missing, and
// fails it in CI.
func needWireGuard(t *testing.T) {
	t.Helper()
	needTool(t, "wireguard-go", "wireguard-go")
	needTool(t, "wg", "wireguard-tools")
}

// must runs a command and returns its trimmed output, failing the test if
// it fails.
func must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// wgKey makes a WireGuard key pair for name: the private key in a file of
// dir (for `wg set ... private-key`), and the public key.
func wgKey(t *testing.T, dir, name string) (privFile, pub string) {
	t.Helper()
	priv := must(t, "wg", "genkey")
	cmd := exec.Command("wg", "pubkey")
	cmd.Stdin = strings.NewReader(priv)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("wg pubkey: %v", err)
	}
	privFile = filepath.Join(dir, name+".wgkey")
	if err := os.WriteFile(privFile, []byte(priv+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return privFile, strings.TrimSpace(string(out))
}

// startWireGuard runs wireguard-go for interface dev in namespace ns until
// the test ends, and waits for the interface to appear.
func startWireGuard(t *testing.T, ns, dev string) {
	t.Helper()
	wg := exec.Command("ip", "netns", "exec", ns, "wireguard-go", "-f", dev)
	wg.Env = append(os.Environ(), "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1")
	if err := wg.Start(); err != nil {
		t.Fatalf("wireguard-go in %s: %v", ns, err)
	}
	t.Cleanup(func() {
		// SIGTERM: wireguard-go removes its control socket on the way out.
		wg.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			wg.Process.Kill()
			<-done
		}
		os.Remove(filepath.Join("/var/run/wireguard", dev+".sock"))
	})
	deadline := time.Now().Add(5 * time.Second)
	for exec.Command("ip", "-n", ns, "link", "show", dev).Run() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("wireguard-go made no %s in %s", dev, ns)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wgPeer is one peer of a `wg set` command: its public key, the addresses
// it may send from (and is sent to), and where it listens.
type wgPeer struct{ pub, allowed, endpoint string }

// configureWireGuard gives interface dev in ns its private key and peers,
// its addresses, and brings it up with multicast on.
func configureWireGuard(t *testing.T, ns, dev, privFile string, peers []wgPeer, addrs ...string) {
	t.Helper()
	args := []string{"ip", "netns", "exec", ns, "wg", "set", dev, "private-key", privFile, "listen-port", "51820"}
	for _, p := range peers {
		args = append(args, "peer", p.pub, "allowed-ips", p.allowed, "endpoint", p.endpoint)
	}
	must(t, args...)
	for _, a := range addrs {
		must(t, "ip", "-n", ns, "addr", "add", a, "dev", dev)
	}
	must(t, "ip", "-n", ns, "link", "set", dev, "multicast", "on", "up")
}
