package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// run calls the program as a user would and returns exit status and output.
func run(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string { return env[k] }}
	prog, rest := args[0], args[1:]
	code := runWith(context.Background(), e, prog, rest)
	return code, out.String(), errb.String()
}

// These calls fail before any socket is opened, so they send nothing.
func TestBadInput(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		code int
		err  string
	}{
		{[]string{"mcast", "frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{[]string{"mcast", "send", "10.1.1.1"}, nil, 2, `mcast send: invalid group "10.1.1.1": not a multicast address`},
		{[]string{"mcast", "send", "239.1.1.1:0"}, nil, 2, `invalid port "0": must be 1..65535`},
		{[]string{"mcast", "send", "--port", "65536", "239.1.1.1"}, nil, 2, `invalid port "65536"`},
		{[]string{"mcast", "recv", "--port", "abc", "239.1.1.1"}, nil, 2, `invalid port "abc": not a number`},
		{[]string{"mcast", "send"}, nil, 2, "no group given: pass GROUP[:PORT] or set MULTICAST_ADDR"},
		{[]string{"sender"}, map[string]string{"MULTICAST_ADDR": "1.2.3.4"}, 2, `mcast send: invalid group "1.2.3.4"`},
		{[]string{"receiver"}, map[string]string{"MULTICAST_ADDR": "239.1.1.1", "MULTICAST_PORT": "99999"}, 2, `MULTICAST_PORT: invalid port "99999"`},
		{[]string{"mcast", "send", "--iface", "nosuch0", "239.1.1.1"}, nil, 2, `unknown interface "nosuch0"`},
		{[]string{"mcast", "recv", "--iface", "nosuch0", "239.1.1.1"}, nil, 2, `unknown interface "nosuch0"`},
		{[]string{"mcast", "send", "--ttl", "300", "239.1.1.1"}, nil, 2, "invalid --ttl 300"},
		{[]string{"mcast", "send", "--count", "x", "239.1.1.1"}, nil, 2, `invalid argument "x" for "--count"`},
		{[]string{"mcast", "send", "--bogus", "239.1.1.1"}, nil, 2, "unknown flag: --bogus"},
		{[]string{"mcast", "send", "--count", "-1", "239.1.1.1"}, nil, 2, "invalid --count -1"},
		{[]string{"mcast", "send", "239.1.1.1+x"}, nil, 2, `239.1.1.1+x`},
		{[]string{"mcast", "lab", "up", "nosuch"}, nil, 2, `unknown topology "nosuch"`},
		{[]string{"mcast", "lab", "up", "lan", "--name", "BAD"}, nil, 2, `invalid lab name "BAD"`},
		{[]string{"mcast", "lab", "frob"}, nil, 2, `unknown lab command "frob"`},
		{[]string{"mcast", "lab", "plan", "lan", "--nodes", "0"}, nil, 2, "invalid --nodes 0: must be 1..32"},
		{[]string{"mcast", "recv", "--rcvbuf", "-1", "239.1.1.1"}, nil, 2, "invalid --rcvbuf -1"},
		{[]string{"mcast", "recv", "--broadcast", "239.1.2.3"}, nil, 2, `invalid broadcast address "239.1.2.3"`},
		{[]string{"mcast", "recv", "--broadcast", "ff02::1"}, nil, 2, `invalid broadcast address "ff02::1"`},
		{[]string{"mcast", "doctor", "--group", "1.2.3.4"}, nil, 2, `--group: invalid group "1.2.3.4": not a multicast address`},
		{[]string{"mcast", "doctor", "--group", "10.0.0.1:5000"}, nil, 2, `--group: invalid group "10.0.0.1"`},
		{[]string{"mcast", "doctor"}, map[string]string{"MULTICAST_ADDR": "1.2.3.4"}, 2, `MULTICAST_ADDR: invalid group "1.2.3.4"`},
	}
	for _, tt := range tests {
		code, _, stderr := run(t, tt.env, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.err) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with %q", tt.args, code, stderr, tt.code, tt.err)
		}
		if strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: error is more than one line: %q", tt.args, stderr)
		}
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := run(t, nil, "mcast", "help")
	if code != 0 || !strings.Contains(out, "recv") || !strings.Contains(out, "lab") {
		t.Errorf("help: %d %q", code, out)
	}
	code, out, _ = run(t, nil, "mcast", "send", "--help")
	if code != 0 || !strings.Contains(out, "--iface") || !strings.Contains(out, "usage: mcast send") {
		t.Errorf("send --help: %d %q", code, out)
	}
	code, out, _ = run(t, nil, "mcast", "version")
	if code != 0 || !strings.HasPrefix(out, "mcast ") {
		t.Errorf("version: %d %q", code, out)
	}
	code, _, errb := run(t, nil, "mcast")
	if code != 2 || !strings.Contains(errb, "usage: mcast COMMAND") {
		t.Errorf("no args: %d %q", code, errb)
	}
}

func TestLabPlanNeedsNoRoot(t *testing.T) {
	code, out, errb := run(t, nil, "mcast", "lab", "plan", "twonic", "--name", "p")
	if code != 0 || !strings.Contains(out, "ip netns add p-host") {
		t.Errorf("lab plan: %d %q %q", code, out, errb)
	}
}
