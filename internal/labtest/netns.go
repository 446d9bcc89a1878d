package labtest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// isolatedEnv marks a test process that already runs in its own namespace.
const isolatedEnv = "MCAST_TEST_NETNS"

// MainIsolated is a TestMain body: it runs the package's tests in a network
// namespace of their own (unshare --net, with a user namespace when not
// root), where only lo exists until the tests make links, so that nothing
// they send can reach a real network. Where no namespace can be made, the
// tests run in place and Isolated reports false.
func MainIsolated(m *testing.M) {
	if os.Getenv(isolatedEnv) == "" {
		if unshare, ok := netnsCommand(); ok {
			cmd := exec.Command(unshare[0], append(append(unshare[1:], "--", os.Args[0]), os.Args[1:]...)...)
			cmd.Env = append(os.Environ(), isolatedEnv+"=1")
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
			_ = cmd.Run()
			os.Exit(cmd.ProcessState.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "could not make a network namespace (unshare --net); running the tests in place")
	}
	os.Exit(m.Run())
}

// Isolated reports whether this test process runs in a namespace that
// MainIsolated made.
func Isolated() bool { return os.Getenv(isolatedEnv) != "" }

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
