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
)

const tunnelUsage = `mcast tunnel up     --config FILE [--node NAME]
       mcast tunnel down   --config FILE [--node NAME]
       mcast tunnel status --config FILE [--node NAME] [--json] [--timeout D]
       mcast tunnel plan   --config FILE [--node NAME]`

func runTunnel(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("missing tunnel command (up, down, status, plan)")
	}
	sub, args := args[0], args[1:]
	fs := newFlags("tunnel "+sub, tunnelUsage)
	config := fs.String("config", "", "the overlay's config file, the same on every node (see docs/tunnel.md)")
	node := fs.String("node", "", "this host's node in the config (default: the node whose underlay address is local)")
	var asJSON *bool
	var timeout *time.Duration
	switch sub {
	case "-h", "--help", "help":
		return parse(fs, env, []string{"--help"})
	case "status":
		asJSON = fs.Bool("json", false, "print the report as JSON (docs/json.md)")
		timeout = fs.Duration("timeout", 2*time.Second, "how long to wait for peers to answer")
	case "up", "down", "plan":
		asJSON = fs.Bool("json", false, "print what was done (plan: what up would do) as one JSON object (docs/json.md)")
	default:
		return usagef("unknown tunnel command %q (up, down, status, plan)", sub)
	}
	if err := parse(fs, env, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return usagef("%s: unexpected arguments %q", sub, fs.Args())
	}
	if *config == "" {
		return usagef("%s: missing --config FILE", sub)
	}
	if timeout != nil && *timeout <= 0 {
		return usagef("invalid --timeout %s: must be positive", *timeout)
	}
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
