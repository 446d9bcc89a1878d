package integration_test

import (
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay"
)

// needTool skips the test where the program is not installed, and fails it
// in CI, which installs it (scripts/install-deps.sh names the package).
func needTool(t *testing.T, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed (Debian package %s), and CI must have it", prog, pkg)
	}
	t.Skipf("needs %s (Debian package %s; scripts/install-deps.sh installs it)", prog, pkg)
	return ""
}

// repoFile is the path of a file of the repository, from the test's
// directory (test/integration).
func repoFile(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

var exposure = regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`)

// TestRelayUnitSecurityScore: systemd-analyze rates the relay unit's
// exposure at most 2.0, and finds nothing wrong in either unit's syntax.
func TestRelayUnitSecurityScore(t *testing.T) {
	sa := needTool(t, "systemd-analyze", "systemd")
	for unit, limit := range map[string]float64{"mcast-relay.service": 2.0, "mcast-tunnel@.service": 3.0} {
		out, err := exec.Command(sa, "security", "--offline=yes", "--no-pager", repoFile("dist", "systemd", unit)).CombinedOutput()
		m := exposure.FindSubmatch(out)
		if m == nil {
			t.Fatalf("systemd-analyze security %s: %v, no overall exposure level in:\n%s", unit, err, out)
		}
		score, _ := strconv.ParseFloat(string(m[1]), 64)
		t.Logf("%s: exposure %.1f", unit, score)
		if score > limit {
			t.Errorf("%s: exposure %.1f, want at most %.1f:\n%s", unit, score, limit, out)
		}
	}
}

// unprivDir is a directory that uid 65534 can read and write, with the
// test's binary copied into it (the test binary's own directory is
// root's alone). It is removed when the test ends.
func unprivDir(t *testing.T, bin string) (dir, mcast string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "mcast-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	mcast = filepath.Join(dir, "mcast")
	src, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(mcast, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, mcast
}

// notifySocket listens on a unix datagram socket at path, as systemd does
// on $NOTIFY_SOCKET, and passes on what it receives.
func notifySocket(t *testing.T, path string) <-chan string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return ch
}

// TestRelayUnprivilegedNotifiesReady: as the unit runs it, as uid 65534
// with only CAP_NET_RAW and CAP_NET_ADMIN (setpriv), the relay starts,
// tells $NOTIFY_SOCKET READY=1 and WATCHDOG=1, carries a stream exactly
// once, and around a refused reload says RELOADING=1 and READY=1.
func TestRelayUnprivilegedNotifiesReady(t *testing.T) {
	setpriv := needTool(t, "setpriv", "util-linux")
	rl := upRelayLab(t, 2)
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
	for _, f := range []string{"key", "vm2.conf", "vm2.priv"} {
		if err := os.Chown(filepath.Join(dir, f), 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	notes := notifySocket(t, filepath.Join(dir, "notify"))

	rl.start("vm1", "group 239.1.1.1")
	rl.procs["vm2"] = rl.Start("vm2", "env", "NOTIFY_SOCKET="+filepath.Join(dir, "notify"), "WATCHDOG_USEC=400000",
		setpriv, "--reuid", "65534", "--regid", "65534", "--clear-groups",
		"--inh-caps", "+net_raw,+net_admin", "--ambient-caps", "+net_raw,+net_admin",
		mcast, "relay", "--config", conf, "--log-level", "debug")
	var got []string
	deadline := time.After(20 * time.Second)
	for ready, watchdog := false, false; !ready || !watchdog; {
		select {
		case s := <-notes:
			got = append(got, s)
			ready = ready || s == "READY=1"
			watchdog = watchdog || s == "WATCHDOG=1"
		case <-deadline:
			t.Fatalf("no READY=1 and WATCHDOG=1 on NOTIFY_SOCKET within 20 s (got %q); relay log:\n%s", got, rl.logs())
		}
	}

	const n = 200
	r2 := rl.StartMcast("vm2", recvArgs(n, "4s", "239.1.1.1")...)
	rl.waitStatus("vm1", "vm2 wanting 239.1.1.1", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	s := rl.StartMcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", "239.1.1.1")
	if r := s.Wait(); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	exactlyOnceJSON(t, "vm2 (relay as uid 65534) 239.1.1.1", r2.Wait(), n, "10.0.1.10")
	if log := rl.procs["vm2"].Stderr(); strings.Contains(log, "level=ERROR") {
		t.Errorf("the unprivileged relay logged errors:\n%s", log)
	}

	// A reload of a broken config: RELOADING=1, then READY=1 again with
	// the running configuration kept, and the refusal counted.
	if err := os.WriteFile(conf, []byte("node vm2\nbogus setting\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup(t, rl.Name+"-vm2")
	var reload []string
	for len(reload) < 2 {
		select {
		case s := <-notes:
			if s != "WATCHDOG=1" {
				reload = append(reload, s)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("after SIGHUP: got %q on NOTIFY_SOCKET, want RELOADING=1 and READY=1", reload)
		}
	}
	if !strings.HasPrefix(reload[0], "RELOADING=1\nMONOTONIC_USEC=") || reload[1] != "READY=1" {
		t.Errorf("after SIGHUP: got %q, want RELOADING=1 (with MONOTONIC_USEC) and READY=1", reload)
	}
	rl.waitStatus("vm2", "the refused reload counted", func(st relay.Status) bool { return st.ReloadFailures == 1 && st.Reloads == 0 })
}
