package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mcasttools/mcast/internal/endpoint"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stream"
	"github.com/spf13/pflag"
)

func runSend(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("send", "mcast send [flags] GROUP[:PORT]   (GROUP defaults to MULTICAST_ADDR)")
	ifText := fs.String("iface", "", "interface to send on: a name or one of its IPv4 addresses (default: the route's)")
	portText := fs.String("port", "", "UDP port (default: MULTICAST_PORT, else 28000)")
	count := fs.Int("count", 10, "datagrams to send; 0 sends until interrupted")
	interval := fs.Duration("interval", time.Second, "pause between datagrams")
	ttl := fs.Int("ttl", 1, "multicast TTL (1 stays on the local network)")
	noLoop := fs.Bool("no-loop", false, "do not loop a copy back to receivers on this host (IP_MULTICAST_LOOP off)")
	message := fs.String("message", "message %d", "text to send; %d becomes the sequence number from 0")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	target, err := parseTarget(env, fs, *portText)
	if err != nil {
		return err
	}
	switch {
	case *count < 0:
		return usagef("invalid --count %d: must be 0 or more", *count)
	case *interval < 0:
		return usagef("invalid --interval %s: must not be negative", *interval)
	case *ttl < 0 || *ttl > 255:
		return usagef("invalid --ttl %d: must be 0..255", *ttl)
	}
	opts := sock.SendOptions{TTL: *ttl, NoLoop: *noLoop}
	ifname := "chosen by the routing table"
	if *ifText != "" {
		ifc, err := resolveIface(*ifText, iface.NeedIPv4)
		if err != nil {
			return err
		}
		opts.IfIndex = ifc.Index
		opts.Source, _ = ifc.IPv4()
		ifname = ifc.Name
	}
	s, err := sock.Dial(target.Group, target.Port, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	loop := "on"
	if *noLoop {
		loop = "off"
	}
	fmt.Fprintf(env.Stdout, "use interface: %s\n", ifname)
	fmt.Fprintf(env.Stdout, "sending to %s from %s (ttl %d, loopback %s)\n", target, s.LocalAddr(), *ttl, loop)
	return stream.Send(ctx, s, stream.SendConfig{Count: *count, Interval: *interval, Message: *message},
		func(_ int, text string) { fmt.Fprintf(env.Stdout, "send successful: %s\n", text) })
}

// parseTarget reads GROUP[:PORT] from the one positional argument, falling
// back to MULTICAST_ADDR, with the port from portFlag, MULTICAST_PORT or the
// default, in that order.
func parseTarget(env *Env, fs *pflag.FlagSet, portFlag string) (endpoint.Target, error) {
	if fs.NArg() > 1 {
		return endpoint.Target{}, usagef("too many arguments: %q (want one GROUP[:PORT])", fs.Args())
	}
	var port uint16
	var err error
	if portFlag != "" {
		port, err = endpoint.ParsePort(portFlag)
	} else {
		port, err = endpoint.DefaultPortFrom(env.Getenv("MULTICAST_PORT"))
	}
	if err != nil {
		return endpoint.Target{}, UsageError{err}
	}
	t, err := endpoint.ParseTarget(fs.Arg(0), env.Getenv("MULTICAST_ADDR"), port)
	if err != nil {
		return endpoint.Target{}, UsageError{err}
	}
	return t, nil
}

// resolveIface finds the interface the user named. An unknown name is a
// usage error; an interface in the wrong state is a runtime error.
func resolveIface(text string, need iface.Need) (iface.Interface, error) {
	all, err := iface.List()
	if err != nil {
		return iface.Interface{}, err
	}
	ifc, err := iface.Resolve(all, text, need)
	return ifc, classifyIfaceErr(err)
}

func classifyIfaceErr(err error) error {
	if errors.Is(err, iface.ErrUnknown) {
		return UsageError{err}
	}
	return err
}
