package integration_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay/crypto"
)

// nodeKey is the test identity of the relay called node.
func nodeKey(node string) crypto.PrivateKey {
	k, _ := crypto.GenerateKey(bytes.NewReader(bytes.Repeat([]byte("integration/"+node), 32)))
	return k
}

// writeNodeKey writes node's private key to dir/node.priv (mode 0600) and
// returns the path.
func writeNodeKey(t *testing.T, dir, node string) string {
	t.Helper()
	path := filepath.Join(dir, node+".priv")
	if err := os.WriteFile(path, []byte(nodeKey(node).String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	confNode = regexp.MustCompile(`(?m)^node (\S+)$`)
	confPeer = regexp.MustCompile(`(?m)^peer (\S+) (\S+)`)
)

// withKeys gives a relay configuration identities: a private-key line for
// its node (the key written to dir) and the public key of each peer line's
// node.
func withKeys(t *testing.T, dir, conf string) string {
	t.Helper()
	node := confNode.FindStringSubmatch(conf)[1]
	conf = confPeer.ReplaceAllStringFunc(conf, func(l string) string {
		return l + " " + nodeKey(confPeer.FindStringSubmatch(l)[1]).Public().String()
	})
	return conf + "private-key " + writeNodeKey(t, dir, node) + "\n"
}

// TestRelayIdentityErrors: a private key file others may read, a peer
// line with a malformed public key, and a configuration with the mesh key
// alone are refused, each with one line that names the file or line.
func TestRelayIdentityErrors(t *testing.T) {
	bin := labtest.Binary(t)
	dir := t.TempDir()
	priv := writeNodeKey(t, dir, "a")
	open := filepath.Join(dir, "open.priv")
	os.WriteFile(open, []byte(nodeKey("a").String()+"\n"), 0o600)
	os.Chmod(open, 0o644)
	mesh := filepath.Join(dir, "mesh.key")
	os.WriteFile(mesh, make([]byte, 32), 0o600)
	base := "node a\nlisten 10.0.0.1:7474\ninterface eth0\ngroup 239.1.1.1\n"
	pubB := nodeKey("b").Public().String()
	tests := []struct {
		name, conf, want string
		code             int
	}{
		{"key readable by others", base + "private-key " + open + "\n", "private key file " + open + " has mode 0644", 2},
		{"malformed peer key", base + "private-key " + priv + "\npeer b 10.0.0.2 " + pubB[:42] + "!=\n", ":6: peer b: malformed public key", 1},
		{"short peer key", base + "private-key " + priv + "\npeer b 10.0.0.2 " + pubB[4:] + "\n", ":6: peer b: malformed public key", 1},
		{"peer without a key", base + "private-key " + priv + "\npeer b 10.0.0.2\n", ":6: peer b has no public key", 1},
		{"mesh key alone", base + "key " + mesh + "\n", "no private-key directive", 1},
		{"not a key", base + "private-key " + mesh + "\n", "private key file " + mesh, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, "relay.conf")
			os.WriteFile(f, []byte(tt.conf), 0o600)
			out, err := exec.Command(bin, "relay", "--config", f, "--check").CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tt.code || !strings.Contains(string(out), tt.want) || strings.Count(string(out), "\n") != 1 {
				t.Fatalf("exit %d, output %q; want exit %d and one line with %q", code, out, tt.code, tt.want)
			}
		})
	}
	// The keys the commands make work together: genkey, pubkey, a config
	// that checks.
	gen, err := exec.Command(bin, "relay", "genkey").Output()
	if err != nil || len(bytes.TrimSpace(gen)) != 44 {
		t.Fatalf("genkey: %q %v", gen, err)
	}
	pub := exec.Command(bin, "relay", "pubkey")
	pub.Stdin = bytes.NewReader(gen)
	out, err := pub.Output()
	if k, _ := crypto.ParsePrivateKey(string(gen)); err != nil || strings.TrimSpace(string(out)) != k.Public().String() {
		t.Fatalf("pubkey: %q %v", out, err)
	}
	bad := exec.Command(bin, "relay", "pubkey")
	bad.Stdin = strings.NewReader("not a key\n")
	if out, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(out), "private key") {
		t.Fatalf("pubkey of garbage: %q %v", out, err)
	}
}
