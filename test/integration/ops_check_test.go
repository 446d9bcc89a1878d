package integration_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay"
)

// TestRelayCheckRunsStartChecks: `relay --check` fails, in one line naming
// the value, where start would: an interface that does not exist or is
// down, a listen address of another host, a key others may read, a port
// in use; the configuration it passes starts. Without its capabilities
// the relay says which are missing.
func TestRelayCheckRunsStartChecks(t *testing.T) {
	setpriv := needTool(t, "setpriv", "util-linux")
	rl := upRelayLab(t, 2)
	rl.MustRun("vm1", "ip", "link", "add", "down0", "type", "veth", "peer", "name", "down1") // exist, down
	// check writes vm1's configuration with the line of its setting
	// replaced by set, if any (removed when set is the bare directive), and
	// runs --check on it.
	check := func(name, want string, set ...string) {
		t.Helper()
		conf := rl.writeConf("vm1", "group 239.1.1.1")
		if len(set) > 0 {
			b, _ := os.ReadFile(conf)
			key, _, hasValue := strings.Cut(set[0], " ")
			var lines []string
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, key+" ") {
					if !hasValue {
						continue
					}
					l = set[0]
				}
				lines = append(lines, l)
			}
			if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		r := rl.Mcast("vm1", "relay", "--config", conf, "--check")
		if want == "" {
			if r.Code != 0 || !strings.Contains(r.Stdout, "is valid") {
				t.Errorf("%s: %s; want exit 0", name, r)
			}
			return
		}
		if r.Code != 1 || !strings.Contains(r.Stderr, want) || strings.Count(r.Stderr, "\n") != 1 {
			t.Errorf("%s: %s; want exit 1 and one line with %q", name, r, want)
		}
	}
	check("interface gone", `interface "eth9"`, "interface eth9")
	check("interface down", `interface "down0" is down`, "interface down0")
	check("listen of another host", "10.0.5.10 is not an address of this host", "listen 10.0.5.10:7474")
	if err := os.Chmod(filepath.Join(rl.dir, "key"), 0o644); err != nil {
		t.Fatal(err)
	}
	check("key readable by others", "has mode -rw-r--r--: others may read it")
	if err := os.Chmod(filepath.Join(rl.dir, "key"), 0o600); err != nil {
		t.Fatal(err)
	}
	check("good", "")
	check("no mesh key file", "", "key")

	rl.start("vm1", "group 239.1.1.1")
	rl.waitStatus("vm1", "the relay up", func(relay.Status) bool { return true })
	check("port in use", "listening on 10.0.1.10:7474")
	rl.stop("vm1")

	// Started without its capabilities, as uid 65534.
	dir, mcast := unprivDir(t, rl.Bin)
	key, err := os.ReadFile(filepath.Join(rl.dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	rl.dir = dir
	if err := os.WriteFile(filepath.Join(dir, "key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := rl.writeConf("vm2", "group 239.1.1.1")
	for _, f := range []string{"key", "vm2.conf"} {
		if err := os.Chown(filepath.Join(dir, f), 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	r := rl.Run("vm2", setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps", "-all",
		mcast, "relay", "--config", conf)
	if r.Code != 1 || !strings.Contains(r.Stderr, "missing capability CAP_NET_RAW and CAP_NET_ADMIN") || strings.Count(r.Stderr, "\n") != 1 {
		t.Errorf("relay without capabilities: %s; want exit 1 and one line naming CAP_NET_RAW and CAP_NET_ADMIN", r)
	}
}
