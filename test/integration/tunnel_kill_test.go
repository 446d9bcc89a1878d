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

// TestTunnelKilled kills `mcast tunnel up`, then `mcast tunnel down`, at
// every step of its sequence, with strace's fault injection (SIGKILL on
// entering the syscall, so the step is not made): at each netlink request it
// sends, and at its sysctl write. After up is killed, `tunnel down` must put
// the node back as it was (links, routes, addresses and the sysctl); on the
// hub (a bridge and a port to make), `tunnel up` must also finish what the
// killed one started. After down is killed, down again must finish.
func TestTunnelKilled(t *testing.T) {
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
			before := tunQuickSnapshot(t, l)
			if !strings.Contains(before, tunSysctl+" = 1") {
				t.Fatalf("want %s = 1 in a fresh namespace, to see up change it:\n%s", tunSysctl, before)
			}
			k := tunKiller{t: t, l: l, cfg: cfg, before: before}
			thens := [][]string{{"down"}}
			if mode == "vxlan-hub" {
				thens = append(thens, []string{"up", "down"})
			}
			for _, p := range k.points("up", nil, []string{"down"}) {
				for _, then := range thens {
					k.run(nil, "up", p, then)
				}
			}
			for _, p := range k.points("down", []string{"up"}, nil) {
				k.run([]string{"up"}, "down", p, []string{"down"})
			}
		})
	}
	t.Run("device made again keeps the sysctl record", func(t *testing.T) {
		// A new VNI makes up delete the overlay device, whose alias holds
		// the sysctl's old value, and make it again.
		before := tunQuickSnapshot(t, l)
		k := tunKiller{t: t, l: l, cfg: tunnelConfig(t, "vxlan-mesh", 2, ""), before: before}
		k.tunnel("", "up")
		k.cfg = tunnelConfig(t, "vxlan-mesh", 2, "vni: 4300\n")
		k.tunnel("", "up", "down")
		if after := tunQuickSnapshot(t, l); after != before {
			t.Errorf("up, up with a new VNI, down left the node changed:\n%s", tunLineDiff(before, after))
		}
	})
}

// tunKiller kills tunnel commands on vm1 of a lab, at chosen points.
type tunKiller struct {
	t           *testing.T
	l           *labtest.Lab
	cfg, before string // the config; the node's tunQuickSnapshot before up
}

// tunPoint is a step at which strace kills a command.
type tunPoint struct {
	name   string
	inject []string // strace options
}

// points runs the tunnel commands pre, then tunnel sub under strace, then
// post, and returns sub's kill points: each netlink request it sent, and
// its sysctl write.
func (k tunKiller) points(sub string, pre, post []string) []tunPoint {
	k.t.Helper()
	k.tunnel("", pre...)
	trace := filepath.Join(k.t.TempDir(), sub+".strace")
	if r := k.l.Run("vm1", "strace", "-f", "-qq", "-e", "trace=sendto", "-o", trace, k.l.Bin, "tunnel", sub, "--config", k.cfg); r.Code != 0 {
		k.t.Fatalf("tunnel %s under strace: %s", sub, r)
	}
	k.tunnel("", post...)
	b, err := os.ReadFile(trace)
	if err != nil {
		k.t.Fatal(err)
	}
	n := strings.Count(string(b), " sendto(")
	if n < 3 {
		k.t.Fatalf("strace saw %d netlink requests from tunnel %s, want at least 3:\n%s", n, sub, b)
	}
	var ps []tunPoint
	for i := 1; i <= n; i++ {
		ps = append(ps, tunPoint{fmt.Sprintf("netlink request %d of %d", i, n),
			[]string{"-e", "trace=sendto", "-e", fmt.Sprintf("inject=sendto:signal=SIGKILL:when=%d", i)}})
	}
	return append(ps, tunPoint{"the sysctl write", []string{"-P", tunSysctlPath, "-e", "trace=write", "-e", "inject=write:signal=SIGKILL"}})
}

// run runs the tunnel commands pre, tunnel sub killed at p, then the
// tunnel commands then, and checks that the node is as before.
func (k tunKiller) run(pre []string, sub string, p tunPoint, then []string) {
	k.t.Helper()
	k.tunnel("", pre...)
	argv := append([]string{"strace", "-f", "-qq", "-o", "/dev/null"}, p.inject...)
	r := k.l.Run("vm1", append(argv, k.l.Bin, "tunnel", sub, "--config", k.cfg)...)
	if r.Code == 0 || strings.Contains(r.Stdout, "tunnel "+sub+" on node") {
		k.t.Fatalf("tunnel %s was not killed at %s: %s", sub, p.name, r)
	}
	killed := fmt.Sprintf("%s killed at %s, after %q", sub, p.name, tunTail(r.Stdout, 1))
	k.tunnel(killed, then...)
	if after := tunQuickSnapshot(k.t, k.l); after != k.before {
		k.t.Errorf("%s; tunnel %s left the node changed:\n%s", killed, strings.Join(then, ", "), tunLineDiff(k.before, after))
		// Start the next point from a clean node.
		k.l.Run("vm1", "sh", "-c", "for d in mcast0p2 mcast0; do ip link del $d; done 2>/dev/null; sysctl -qw "+tunSysctl+"=1")
	}
}

// tunnel runs each tunnel command of subs on vm1; each must succeed.
// context, when set, says what came before, for the error.
func (k tunKiller) tunnel(context string, subs ...string) {
	k.t.Helper()
	for _, sub := range subs {
		if r := k.l.Mcast("vm1", "tunnel", sub, "--config", k.cfg); r.Code != 0 {
			if context == "" {
				k.t.Fatalf("tunnel %s: %s", sub, r)
			}
			k.t.Errorf("%s; tunnel %s: %s", context, sub, r)
		}
	}
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
