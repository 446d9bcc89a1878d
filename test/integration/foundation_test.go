// Package integration_test runs the real mcast binary in network-namespace
// labs that each test builds and removes. The tests need root; elsewhere
// they skip, saying so.
package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// countLines counts the lines of out that match re.
func countLines(out, re string) int {
	return len(regexp.MustCompile("(?m)"+re).FindAllString(out, -1))
}

func TestSendRecvAcrossNamespaces(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "twonic")
	r := l.StartMcast("peer", "recv", "--iface", "eth0", "--count", "3", "--timeout", "20s", "239.1.2.3:5000")
	r.WaitFor("use interface: eth0", 10*time.Second)
	l.MustRun("host", l.Bin, "send", "--iface", "enX0", "--count", "3", "--interval", "100ms", "239.1.2.3:5000")
	res := r.Wait()
	if res.Code != 0 {
		t.Fatalf("recv: %s", res)
	}
	if n := countLines(res.Stdout, `^received: message \d from 10\.0\.0\.12:\d+ on eth0 \[wire\]$`); n != 3 {
		t.Errorf("want 3 wire datagrams from 10.0.0.12, got %d:\n%s", n, res.Stdout)
	}
	if !strings.Contains(res.Stdout, "eth0: 3 received: 3 from other hosts across the wire") {
		t.Errorf("summary:\n%s", res.Stdout)
	}
}

// installedNames makes sender and receiver links to the binary, as make install does.
func installedNames(t *testing.T, bin string) (sender, receiver string) {
	dir := t.TempDir()
	sender, receiver = filepath.Join(dir, "sender"), filepath.Join(dir, "receiver")
	for _, p := range []string{sender, receiver} {
		if err := os.Symlink(bin, p); err != nil {
			t.Fatal(err)
		}
	}
	return sender, receiver
}

// Two NICs of one host, as users of the sender/receiver pair ran it: two
// receivers on the two NICs of one host and
// a sender on the same host, with default sysctls. enX1 gets nothing from the
// wire, and says why.
func TestTwoNICDefaultSysctls(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "twonic")
	sender, receiver := installedNames(t, l.Bin)
	env := []string{"env", "MULTICAST_ADDR=224.0.0.1", "MULTICAST_PORT=28000"}
	r0 := l.Start("host", append(env, receiver, "--iface", "enX0", "--timeout", "3s")...)
	r1 := l.Start("host", append(env, receiver, "--iface", "enX1", "--timeout", "3s")...)
	r0.WaitFor("use interface: enX0", 10*time.Second)
	r1.WaitFor("use interface: enX1", 10*time.Second)
	s := l.Run("host", append(env, sender, "--iface", "enX0", "--interval", "50ms")...)
	if s.Code != 0 || countLines(s.Stdout, `^send successful: message \d$`) != 10 {
		t.Fatalf("sender: %s", s)
	}
	out0, out1 := r0.Wait(), r1.Wait()
	if n := countLines(out0.Stdout, `^received: message \d from 10\.0\.0\.12:\d+ on enX0 \[loopback copy\]$`); n != 10 {
		t.Errorf("enX0: want 10 loopback copies, got %d:\n%s", n, out0.Stdout)
	}
	if n := countLines(out1.Stdout, `^received: `); n != 0 {
		t.Errorf("enX1: want nothing, got %d:\n%s", n, out1.Stdout)
	}
	for _, want := range []string{
		"enX1: 0 received; nothing crossed the wire to enX1",
		"net.ipv4.conf.enX1.accept_local=0 drops wire copies whose source is this host's own address",
		"Fix: sysctl -w net.ipv4.conf.enX1.accept_local=1",
	} {
		if !strings.Contains(out1.Stdout, want) {
			t.Errorf("enX1 summary lacks %q:\n%s", want, out1.Stdout)
		}
	}
	if !strings.Contains(out0.Stdout, "enX0: 10 received: 10 looped back inside this host (never crossed the wire)") {
		t.Errorf("enX0 summary:\n%s", out0.Stdout)
	}
}

