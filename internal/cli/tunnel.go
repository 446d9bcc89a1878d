package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/tunnel"
	"github.com/spf13/cobra"
)

// tunnelExamples are each tunnel command's examples, run on node n1 of a lab.
var tunnelExamples = map[string]string{
	"up": `  mcast tunnel up --config tunnel.yaml
  mcast tunnel up --config tunnel.yaml --node n1`,
	"down": `  mcast tunnel down --config tunnel.yaml
  mcast tunnel down --config tunnel.yaml --node n1`,
	"status": `  mcast tunnel status --config tunnel.yaml -T 1s
  mcast tunnel status --config tunnel.yaml -j -T 1s`,
	"plan": `  mcast tunnel plan --config tunnel.yaml
  mcast tunnel plan --config tunnel.yaml --node n2`,
}

func newTunnelCmd(env *Env) *cobra.Command {
	c := newCommand("tunnel COMMAND [flags]", "build, check and remove a GRETAP or VXLAN overlay that carries broadcast and multicast between hosts",
		`Build, check and remove a GRETAP or VXLAN overlay that carries broadcast and multicast between hosts, from one
config file that is the same on every node (see docs/tunnel.md). A missing or bad config file is a usage error
(exit status 2).`,
		`  mcast tunnel plan --config tunnel.yaml --node n1
  mcast tunnel up --config tunnel.yaml`)
	c.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef("missing tunnel command (up, down, status, plan)")
		}
		return usagef("unknown tunnel command %q (up, down, status, plan)", args[0])
	}
	subs := []struct{ name, short string }{
		{"up", "build this node's part of the overlay (idempotent)"},
		{"down", "remove this node's part of the overlay (idempotent)"},
		{"status", "check the overlay: devices, addresses, peers answering (exit 1 when not OK)"},
		{"plan", "print the commands up would run, changing nothing (for any node)"},
	}
	for _, s := range subs {
		sub := s.name
		sc := newCommand(sub+" --config FILE [flags]", s.short, "Tunnel "+sub+": "+s.short+".", tunnelExamples[sub])
		fs := sc.Flags()
		config := fs.String("config", "", "the overlay's config file, the same on every node (see docs/tunnel.md)")
		node := fs.String("node", "", "this host's node in the config (default: the node whose underlay address is local)")
		var asJSON *bool
		var timeout *time.Duration
		if sub == "status" {
			asJSON = fs.BoolP("json", "j", false, "print the report as JSON (docs/json.md)")
			timeout = fs.DurationP("timeout", "T", 2*time.Second, "how long to wait for peers to answer")
		} else {
			asJSON = fs.BoolP("json", "j", false, "print what was done (plan: what up would do) as one JSON object (docs/json.md)")
		}
		sc.RunE = func(c *cobra.Command, args []string) error {
			if len(args) != 0 {
				return usagef("%s: unexpected arguments %q", sub, args)
			}
			if *config == "" {
				return usagef("%s: missing --config FILE", sub)
			}
			if timeout != nil && *timeout <= 0 {
				return usagef("invalid --timeout %s: must be positive", *timeout)
			}
			return tunnelRun(c.Context(), env, sub, config, node, asJSON, timeout)
		}
		c.AddCommand(sc)
	}
	return c
}

