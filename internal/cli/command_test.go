package cli

import (
	"errors"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// commandPaths lists every command a user may call, as argument lists.
func commandPaths(t *testing.T) [][]string {
	t.Helper()
	var paths [][]string
	walk(Root(), func(c *cobra.Command) {
		if c.HasParent() && !c.IsAvailableCommand() && c.Name() != "help" {
			return
		}
		paths = append(paths, strings.Fields(c.CommandPath())[1:])
	})
	if len(paths) < 20 {
		t.Fatalf("only %d commands: %v", len(paths), paths)
	}
	return paths
}

// Every command's --help: exit 0, its usage line, a description, at least
// two examples and every one of its flags; help COMMAND prints the same.
func TestEveryCommandHelp(t *testing.T) {
	root := Root()
	for _, p := range commandPaths(t) {
		c, _, err := root.Find(p)
		if err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		code, out, errb := run(t, nil, append(append([]string{"mcast"}, p...), "--help")...)
		if code != 0 || errb != "" {
			t.Errorf("%v --help: exit %d, stderr %q", p, code, errb)
			continue
		}
		if c.HasParent() && !strings.HasPrefix(out, "usage: "+c.UseLine()+"\n") {
			t.Errorf("%v --help does not start with its usage line: %q", p, out)
		}
		if c.Short == "" || !strings.Contains(out, c.Short) && !strings.Contains(out, c.Long) {
			t.Errorf("%v --help has no description", p)
		}
		if n := len(exampleLines(out)); n < 2 {
			t.Errorf("%v --help has %d examples, want at least 2:\n%s", p, n, out)
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if !strings.Contains(out, "--"+f.Name+" ") {
				t.Errorf("%v --help does not list --%s", p, f.Name)
			}
		})
		for _, s := range available(c) {
			if !c.HasParent() {
				break // the program's help lists the commands, not their flags
			}
			s.Flags().VisitAll(func(f *pflag.Flag) {
				if !strings.Contains(out, "--"+f.Name+" ") {
					t.Errorf("%v --help does not list --%s of %s", p, f.Name, s.Name())
				}
			})
		}
		code, hout, _ := run(t, nil, append([]string{"mcast", "help"}, p...)...)
		if code != 0 || hout != out {
			t.Errorf("help %v: exit %d, output differs from %v --help:\n%s", p, code, p, hout)
		}
	}
}

// exampleLines are the commands in a help text's examples section.
func exampleLines(help string) []string {
	_, ex, ok := strings.Cut(help, "\nexamples:\n")
	if !ok {
		return nil
	}
	ex, _, _ = strings.Cut(ex, "\n\n")
	var lines []string
	for _, l := range strings.Split(ex, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestSubcommandHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"tunnel", "--help"}, []string{"flags of mcast tunnel status:", "--timeout", "--json"}},
		{[]string{"help", "tunnel", "status"}, []string{"usage: mcast tunnel status", "--timeout", "-j, --json"}},
		{[]string{"lab", "--help"}, []string{"--nodes", "--drop-gre", "mcast lab exec"}},
		{[]string{"relay", "--help"}, []string{"mcast relay status", "--admin"}},
	} {
		code, out, _ := run(t, nil, append([]string{"mcast"}, tt.args...)...)
		for _, w := range tt.want {
			if code != 0 || !strings.Contains(out, w) {
				t.Errorf("%v: exit %d, output lacks %q:\n%s", tt.args, code, w, out)
			}
		}
	}
	code, _, errb := run(t, nil, "mcast", "help", "tunnel", "nosuch")
	if code != 2 || !strings.Contains(errb, `unknown command "tunnel nosuch"`) {
		t.Errorf("help of a missing command: exit %d, %q", code, errb)
	}
}

// A short flag means the same in every command, and a flag of one of
// these names has its short form everywhere.
func TestShortFlagsConsistent(t *testing.T) {
	short := map[string]string{"count": "c", "iface": "I", "ttl": "t", "size": "s", "quiet": "q", "json": "j", "timeout": "T"}
	long := map[string][]string{"c": {"count"}, "i": {"interval", "report-interval"}, "I": {"iface"}, "t": {"ttl"},
		"s": {"size"}, "q": {"quiet"}, "j": {"json"}, "T": {"timeout"}}
	walk(Root(), func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if s, ok := short[f.Name]; ok && f.Shorthand != s {
				t.Errorf("%s --%s: short flag %q, want -%s", c.CommandPath(), f.Name, f.Shorthand, s)
			}
			if names, ok := long[f.Shorthand]; ok && !slices.Contains(names, f.Name) {
				t.Errorf("%s -%s is --%s, want one of %v", c.CommandPath(), f.Shorthand, f.Name, names)
			}
		})
	})
	code, out, _ := run(t, nil, "mcast", "-V")
	_, want, _ := run(t, nil, "mcast", "version")
	if code != 0 || out != want {
		t.Errorf("-V: exit %d, %q; want %q", code, out, want)
	}
}