// With accept_local=1 on enX1, the wire copy crosses and one receiver on both
// NICs says which NIC each datagram came in on.
func TestTwoNICAcceptLocal(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "twonic")
	l.MustRun("host", "sysctl", "-qw", "net.ipv4.conf.enX1.accept_local=1")
	r := l.StartMcast("host", "recv", "--iface", "enX0", "--iface", "10.0.0.13", "--count", "20", "--timeout", "20s", "224.0.0.1")
	r.WaitFor("use interface: enX1", 10*time.Second)
	l.MustRun("host", l.Bin, "send", "--iface", "10.0.0.12", "--interval", "50ms", "224.0.0.1")
	res := r.Wait()
	if n := countLines(res.Stdout, `^received: message \d from 10\.0\.0\.12:\d+ on enX1 \[wire, from this host\]$`); n != 10 {
		t.Errorf("enX1: want 10 wire copies, got %d:\n%s", n, res.Stdout)
	}
	if n := countLines(res.Stdout, `on enX0 \[loopback copy\]$`); n != 10 {
		t.Errorf("enX0: want 10 loopback copies, got %d:\n%s", n, res.Stdout)
	}
	if !strings.Contains(res.Stdout, "enX1: 10 received: 10 from this host's other interfaces across the wire") {
		t.Errorf("summary:\n%s", res.Stdout)
	}
}

func TestRecvCountAndTimeout(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "twonic")
	// --timeout with no sender: ends on its own, having received nothing.
	start := time.Now()
	res := l.Mcast("peer", "recv", "--timeout", "1s", "239.9.9.9")
	if res.Code != 0 || !strings.Contains(res.Stdout, "eth0: 0 received") {
		t.Errorf("recv --timeout: %s", res)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("recv --timeout 1s took %s", d)
	}
	// --count 3 ends after three of ten.
	r := l.StartMcast("peer", "recv", "--count", "3", "239.9.9.9")
	r.WaitFor("use interface: eth0", 10*time.Second)
	s := l.StartMcast("host", "send", "--iface", "enX0", "--count", "10", "--interval", "200ms", "239.9.9.9")
	res = r.Wait()
	s.Stop()
	if res.Code != 0 || countLines(res.Stdout, `^received: `) != 3 {
		t.Errorf("recv --count 3: %s", res)
	}
}

// Bad input that needs a real host to show: each gives one line naming the
// bad value and the right exit status.
func TestBadInputInLab(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "twonic")
	l.MustRun("host", "ip", "link", "set", "enX1", "down")
	l.MustRun("peer", "ip", "-4", "addr", "flush", "dev", "eth0")
	nobody := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", l.Bin, "lab", "up", "twonic", "--name", "nope")
	out, _ := nobody.CombinedOutput()
	tests := []struct {
		res  labtest.Result
		code int
		err  string
	}{
		{l.Mcast("host", "send", "--iface", "enX1", "239.1.1.1"), 1, `mcast send: interface "enX1" is down`},
		{l.Mcast("host", "recv", "--iface", "enX1", "239.1.1.1"), 1, `mcast recv: interface "enX1" is down`},
		{l.Mcast("peer", "send", "--iface", "eth0", "239.1.1.1"), 1, `interface "eth0" has no IPv4 address`},
		{l.Mcast("host", "send", "--iface", "wlan7", "239.1.1.1"), 2, `unknown interface "wlan7"`},
		{l.Mcast("host", "send", "--iface", "10.0.0.99", "239.1.1.1"), 2, `unknown interface "10.0.0.99"`},
		{l.Mcast("host", "recv", "192.168.1.1"), 2, `invalid group "192.168.1.1": not a multicast address`},
		{l.Mcast("host", "send", "--port", "0", "239.1.1.1"), 2, `invalid port "0"`},
		{l.Mcast("host", "send"), 2, "no group given"},
		{labtest.Result{Stderr: labExec(l, "nosuchnode")}, 0, `unknown node "nosuchnode"`},
		{labtest.Result{Stderr: string(out), Code: nobody.ProcessState.ExitCode()}, 1, "mcast lab: needs root"},
	}
	for _, tt := range tests {
		if (tt.code != 0 && tt.res.Code != tt.code) || !strings.Contains(tt.res.Stderr, tt.err) {
			t.Errorf("want exit %d with %q, got %s", tt.code, tt.err, tt.res)
		}
		if lines := strings.Count(strings.TrimSpace(tt.res.Stderr), "\n"); lines > 0 || strings.Contains(tt.res.Stderr, "goroutine") {
			t.Errorf("error is not one line: %q", tt.res.Stderr)
		}
	}
}

// labExec runs `mcast lab exec` on node and checks it exits 2.
func labExec(l *labtest.Lab, node string) string {
	cmd := exec.Command(l.Bin, "lab", "exec", "--name", l.Name, node, "--", "true")
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != 2 {
		return "unexpected exit status " + cmd.ProcessState.String()
	}
	return string(out)
}