// tunnelRun runs tunnel command sub with its flags' values.
func tunnelRun(ctx context.Context, env *Env, sub string, config, node *string, asJSON *bool, timeout *time.Duration) error {
	if sub == "up" || sub == "down" {
		// Every netlink request and sysctl write of up and down comes from
		// this one thread, in order: the test that kills up at each of them
		// counts them with strace, which counts per thread.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	state, err := tunnelState(*config, *node, sub != "plan")
	if err != nil {
		return err
	}
	if *asJSON && sub != "status" {
		return tunnelJSON(ctx, env, sub, state)
	}
	switch sub {
	case "plan":
		for _, l := range state.Plan() {
			fmt.Fprintln(env.Stdout, l)
		}
		return nil
	case "up":
		n, err := tunnel.Up(ctx, state, env.Stdout)
		if err != nil {
			return fmt.Errorf("tunnel up on node %s: %w (nothing was left half-built)", state.Node.Name, err)
		}
		if n == 0 {
			fmt.Fprintf(env.Stdout, "tunnel already up on node %s: nothing to change\n", state.Node.Name)
			return nil
		}
		fmt.Fprintf(env.Stdout, "tunnel up on node %s: %s %s, device %s, %s, mtu %d (%d changes)\n",
			state.Node.Name, state.Config.Mode, state.Role, state.Device, state.Addrs[0].Prefix, state.MTU, n)
		return nil
	case "down":
		n, err := tunnel.Down(ctx, state, env.Stdout)
		if err != nil {
			return fmt.Errorf("tunnel down on node %s: %w", state.Node.Name, err)
		}
		if n == 0 {
			fmt.Fprintf(env.Stdout, "tunnel already down on node %s: nothing to remove\n", state.Node.Name)
			return nil
		}
		fmt.Fprintf(env.Stdout, "tunnel down on node %s (%d changes)\n", state.Node.Name, n)
		return nil
	}
	r, err := tunnel.Status(ctx, state, *timeout)
	if err != nil {
		return err
	}
	if *asJSON {
		r.Header = stamp("tunnel.status")
		b, _ := json.MarshalIndent(r, "", "  ")
		fmt.Fprintln(env.Stdout, string(b))
	} else {
		r.Write(env.Stdout)
	}
	if !r.OK {
		return ExitError{Code: 1}
	}
	return nil
}

// tunnelState reads the config and computes this node's desired state.
// With local set, the node must be this host (its underlay address one of
// the host's); plan may describe any node.
func tunnelState(file, node string, local bool) (tunnel.State, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return tunnel.State{}, UsageError{fmt.Errorf("reading config: %w", err)}
	}
	c, err := tunnel.Parse(file, b)
	if err != nil {
		return tunnel.State{}, UsageError{err}
	}
	host, err := tunnel.LocalHost()
	if err != nil {
		return tunnel.State{}, err
	}
	if node == "" {
		n, err := c.LocalNode(host)
		if err != nil {
			return tunnel.State{}, UsageError{err}
		}
		node = n.Name
	}
	s, err := tunnel.Desire(c, node, host)
	if err != nil {
		return tunnel.State{}, UsageError{err}
	}
	if local && s.UnderlayDev == "" {
		return tunnel.State{}, UsageError{fmt.Errorf("%s:%d: node %s: underlay address %s is not an address of this host; run this on %s, or pick the node with --node",
			file, s.Node.Lines["underlay"], s.Node.Name, s.Node.Underlay, s.Node.Name)}
	}
	return s, nil
}

// tunnelJSON runs up, down or plan and prints what was done as one record.
func tunnelJSON(ctx context.Context, env *Env, sub string, state tunnel.State) error {
	rec := tunnelRecord{Node: state.Node.Name, Steps: []string{}}
	var log bytes.Buffer
	var err error
	switch sub {
	case "plan":
		rec.Steps = append(rec.Steps, state.Plan()...)
	case "up":
		if rec.Changes, err = tunnel.Up(ctx, state, &log); err != nil {
			err = fmt.Errorf("tunnel up on node %s: %w (nothing was left half-built)", state.Node.Name, err)
		}
	case "down":
		if rec.Changes, err = tunnel.Down(ctx, state, &log); err != nil {
			err = fmt.Errorf("tunnel down on node %s: %w", state.Node.Name, err)
		}
	}
	if err != nil {
		return err
	}
	for l := range strings.Lines(log.String()) {
		rec.Steps = append(rec.Steps, strings.TrimSuffix(l, "\n"))
	}
	rec.Header = stamp("tunnel." + sub)
	return writeRecord(env.Stdout, rec)
}
