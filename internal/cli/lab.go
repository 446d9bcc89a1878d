package cli

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/mcasttools/mcast/internal/lab"
	"github.com/spf13/cobra"
)

// labSubs are the lab commands: usage, summary and examples.
var labSubs = []struct{ use, short, example string }{
	{"up TOPOLOGY [flags]", "build a lab: namespaces, links, bridges and addresses", `  mcast lab up lan --name demo --nodes 2
  mcast lab up twonic --name demo2 -v`},
	{"down [flags]", "remove a lab and everything it made", `  mcast lab down --name demo
  mcast lab down --name demo2`},
	{"exec [flags] NODE -- COMMAND [ARGS...]", "run a command in a node of a lab", `  mcast lab exec --name demo n1 -- ip -br addr
  mcast lab exec --name demo n2 -- mcast groups`},
	{"ls [flags]", "list the labs that are up", `  mcast lab ls
  mcast lab list`},
	{"topologies [flags]", "list the built-in topologies", `  mcast lab topologies
  mcast lab topologies | grep lan`},
	{"plan TOPOLOGY [flags]", "print the commands up would run, changing nothing (needs no root)", `  mcast lab plan lan --nodes 2
  mcast lab plan cloud --name demo --drop-gre`},
}

func newLabCmd(env *Env) *cobra.Command {
	c := newCommand("lab COMMAND [flags]", "build throwaway network-namespace topologies to try multicast on one machine",
		`Build throwaway topologies of network namespaces, veth links and bridges (with IGMP/MLD snooping) to try
multicast on one machine, run commands in their nodes and remove them again. Needs root, except plan.`,
		`  mcast lab topologies
  mcast lab plan twonic --name p`)
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef("missing lab command (up, down, exec, ls, topologies, plan)")
		}
		if args[0] == "help" {
			return c.Help()
		}
		return usagef("unknown lab command %q (up, down, exec, ls, topologies, plan)", args[0])
	}
	for _, s := range labSubs {
		sc := newCommand(s.use, s.short, "Lab "+strings.Fields(s.use)[0]+": "+s.short+".", s.example)
		sc.RunE = labRun(env, sc)
		c.AddCommand(sc)
	}
	return c
}

