package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/mcasttools/mcast/internal/buildinfo"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Root returns the whole command tree, its output discarded: the man page
// generator and the tests read its definitions.
func Root() *cobra.Command {
	return newRoot(&Env{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }})
}

// newRoot builds the command tree whose commands use env.
func newRoot(env *Env) *cobra.Command {
	root := newCommand("mcast", "send, receive, measure and diagnose IP multicast and broadcast on Linux", "", `  mcast send -c 3 239.1.1.1
  mcast recv -c 3 -T 5s 239.1.1.1`)
	root.Use = "mcast COMMAND [flags] [args]"
	root.Long = `mcast sends, receives, measures and diagnoses IP multicast and broadcast on Linux, in one static
binary. Installed as sender or receiver, it behaves as mcast send or mcast recv under the names of the
classic pair. Exit status: 0 success, 1 a runtime failure or a threshold not met, 2 a usage or
configuration error.`
	root.SuggestionsMinimumDistance = 2
	version := root.Flags().BoolP("version", "V", false, "print the version and exit (as mcast version)")
	root.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			return usagef("unknown command %q (did you mean %s? run 'mcast help')", args[0], strings.Join(s, ", "))
		}
		return usagef("unknown command %q (run 'mcast help')", args[0])
	}
	root.RunE = func(c *cobra.Command, _ []string) error {
		if *version {
			return printVersion(env.Stdout, false)
		}
		writeRootHelp(env.Stderr, c)
		return ExitError{Code: 2}
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(flagError)
	root.SetHelpFunc(func(c *cobra.Command, _ []string) {
		if !c.HasParent() {
			writeRootHelp(c.OutOrStdout(), c)
			return
		}
		writeHelp(c.OutOrStdout(), c)
	})
	root.AddCommand(newSendCmd(env), newRecvCmd(env), newDoctorCmd(env), newMacCmd(env), newGroupsCmd(env),
		newWatchCmd(env), newPingCmd(env), newRelayCmd(env), newLabCmd(env), newTunnelCmd(env),
		newReportCmd(env), newVersionCmd(env))
	root.SetHelpCommand(newHelpCmd())
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			describeCompletion(c)
		}
	}
	walk(root, func(c *cobra.Command) {
		if c.Flags().Lookup("iface") != nil {
			// Registering twice is the only error: each command registers once.
			_ = c.RegisterFlagCompletionFunc("iface", completeIface)
		}
	})
	return root
}

// newCommand makes a command with the house settings: no usage dump after
// an error, errors printed by the caller, flags listed in definition order.
func newCommand(use, short, long, example string) *cobra.Command {
	c := &cobra.Command{
		Use:                   use,
		Short:                 short,
		Long:                  long,
		Example:               example,
		SilenceUsage:          true,
		SilenceErrors:         true,
		DisableFlagsInUseLine: true,
	}
	c.Flags().SortFlags = false
	c.Flags().BoolP("help", "h", false, "show this help")
	return c
}

// walk calls f on c and every command below it.
func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, s := range c.Commands() {
		walk(s, f)
	}
}

// flagError makes a flag parsing error a usage error (exit status 2) that
// names the flag by its long name.
func flagError(_ *cobra.Command, err error) error {
	var ive *pflag.InvalidValueError
	if errors.As(err, &ive) {
		err = fmt.Errorf("invalid argument %q for \"--%s\" flag: %w", ive.GetValue(), ive.GetFlag().Name, ive.Unwrap())
	}
	return UsageError{err}
}

// interfaces lists the host's interfaces (a variable for tests).
var interfaces = net.Interfaces

