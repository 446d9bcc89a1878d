package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/labtest"
)

// The sysctl broadcast_ping makes up change, and the file up writes it to.
const (
	tunSysctl     = "net.ipv4.icmp_echo_ignore_broadcasts"
	tunSysctlPath = "/proc/sys/net/ipv4/icmp_echo_ignore_broadcasts"
)

// TestTunnelUpKilled kills `mcast tunnel up` at every step of its sequence,
// with strace's fault injection (SIGKILL on entering the syscall, so the
// step is not made): at each netlink request it sends, and at its sysctl
// write. After each kill, `tunnel down` must put the node back as it was
// (links, routes, addresses and the sysctl); on the hub (a bridge and a
// port to make), `tunnel up` must also finish what the killed one started.
func TestTunnelUpKilled(t *testing.T) {
	if _, err := exec.LookPath("strace"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("needs strace (Debian package strace), and CI must have it")
		}
		t.Skip("needs strace (Debian package strace)")
	}
	l := labtest.Up(t, "cloud", "--nodes", "2")
	for _, mode := range []string{"vxlan-hub", "vxlan-mesh"} {
		t.Run(mode, func(t *testing.T) {
			cfg := tunnelConfig(t, mode, 2, "")
			then := [][]string{{"down"}}
			if mode == "vxlan-hub" {
				then = append(then, []string{"up", "down"})
			}
			before := tunQuickSnapshot(t, l)
			if !strings.Contains(before, tunSysctl+" = 1") {
				t.Fatalf("want %s = 1 in a fresh namespace, to see up change it:\n%s", tunSysctl, before)
			}
			n := tunCountRequests(t, l, cfg)
			if n < 10 {
				t.Fatalf("strace saw %d netlink requests from tunnel up, want at least 10", n)
			}
			for i := 1; i <= n+1; i++ {
				point := fmt.Sprintf("netlink request %d of %d", i, n)
				inject := []string{"-e", "trace=sendto", "-e", fmt.Sprintf("inject=sendto:signal=SIGKILL:when=%d", i)}
				if i == n+1 {
					point = "the sysctl write"
					inject = []string{"-P", tunSysctlPath, "-e", "trace=write", "-e", "inject=write:signal=SIGKILL"}
				}
				tunKillPoint(t, l, cfg, before, point, inject, then)
			}
		})
	}
}

// tunKillPoint kills up at one point once for each sequence of tunnel
// commands in thens, runs that sequence, which must succeed, and checks that
// the node is then as before.
func tunKillPoint(t *testing.T, l *labtest.Lab, cfg, before, point string, inject []string, thens [][]string) {
	t.Helper()
	for _, then := range thens {
		argv := append([]string{"strace", "-f", "-qq", "-o", "/dev/null"}, inject...)
		argv = append(argv, l.Bin, "tunnel", "up", "--config", cfg)
		r := l.Run("vm1", argv...)
		if r.Code == 0 || strings.Contains(r.Stdout, "tunnel up on node") {
			t.Fatalf("tunnel up was not killed at %s: %s", point, r)
		}
		killed := "killed at " + point + ", after: " + tunTail(r.Stdout, 1)
		for _, cmd := range then {
			if r := l.Mcast("vm1", "tunnel", cmd, "--config", cfg); r.Code != 0 {
				t.Errorf("up %s; tunnel %s: %s", killed, cmd, r)
			}
		}
		if after := tunQuickSnapshot(t, l); after != before {
			t.Errorf("up %s; tunnel %s left the node changed:\n%s", killed, strings.Join(then, ", "), tunLineDiff(before, after))
			// Start the next point from a clean node.
			l.Run("vm1", "sh", "-c", "for d in mcast0p3 mcast0p2 mcast0; do ip link del $d; done 2>/dev/null; sysctl -qw "+tunSysctl+"=1")
		}
	}
}

// tunCountRequests runs up under strace, returns how many netlink requests
// it sent, and takes the overlay down again.
func tunCountRequests(t *testing.T, l *labtest.Lab, cfg string) int {
	t.Helper()
	trace := filepath.Join(t.TempDir(), "up.strace")
	if r := l.Run("vm1", "strace", "-f", "-qq", "-e", "trace=sendto", "-o", trace, l.Bin, "tunnel", "up", "--config", cfg); r.Code != 0 {
		t.Fatalf("tunnel up under strace: %s", r)
	}
	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if r := l.Mcast("vm1", "tunnel", "down", "--config", cfg); r.Code != 0 {
		t.Fatalf("tunnel down: %s", r)
	}
	return strings.Count(string(b), " sendto(")
}

// tunQuickSnapshot is vm1's links, routes (all tables), addresses and the
// sysctl up changes, one line each, in one command.
func tunQuickSnapshot(t *testing.T, l *labtest.Lab) string {
	t.Helper()
	return l.MustRun("vm1", "sh", "-c", "ip -d -o link; ip route show table all; ip -o addr; sysctl "+tunSysctl).Stdout
}

// tunLineDiff lists the lines only before has (-) and only after has (+).
func tunLineDiff(before, after string) string {
	count := map[string]int{}
	for _, s := range strings.Split(before, "\n") {
		count[s]++
	}
	for _, s := range strings.Split(after, "\n") {
		count[s]--
	}
	var out []string
	for _, s := range strings.Split(before, "\n") {
		if count[s] > 0 {
			out = append(out, "- "+s)
		}
	}
	for _, s := range strings.Split(after, "\n") {
		if count[s] < 0 {
			out = append(out, "+ "+s)
		}
	}
	return strings.Join(out, "\n")
}
