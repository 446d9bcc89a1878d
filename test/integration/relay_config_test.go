package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/labtest"
)

// TestRelayConfigErrors: bad configurations fail at start with one line
// naming the file, line and value, and exit status 2 (a configuration
// error, which the systemd unit does not restart on).
func TestRelayConfigErrors(t *testing.T) {
	bin := labtest.Binary(t)
	dir := t.TempDir()
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("tooshort"), 0o600)
	good := filepath.Join(dir, "good.key")
	os.WriteFile(good, make([]byte, 32), 0o600)
	base := "node a\nlisten 10.0.0.1:7474\ninterface eth0\n"
	priv := "private-key " + writeNodeKey(t, dir, "a") + "\n" // last, so that line numbers stay
	tests := []struct {
		name, conf, want string
		code             int
	}{
		{"short key", base + "key " + short + "\ngroup 239.1.1.1\n", "key of 8 bytes is too short", 2},
		{"missing key", base + "key " + filepath.Join(dir, "nope") + "\ngroup 239.1.1.1\n", "reading key file", 2},
		{"peer twice", base + "key " + good + "\ngroup 239.1.1.1\npeer b 10.0.0.2\npeer b 10.0.0.3\n", ":7: peer b given twice (first on line 6)", 2},
		{"not multicast", base + "key " + good + "\ngroup 10.1.1.1\n", ":5: group \"10.1.1.1\": not a multicast group", 2},
		{"fanout zero", base + "key " + good + "\ngroup 239.1.1.1\nfanout 0\n", ":6: fanout \"0\": want a number of relays 1..1024", 2},
		{"fanout negative", base + "key " + good + "\ngroup 239.1.1.1\nfanout -2\n", ":6: fanout \"-2\"", 2},
		{"fanout absurd", base + "key " + good + "\ngroup 239.1.1.1\nfanout 99999\n", ":6: fanout \"99999\"", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, "relay.conf")
			os.WriteFile(f, []byte(tt.conf+priv), 0o600)
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
	t.Run("missing config", func(t *testing.T) {
		out, err := exec.Command(bin, "relay", "--config", filepath.Join(dir, "nonexistent.conf")).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "reading relay config") {
			t.Fatalf("%v, output %q; want exit 2 and reading relay config", err, out)
		}
	})
}
