// Package labtest lets integration tests build the real mcast binary, bring
// up a lab of network namespaces for one test, run commands on its nodes and
// remove it when the test ends, whether it passed or not.
package labtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	labSeq    atomic.Int32
)

// RequireRoot skips the test, saying why, where network namespaces cannot
// be made: not root, or no `ip` command. In CI (CI=true) it fails instead,
// because CI has both.
func RequireRoot(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root to create network namespaces"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs the ip command (Debian package iproute2)"
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s, and CI must have it", why)
	}
	t.Skip(why)
}

// Binary builds cmd/mcast once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "mcast-test-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "mcast")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/mcast")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the mcast module")
	}
	return filepath.Dir(mod), nil
}

// Lab is a running lab owned by one test.
type Lab struct {
	t    testing.TB
	Name string
	Bin  string
}

// Up brings up the built-in topology (with extra `mcast lab up` flags) under
// a name unique to this test process, and removes it when the test ends.
func Up(t testing.TB, topology string, flags ...string) *Lab {
	t.Helper()
	RequireRoot(t)
	bin := Binary(t)
	// t<pid>x<n>: scripts/test.sh removes the labs of test processes that
	// are gone, and only those.
	name := fmt.Sprintf("t%dx%s", os.Getpid(), strconv.FormatInt(int64(labSeq.Add(1)), 36))
	l := &Lab{t: t, Name: name, Bin: bin}
	args := append([]string{"lab", "up", topology, "--name", name}, flags...)
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		exec.Command(bin, "lab", "down", "--name", name).Run()
		t.Fatalf("mcast %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command(bin, "lab", "down", "--name", name).CombinedOutput(); err != nil {
			t.Errorf("removing lab %s: %v\n%s", name, err, out)
		}
	})
	return l
}

// Result is what a finished command printed and how it ended.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs argv on node and waits for it (at most two minutes).
func (l *Lab) Run(node string, argv ...string) Result {
	l.t.Helper()
	return l.Start(node, argv...).Wait()
}

// MustRun runs argv on node and fails the test unless it exits 0.
func (l *Lab) MustRun(node string, argv ...string) Result {
	l.t.Helper()
	r := l.Run(node, argv...)
	if r.Code != 0 {
		l.t.Fatalf("on %s: %s: %s", node, strings.Join(argv, " "), r)
	}
	return r
}

// Mcast runs the mcast binary with args on node.
func (l *Lab) Mcast(node string, args ...string) Result {
	l.t.Helper()
	return l.Run(node, append([]string{l.Bin}, args...)...)
}

// Proc is a command running on a node.
type Proc struct {
	t              testing.TB
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan struct{}
	cancel         context.CancelFunc
}

// Start starts argv on node in the background. The test's cleanup ends it
// if it is still running.
func (l *Lab) Start(node string, argv ...string) *Proc {
	l.t.Helper()
	args := append([]string{"lab", "exec", "--name", l.Name, node, "--"}, argv...)
	return start(l.t, "on "+node, argv, l.Bin, args...)
}

// StartNS starts argv in the network namespace ns, one the test made
// itself outside the lab's nodes, in the background, like Start.
func StartNS(t testing.TB, ns string, argv ...string) *Proc {
	t.Helper()
	args := append([]string{"netns", "exec", ns}, argv...)
	return start(t, "in namespace "+ns, argv, "ip", args...)
}

// start runs name with args (which run argv where) for at most two
// minutes; the test's cleanup ends it if it is still running.
func start(t testing.TB, where string, argv []string, name string, args ...string) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, name, args...)
	p := &Proc{t: t, cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{}), cancel: cancel}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting %v %s: %v", argv, where, err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.Stop() })
	return p
}

// StartMcast starts the mcast binary with args on node.
func (l *Lab) StartMcast(node string, args ...string) *Proc {
	l.t.Helper()
	return l.Start(node, append([]string{l.Bin}, args...)...)
}

// Wait waits for the process to end and returns what it printed.
func (p *Proc) Wait() Result {
	<-p.done
	p.cancel()
	code := p.cmd.ProcessState.ExitCode()
	return Result{Stdout: p.stdout.String(), Stderr: p.stderr.String(), Code: code}
}

// Stop interrupts the process (SIGINT to `mcast lab exec`, which passes
// SIGTERM on) and waits for it.
func (p *Proc) Stop() Result {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(os.Interrupt)
	}
	return p.Wait()
}

// WaitFor waits until the process has printed substr on stdout, failing the
// test after timeout.
func (p *Proc) WaitFor(substr string, timeout time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.Contains(p.stdout.String(), substr) {
			return
		}
		select {
		case <-p.done:
			if strings.Contains(p.stdout.String(), substr) {
				return
			}
			p.t.Fatalf("process ended before printing %q: %s", substr, p.Wait())
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.t.Fatalf("no %q after %s; stdout so far:\n%s\nstderr:\n%s", substr, timeout, p.stdout.String(), p.stderr.String())
}

// Signal sends sig to the process started (for StartNS, the command
// itself: ip netns exec replaces itself with it), by its PID.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stdout is what the process printed so far.
func (p *Proc) Stdout() string { return p.stdout.String() }

// Stderr is what the process printed on standard error so far.
func (p *Proc) Stderr() string { return p.stderr.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