// Exit status 2 for usage and configuration errors, with one line naming
// the bad value; no usage text follows the error.
func TestUsageAndConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"tunnel", "up", "--config", "/nonexistent"}, "mcast tunnel: reading config: open /nonexistent"},
		{[]string{"tunnel", "status", "--config", "/dev/null"}, "/dev/null"},
		{[]string{"relay", "--config", "/nonexistent"}, "mcast relay: reading relay config: open /nonexistent"},
		{[]string{"relay", "status", "--config", "/nonexistent"}, "mcast relay: reading relay config: open /nonexistent"},
		{[]string{"send", "-c", "x", "239.1.1.1"}, `invalid argument "x" for "--count" flag`},
		{[]string{"ping", "-Z"}, "unknown shorthand flag: 'Z' in -Z"},
		{[]string{"sendd"}, `unknown command "sendd" (did you mean send? run 'mcast help')`},
		{[]string{"tunnel"}, "missing tunnel command"},
		{[]string{"tunnel", "frob"}, `unknown tunnel command "frob"`},
		{[]string{"lab"}, "missing lab command"},
		{[]string{"relay", "frob"}, `unexpected argument "frob"`},
		{[]string{"relay", "ca"}, "ca takes genkey, pubkey, sign or fingerprint"},
		{[]string{"relay", "ca", "sign", "--ca-key", "/nonexistent", "--name", "a", "--pubkey", "x", "--underlay", "10.0.0.1:7474"}, "reading the CA key: stat /nonexistent"},
		{[]string{"relay", "genkey", "extra"}, `unexpected argument "extra"`},
		{[]string{"version", "extra"}, `unexpected argument "extra"`},
		{[]string{"completion", "tcsh"}, `unknown shell "tcsh"`},
		{[]string{"completion"}, `missing shell`},
	} {
		code, out, errb := run(t, nil, append([]string{"mcast"}, tt.args...)...)
		if code != 2 || !strings.Contains(errb, tt.want) || strings.Count(strings.TrimSpace(errb), "\n") > 0 || strings.Contains(out+errb, "flags:") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", tt.args, code, out, errb, tt.want)
		}
	}
}

func TestCompletion(t *testing.T) {
	defer func(f func() ([]net.Interface, error)) { interfaces = f }(interfaces)
	interfaces = func() ([]net.Interface, error) {
		return []net.Interface{{Name: "eth0"}, {Name: "enX1"}, {Name: "lo"}}, nil
	}
	for _, tt := range []struct {
		args, want []string
	}{
		{[]string{"send", "-I", "e"}, []string{"eth0", "enX1"}},
		{[]string{"recv", "--iface", ""}, []string{"eth0", "enX1", "lo"}},
		{[]string{"watch", "--iface=l"}, []string{"lo"}},
		{[]string{"tunnel", "st"}, []string{"status"}},
		{[]string{"help", "tun"}, []string{"tunnel"}},
	} {
		code, out, _ := run(t, nil, append([]string{"mcast", "__complete"}, tt.args...)...)
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if l != "" && !strings.HasPrefix(l, ":") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		if code != 0 || !slices.Equal(got, tt.want) {
			t.Errorf("complete %v: exit %d, %q; want %q", tt.args, code, got, tt.want)
		}
	}
	code, out, _ := run(t, nil, "mcast", "__complete", "")
	for _, w := range []string{"send\t", "recv\t", "completion\t", "tunnel\t"} {
		if code != 0 || !strings.Contains(out, "\n"+w) && !strings.HasPrefix(out, w) {
			t.Errorf("complete the command: exit %d, no %q in %q", code, w, out)
		}
	}
	// A host without interfaces, or one where listing them fails: no
	// candidates, and no error.
	for _, f := range []func() ([]net.Interface, error){
		func() ([]net.Interface, error) { return nil, nil },
		func() ([]net.Interface, error) { return nil, errors.New("no netlink") },
	} {
		interfaces = f
		code, out, errb := run(t, nil, "mcast", "__complete", "send", "-I", "")
		if code != 0 || strings.TrimSpace(out) != ":4" || errb != "Completion ended with directive: ShellCompDirectiveNoFileComp\n" {
			t.Errorf("complete without interfaces: exit %d, %q, %q", code, out, errb)
		}
	}
	for _, sh := range []string{"bash", "zsh", "fish"} {
		code, out, _ := run(t, nil, "mcast", "completion", sh)
		if code != 0 || !strings.Contains(out, "__complete") {
			t.Errorf("completion %s: exit %d, %d bytes", sh, code, len(out))
		}
	}
}