// completeIface completes --iface with the names of this host's interfaces
// (none, and no error, on a host without any).
func completeIface(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
	ifs, err := interfaces()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, prefix) {
			names = append(names, i.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// writeRootHelp prints the program's help: what it is and its commands.
func writeRootHelp(w io.Writer, root *cobra.Command) {
	fmt.Fprintf(w, "mcast: %s\n", root.Short)
	fmt.Fprintf(w, "\nusage: %s\n\ncommands:\n", root.Use)
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() || c.Name() == "help" {
			fmt.Fprintf(w, "  %-10s %s\n", c.Name(), c.Short)
		}
	}
	fmt.Fprintf(w, "\nexamples:\n%s\n\nflags:\n%s", root.Example, root.Flags().FlagUsages())
	fmt.Fprintln(w, "\nAlso installed as 'sender' and 'receiver' (mcast send and mcast recv under the names of the classic pair).")
	fmt.Fprintln(w, "Run 'mcast COMMAND --help' for a command's flags; exit status: 0 success, 1 failure, 2 usage or configuration error.")
}

// writeHelp prints a command's help: usage, description, subcommands,
// examples and flags, its subcommands' flags included.
func writeHelp(w io.Writer, c *cobra.Command) {
	fmt.Fprintf(w, "usage: %s\n", c.UseLine())
	subs := available(c)
	for _, s := range subs {
		fmt.Fprintf(w, "       %s\n", s.UseLine())
	}
	desc := c.Long
	if desc == "" {
		desc = c.Short
	}
	fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(desc))
	if len(subs) > 0 {
		fmt.Fprintln(w, "\ncommands:")
		for _, s := range subs {
			fmt.Fprintf(w, "  %-10s %s\n", s.Name(), s.Short)
		}
	}
	if c.Example != "" {
		fmt.Fprintf(w, "\nexamples:\n%s\n", strings.TrimRight(c.Example, "\n"))
	}
	fmt.Fprintf(w, "\nflags:\n%s", c.Flags().FlagUsages())
	for _, s := range subs {
		if hasFlagsBesidesHelp(s) {
			fmt.Fprintf(w, "\nflags of %s:\n%s", s.CommandPath(), s.Flags().FlagUsages())
		}
	}
}

// hasFlagsBesidesHelp says whether c has a flag other than --help.
func hasFlagsBesidesHelp(c *cobra.Command) bool {
	n := 0
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name != "help" {
			n++
		}
	})
	return n > 0
}

// available lists c's subcommands a user may call.
func available(c *cobra.Command) []*cobra.Command {
	var subs []*cobra.Command
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			subs = append(subs, s)
		}
	}
	return subs
}

// newHelpCmd is "mcast help [COMMAND...]": a command's help, or an error
// for a command that does not exist.
func newHelpCmd() *cobra.Command {
	c := newCommand("help [COMMAND...]", "show help for a command", "Show the help of mcast or of one of its commands, the same as COMMAND --help.", `  mcast help
  mcast help tunnel status`)
	c.RunE = func(c *cobra.Command, args []string) error {
		target, rest, err := c.Root().Find(args)
		if err != nil || len(rest) > 0 {
			return usagef("unknown command %q", strings.Join(args, " "))
		}
		return target.Help()
	}
	c.ValidArgsFunction = func(c *cobra.Command, args []string, prefix string) ([]string, cobra.ShellCompDirective) {
		target, _, err := c.Root().Find(args)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var names []string
		for _, s := range available(target) {
			if strings.HasPrefix(s.Name(), prefix) {
				names = append(names, s.Name())
			}
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
	return c
}

// describeCompletion gives cobra's completion command and its shells the
// house help: examples and a help flag.
func describeCompletion(c *cobra.Command) {
	c.Short = "print a shell completion script: bash, zsh, fish or powershell"
	c.Use, c.DisableFlagsInUseLine = "completion SHELL", true
	c.Example = `  mcast completion bash > mcast.bash
  mcast completion zsh > _mcast`
	c.Flags().BoolP("help", "h", false, "show this help")
	c.Args = nil
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef("missing shell (bash, zsh, fish, powershell)")
		}
		return usagef("unknown shell %q (bash, zsh, fish, powershell)", args[0])
	}
	for _, s := range c.Commands() {
		s.Short = "print the completion script for " + s.Name()
		s.Use, s.DisableFlagsInUseLine = s.Name()+" [--no-descriptions]", true
		s.Example = fmt.Sprintf("  mcast completion %[1]s > mcast.%[1]s\n  mcast completion %[1]s --no-descriptions > mcast.%[1]s", s.Name())
		if s.Name() == "bash" {
			s.Example = "  source <(mcast completion bash)\n  mcast completion bash > mcast.bash"
		}
		s.Flags().BoolP("help", "h", false, "show this help")
	}
}

func newVersionCmd(env *Env) *cobra.Command {
	c := newCommand("version [--json]", "print the version",
		"Print the version, the VCS commit and the Go version this binary was built from (mcast -V prints the same).", `  mcast version
  mcast version --json`)
	asJSON := c.Flags().BoolP("json", "j", false, "print version, commit and go_version as JSON")
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		return printVersion(env.Stdout, *asJSON)
	}
	return c
}

// printVersion prints the build's version as a line or as JSON.
func printVersion(w io.Writer, asJSON bool) error {
	bi := buildinfo.Get()
	if asJSON {
		return writeRecord(w, versionRecord{Header: stamp("version"), Info: bi})
	}
	fmt.Fprintf(w, "mcast %s (commit %s, %s)\n", bi.Version, bi.Commit, bi.GoVersion)
	return nil
}
