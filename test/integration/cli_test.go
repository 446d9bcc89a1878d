package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/cli"
	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/spf13/cobra"
)

// helpExamples returns the example lines of every command's --help, as
// the binary prints them, in the order of the command tree.
func helpExamples(t *testing.T, bin string) []string {
	t.Helper()
	var paths [][]string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.HasParent() || c.IsAvailableCommand() || c.Name() == "help" {
			paths = append(paths, strings.Fields(c.CommandPath())[1:])
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(cli.Root())
	var lines []string
	for _, p := range paths {
		out, err := exec.Command(bin, append(p, "--help")...).Output()
		if err != nil {
			t.Fatalf("mcast %v --help: %v", p, err)
		}
		_, ex, _ := strings.Cut(string(out), "\nexamples:\n")
		ex, _, _ = strings.Cut(ex, "\n\n")
		n := 0
		for _, l := range strings.Split(ex, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
				n++
			}
		}
		if n < 2 {
			t.Errorf("mcast %v --help: %d examples", p, n)
		}
	}
	return lines
}

// TestCLIExamples runs every example of every command's help, as written,
// on node n1 of a lab (the lab command's on the host, making labs of their
// own), with what they need around them: n2 sends to the
// groups the examples receive, answers pings and is the tunnel's other end;
// the files the examples name are in their working directory. The examples
// that tear down (lab down, tunnel down) run last; the relay's foreground
// example runs until the end, so that relay status has a relay to ask.
func TestCLIExamples(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	dir := t.TempDir()
	binDir := filepath.Join(dir, "bin")
	work := filepath.Join(dir, "work")
	for _, d := range []string{binDir, work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(l.Bin, filepath.Join(binDir, "mcast")); err != nil {
		t.Fatal(err)
	}
	// Keys and a certificate for the relay examples, made as the examples
	// of relay genkey and relay ca make them.
	mcastOut := func(stdin string, args ...string) string {
		cmd := exec.Command(l.Bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("mcast %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	priv, peer, ca := mcastOut("", "relay", "genkey"), mcastOut("", "relay", "genkey"), mcastOut("", "relay", "ca", "genkey")
	cert := mcastOut("", "relay", "ca", "sign", "--ca-key", writeFile(t, work, "ca.key", ca), "--name", "n1",
		"--pubkey", mcastOut(priv, "relay", "pubkey"), "--underlay", "10.0.0.1:7474")
	files := map[string]string{
		"relay.priv": priv + "\n",
		// A mesh key too: relay --check still looks for one (it stats the
		// key file even when the config has only a private key).
		"mesh.key": strings.Repeat("k", 32),
		"n1.cert":  cert + "\n",
		"relay.conf": "node n1\nlisten 10.0.0.1:7474\ninterface eth0\nprivate-key " + filepath.Join(work, "relay.priv") +
			"\nkey " + filepath.Join(work, "mesh.key") +
			"\nadmin " + filepath.Join(work, "relay.sock") + "\ngroup 239.2.2.2\npeer n2 10.0.0.2:7474 " + mcastOut(peer, "relay", "pubkey") + "\n",
		"tunnel.yaml": "mode: vxlan-mesh\nsubnet: 172.16.254.0/24\nmulticast_route: 239.255.0.0/16\nnodes:\n  - name: n1\n    underlay: 10.0.0.1\n    overlay: 172.16.254.1\n  - name: n2\n    underlay: 10.0.0.2\n    overlay: 172.16.254.2\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(work, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"demo", "demo2"} {
		t.Cleanup(func() { exec.Command(l.Bin, "lab", "down", "--name", name).Run() })
	}
	// The counterparts on n2: a sender on both ports the examples use, a
	// ping responder, the tunnel's other end.
	counterparts := []*labtest.Proc{
		l.StartMcast("n2", "send", "-c", "0", "-i", "50ms", "239.1.1.1"),
		l.StartMcast("n2", "send", "-c", "0", "-i", "50ms", "239.1.1.1:5000"),
		l.StartMcast("n2", "ping", "--serve", "10.0.0.1", "10.0.0.2"),
	}
	defer func() {
		for _, p := range counterparts {
			select {
			case <-p.Done():
				t.Errorf("a counterpart on n2 ended early: %s", p.Wait())
			default:
			}
		}
	}()
	l.Run("n2", l.Bin, "tunnel", "up", "--config", filepath.Join(work, "tunnel.yaml"))
	t.Cleanup(func() { l.Run("n2", l.Bin, "tunnel", "down", "--config", filepath.Join(work, "tunnel.yaml")) })
	rec := l.Mcast("n1", "recv", "--json", "-c", "5", "-T", "10s", "239.1.1.1")
	if rec.Code != 0 {
		t.Fatalf("recording recv.json: %s", rec)
	}
	if err := os.WriteFile(filepath.Join(work, "recv.json"), []byte(rec.Stdout), 0o600); err != nil {
		t.Fatal(err)
	}

	examples := helpExamples(t, l.Bin)
	// Set-up examples (lab up, tunnel up) first, tear-down ones last.
	stage := func(e string) int {
		switch {
		case strings.Contains(e, " up "):
			return 0
		case strings.Contains(e, " down "):
			return 2
		}
		return 1
	}
	slices.SortStableFunc(examples, func(a, b string) int { return stage(a) - stage(b) })
	shell := func(e string) []string {
		return []string{"env", "PATH=" + binDir + ":" + os.Getenv("PATH"), "bash", "-o", "pipefail", "-c", "cd " + work + " && " + e}
	}
	for _, e := range examples {
		if strings.HasPrefix(e, "mcast relay --config") && !strings.Contains(e, "--check") {
			// A relay in the foreground: it runs until stopped.
			p := l.Start("n1", shell(e)...)
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				if _, err := os.Stat(filepath.Join(work, "relay.sock")); err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			select {
			case <-p.Done():
				t.Errorf("%s: ended: %s", e, p.Wait())
			default:
			}
			continue
		}
		start := time.Now()
		var r labtest.Result
		if strings.HasPrefix(e, "mcast lab ") {
			// Labs are made from the host, as a user does: their
			// namespaces are their own, apart from the test's lab.
			argv := shell(e)
			cmd := exec.Command(argv[0], argv[1:]...)
			var out, errb strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &errb
			cmd.Run()
			r = labtest.Result{Stdout: out.String(), Stderr: errb.String(), Code: cmd.ProcessState.ExitCode()}
		} else {
			r = l.Run("n1", shell(e)...)
		}
		t.Logf("%s: exit %d in %s", e, r.Code, time.Since(start).Round(10*time.Millisecond))
		if r.Code != 0 {
			t.Errorf("%s: %s", e, r)
		}
		if strings.Contains(e, "| tcpdump") && !strings.Contains(r.Stdout, "239.1.1.1") {
			t.Errorf("%s: tcpdump read no datagram to 239.1.1.1 from mcast watch --write -: %s", e, r)
		}
	}
}

// TestWatchWriteStdout: watch --write - puts the capture on standard
// output, where tcpdump -r - reads it, and makes no file named "-"; the
// events go to standard error.
func TestWatchWriteStdout(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	work := t.TempDir()
	l.StartMcast("n2", "send", "-c", "0", "-i", "50ms", "239.1.1.1")
	script := "cd " + work + " && " + l.Bin + " watch -I eth0 -T 2s -w - 2>events | tcpdump -n -r - && cat events >&2"
	r := l.Run("n1", "bash", "-o", "pipefail", "-c", script)
	if r.Code != 0 || !strings.Contains(r.Stdout, "> 239.1.1.1.28000: UDP") {
		t.Errorf("watch -w - | tcpdump -r -: %s", r)
	}
	if !strings.Contains(r.Stderr, "239.1.1.1") {
		t.Errorf("watch -w -: no events on standard error: %s", r)
	}
	if _, err := os.Stat(filepath.Join(work, "-")); err == nil {
		t.Errorf("watch -w - made a file named -")
	}
}

// writeFile writes text into dir/name, mode 0600, and returns its path.
func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
