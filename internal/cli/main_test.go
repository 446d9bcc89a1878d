package cli

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
)

// TestMain runs this package's tests inside a network namespace of their
// own, where no interface is up, so that a call that unexpectedly got as far
// as sending could not put a packet on any real network. Where no namespace
// can be made (no unshare, no privilege), the tests run in place: they are
// written to fail before any socket is opened.
func TestMain(m *testing.M) {
	if os.Getenv("MCAST_TEST_NETNS") == "" {
		if unshare, ok := netnsCommand(); ok {
			cmd := exec.Command(unshare[0], append(append(unshare[1:], "--", os.Args[0]), os.Args[1:]...)...)
			cmd.Env = append(os.Environ(), "MCAST_TEST_NETNS=1")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
			_ = cmd.Run()
			os.Exit(cmd.ProcessState.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "cli tests: could not make a network namespace (unshare); running in place")
	}
	os.Exit(m.Run())
}

// netnsCommand returns the unshare command that starts a program in a new
// network namespace, if one can be made here.
func netnsCommand() ([]string, bool) {
	path, err := exec.LookPath("unshare")
	if err != nil {
		return nil, false
	}
	cmd := []string{path, "--net"}
	if os.Geteuid() != 0 {
		cmd = append(cmd, "--map-root-user")
	}
	if exec.Command(cmd[0], append(cmd[1:], "--", "true")...).Run() != nil {
		return nil, false
	}
	return cmd, true
}

// The isolation above holds: in the namespace, lo is the only interface.
func TestRunsIsolated(t *testing.T) {
	if os.Getenv("MCAST_TEST_NETNS") == "" {
		t.Skip("no network namespace could be made here (see TestMain)")
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Name != "lo" {
			t.Errorf("interface %s visible: the tests are not isolated", i.Name)
		}
	}
}
