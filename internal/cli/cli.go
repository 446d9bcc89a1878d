// Package cli is the mcast command line: one file per subcommand. Each
// parses its own flags, calls a capability package and renders the result.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mcasttools/mcast/internal/buildinfo"
	"github.com/spf13/pflag"
)

// Env is what a command may use of the outside world.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

// commands is the table of subcommands.
func commands() map[string]command {
	return map[string]command{
		"send":    {"send datagrams to a group on a chosen interface", runSend},
		"recv":    {"receive from a group on one or more interfaces, and say which path each datagram took", runRecv},
		"doctor":  {"name what keeps multicast or broadcast from working on this host, with the evidence and the fix", runDoctor},
		"mac":     {"map multicast groups to MAC addresses and back, and find groups that share a MAC", runMac},
		"groups":  {"list the groups each interface joined, with users, versions and source filters", runGroups},
		"watch":   {"watch IGMP and MLD joins, leaves and queries and multicast data, and warn about the segment", runWatch},
		"ping":    {"all-to-all unicast and multicast ping with a who-hears-whom matrix (omping, ssmping compatible)", runPing},
		"relay":   {"carry multicast and broadcast between hosts over encrypted unicast UDP", runRelay},
		"lab":     {"build throwaway network-namespace topologies to try multicast on one machine", runLab},
		"tunnel":  {"build, check and remove a GRETAP or VXLAN overlay that carries broadcast and multicast between hosts", runTunnel},
		"report":  {"draw saved --json output of recv, ping, watch or relay status as one HTML page", runReport},
		"version": {"print the version", runVersion},
		"help":    {"show help for a command", runHelp},
	}
}

// aliases map argv[0] names to a subcommand (the plain sender and receiver programs).
var aliases = map[string]string{"sender": "send", "receiver": "recv"}

// UsageError is a mistake in how the command was called: exit status 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

func usagef(format string, a ...any) error { return UsageError{fmt.Errorf(format, a...)} }

// ExitError ends the program with Code after printing Err, if any.
type ExitError struct {
	Code int
	Err  error
}

func (e ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

// Run runs the program with args (args[0] is the program name) and returns
// its exit status: 0 on success, 1 on a runtime failure, 2 on a usage error.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}
	prog := "mcast"
	if len(args) > 0 {
		prog, args = args[0], args[1:]
	}
	return runWith(ctx, env, prog, args)
}

// runWith runs the program called prog with args in env.
func runWith(ctx context.Context, env *Env, prog string, args []string) int {
	stdout, stderr := env.Stdout, env.Stderr
	prog = filepath.Base(prog)
	name := ""
	if sub, ok := aliases[prog]; ok {
		name = sub
	} else {
		if len(args) == 0 {
			writeHelp(stderr)
			return 2
		}
		name, args = args[0], args[1:]
		if name == "-h" || name == "--help" {
			writeHelp(stdout)
			return 0
		}
		if name == "--version" {
			name = "version"
		}
	}
	cmd, ok := commands()[name]
	if !ok {
		fmt.Fprintf(stderr, "mcast: unknown command %q (run 'mcast help')\n", name)
		return 2
	}
	err := cmd.run(ctx, env, args)
	return report(stderr, "mcast "+name, err)
}

// report prints err as one line and picks the exit status.
func report(stderr io.Writer, who string, err error) int {
	if err == nil {
		return 0
	}
	var ee ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(stderr, "%s: %s\n", who, oneLine(ee.Err.Error()))
		}
		return ee.Code
	}
	fmt.Fprintf(stderr, "%s: %s\n", who, oneLine(err.Error()))
	var ue UsageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// newFlags makes a flag set for a subcommand; usage is its synopsis.
func newFlags(name, usage string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false
	fs.BoolP("help", "h", false, "show this help")
	fs.Lookup("help").Annotations = map[string][]string{"usage": {usage}}
	return fs
}

// parse parses args; a help request prints the usage and ends with status 0.
func parse(fs *pflag.FlagSet, env *Env, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			writeUsage(env.Stdout, fs)
			return ExitError{Code: 0}
		}
		return UsageError{err}
	}
	if h, _ := fs.GetBool("help"); h {
		writeUsage(env.Stdout, fs)
		return ExitError{Code: 0}
	}
	return nil
}

func writeUsage(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprintf(w, "usage: %s\n\nflags:\n%s", fs.Lookup("help").Annotations["usage"][0], fs.FlagUsages())
}

func writeHelp(w io.Writer) {
	fmt.Fprintln(w, "mcast: send, receive, measure and diagnose IP multicast and broadcast on Linux")
	fmt.Fprintln(w, "\nusage: mcast COMMAND [flags] [args]\n\ncommands:")
	cmds := commands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nAlso installed as 'sender' and 'receiver' (mcast send and mcast recv under the names of the classic pair).")
	fmt.Fprintln(w, "Run 'mcast COMMAND --help' for a command's flags.")
}

func runHelp(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		writeHelp(env.Stdout)
		return nil
	}
	cmd, ok := commands()[args[0]]
	if !ok || args[0] == "help" {
		return usagef("unknown command %q", args[0])
	}
	return cmd.run(ctx, env, []string{"--help"})
}

func runVersion(_ context.Context, env *Env, args []string) error {
	fs := newFlags("version", "mcast version [--json]")
	asJSON := fs.Bool("json", false, "print version, commit and go_version as JSON")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	bi := buildinfo.Get()
	if *asJSON {
		return writeRecord(env.Stdout, versionRecord{Header: stamp("version"), Info: bi})
	}
	fmt.Fprintf(env.Stdout, "mcast %s (commit %s, %s)\n", bi.Version, bi.Commit, bi.GoVersion)
	return nil
}