// labRun defines the flags of lab command c and returns what runs it.
func labRun(env *Env, c *cobra.Command) func(*cobra.Command, []string) error {
	fs := c.Flags()
	name := fs.String("name", "mcast", "lab name: the prefix of its namespaces, so that labs don't collide")
	sub := c.Name()
	var asJSON *bool
	if sub != "exec" {
		asJSON = fs.BoolP("json", "j", false, "print the outcome as one JSON object (docs/json.md)")
	}
	switch sub {
	case "up", "plan":
		nodes := fs.Int("nodes", 0, "number of nodes, for topologies that take one")
		verbose := fs.BoolP("verbose", "v", false, "print each command as it runs")
		dropGRE := fs.Bool("drop-gre", false, "cloud: the router drops GRE (IP protocol 47), as Azure does")
		return func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			if fs.NArg() != 1 {
				return usagef("lab %s: want one TOPOLOGY, got %d arguments (see mcast lab topologies)", sub, fs.NArg())
			}
			if err := lab.ValidName(*name); err != nil {
				return UsageError{err}
			}
			if fs.Changed("nodes") && *nodes == 0 {
				// Options.Nodes 0 means the topology's default: a --nodes 0
				// given by hand is not that.
				return usagef("invalid --nodes 0: must be 1..%d", lab.MaxNodes)
			}
			t, err := lab.Lookup(fs.Arg(0), lab.Options{Nodes: *nodes, DropGRE: *dropGRE})
			if err != nil {
				return UsageError{err}
			}
			if sub == "plan" && *asJSON {
				rec := labRecord{Header: stamp("lab.plan"), Name: *name, Topology: t.Name, Nodes: t.NodeNames(), Commands: []string{}}
				for _, s := range t.Plan(*name) {
					rec.Commands = append(rec.Commands, s.String())
				}
				return writeRecord(env.Stdout, rec)
			}
			if sub == "plan" {
				for _, s := range t.Plan(*name) {
					fmt.Fprintln(env.Stdout, s)
				}
				return nil
			}
			var log = env.Stdout
			if !*verbose {
				log = nil
			} else if *asJSON {
				log = env.Stderr
			}
			if err := lab.Up(ctx, *name, t, log); err != nil {
				return err
			}
			if *asJSON {
				return writeRecord(env.Stdout, labRecord{Header: stamp("lab.up"), Name: *name, Topology: t.Name, Nodes: t.NodeNames()})
			}
			fmt.Fprintf(env.Stdout, "lab %s is up: topology %s, nodes %s\n", *name, t.Name, strings.Join(t.NodeNames(), ", "))
			fmt.Fprintf(env.Stdout, "run a command on a node: mcast lab exec --name %s NODE -- COMMAND; remove it: mcast lab down --name %s\n", *name, *name)
			return nil
		}
	case "down":
		return func(c *cobra.Command, args []string) error {
			ctx := c.Context()
			if fs.NArg() != 0 {
				return usagef("lab down: unexpected arguments %q", fs.Args())
			}
			if err := lab.Down(ctx, *name); err != nil {
				return err
			}
			if *asJSON {
				return writeRecord(env.Stdout, labRecord{Header: stamp("lab.down"), Name: *name})
			}
			fmt.Fprintf(env.Stdout, "lab %s is down\n", *name)
			return nil
		}
	case "ls":
		c.Aliases = []string{"list"}
		return func(c *cobra.Command, args []string) error {
			labs, err := lab.List()
			if err != nil {
				return err
			}
			if *asJSON {
				rec := labListRecord{Header: stamp("lab.ls"), Labs: []labEntry{}}
				for _, s := range labs {
					rec.Labs = append(rec.Labs, labEntry{Name: s.Name, Topology: s.Topology.Name, Nodes: s.Topology.NodeNames()})
				}
				return writeRecord(env.Stdout, rec)
			}
			if len(labs) == 0 {
				fmt.Fprintln(env.Stdout, "no labs are up")
			}
			for _, s := range labs {
				fmt.Fprintf(env.Stdout, "%-12s %-8s nodes: %s\n", s.Name, s.Topology.Name, strings.Join(s.Topology.NodeNames(), ", "))
			}
			return nil
		}
	case "topologies":
		return func(c *cobra.Command, args []string) error {
			b := lab.Builtins()
			names := make([]string, 0, len(b))
			for n := range b {
				names = append(names, n)
			}
			sort.Strings(names)
			if *asJSON {
				rec := labTopologiesRecord{Header: stamp("lab.topologies"), Topologies: []labTopology{}}
				for _, n := range names {
					rec.Topologies = append(rec.Topologies, labTopology{Name: n, Description: b[n]})
				}
				return writeRecord(env.Stdout, rec)
			}
			for _, n := range names {
				fmt.Fprintf(env.Stdout, "%-8s %s\n", n, b[n])
			}
			return nil
		}
	}
	// exec: everything after NODE belongs to the command run on it.
	fs.SetInterspersed(false)
	return func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		rest := fs.Args()
		if len(rest) > 0 && rest[0] == "--" {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return usagef("lab exec: missing NODE")
		}
		node, argv := rest[0], rest[1:]
		if len(argv) > 0 && argv[0] == "--" {
			argv = argv[1:]
		}
		if len(argv) == 0 {
			return usagef("lab exec: missing COMMAND to run on node %s", node)
		}
		return labExec(ctx, env, *name, node, argv)
	}
}

func labExec(ctx context.Context, env *Env, name, node string, argv []string) error {
	if err := lab.CheckRoot(); err != nil {
		return err
	}
	s, err := lab.Load(name)
	if err != nil {
		return err
	}
	if _, err := s.Node(node); err != nil {
		return UsageError{err}
	}
	cmd, err := s.Command(ctx, node, argv)
	if err != nil {
		return err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = env.Stdin, env.Stdout, env.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ExitError{Code: ee.ExitCode()}
	}
	if err != nil {
		return fmt.Errorf("running %q on node %s: %w", argv[0], node, err)
	}
	return nil
}
