package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcasttools/mcast/internal/contract"
	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/sdnotify"
	"github.com/spf13/cobra"
)

func newRelayCmd(env *Env) *cobra.Command {
	c := newCommand("relay --config FILE [flags]", "carry multicast and broadcast between hosts over encrypted unicast UDP",
		`Carry multicast and broadcast between hosts over encrypted unicast UDP: each node captures the groups and
broadcast ports of its config on its LAN and replays what its peers send (see docs/relay.md). --check checks
everything start would and exits. A missing or bad config file is a usage error (exit status 2).`,
		`  mcast relay --config relay.conf --check
  mcast relay --config relay.conf --log-format json --log-level debug`)
	c.AddCommand(newRelayStatusCmd(env), newRelayGenkeyCmd(env), newRelayPubkeyCmd(env), newRelayCACmd(env))
	fs := c.Flags()
	cfgPath := fs.String("config", "", "relay configuration file (see docs/relay.md)")
	check := fs.Bool("check", false, "check the configuration, key file, capabilities, interface, addresses and ports as start does, then exit")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) to this file until the relay stops")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		if fs.NArg() > 0 {
			return usagef("unexpected argument %q (did you mean: mcast relay status?)", fs.Arg(0))
		}
		if *cfgPath == "" {
			return usagef("no --config given: the relay needs a configuration file")
		}
		var level slog.Level
		if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
			return usagef("invalid --log-level %q: want debug, info, warn or error", *logLevel)
		}
		// In the foreground on a terminal, a status line on standard output;
		// log lines go above it.
		var status *liveStatus
		var running atomic.Pointer[relay.Relay] // set once the relay exists
		logw := env.Stderr
		if !*check && isTerminal(env.Stdout) {
			var st relay.Status
			status = startStatus(env.Stdout, func() (uint64, uint64) {
				r := running.Load()
				if r == nil {
					return 0, 0
				}
				st = r.Status()
				return sumCounts(st.Captured) + sumCounts(st.Emitted), 0
			}, func(elapsed time.Duration, pps, _ float64, total uint64) string {
				up := 0
				for _, p := range st.Peers {
					if p.Up {
						up++
					}
				}
				return fmt.Sprintf("%.0fs  %.0f dgram/s  captured %d  emitted %d  peers up %d/%d",
					elapsed.Seconds(), pps, sumCounts(st.Captured), sumCounts(st.Emitted), up, len(st.Peers))
			})
			defer status.Stop()
			logw = status.AboveTo(env.Stderr)
		}
		var h slog.Handler
		switch *logFormat {
		case "text":
			h = slog.NewTextHandler(logw, &slog.HandlerOptions{Level: level})
		case "json":
			h = slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: level})
		default:
			return usagef("invalid --log-format %q: want text or json", *logFormat)
		}
		log := slog.New(h)
		loadLog := log
		if *check {
			loadLog = slog.New(slog.DiscardHandler) // --check fails on what the load warns about
		}
		cfg, key, err := loadRelayConfig(*cfgPath, loadLog)
		if err != nil {
			return err
		}
		if cfg.PrivateKey == "" {
			return UsageError{fmt.Errorf("%s: %w", *cfgPath, relay.ErrSharedKeyOnly)}
		}
		// The capabilities first: a relay started without them says so,
		// not that a key file it could not read is wrong.
		if err := relay.CheckCapabilities(); err != nil {
			return err
		}
		priv, err := loadPrivateKey(cfg.PrivateKey)
		if err != nil {
			return UsageError{err}
		}

		// Under systemd (Type=notify): READY=1 once the sockets are open,
		// RELOADING=1 and READY=1 around a SIGHUP, WATCHDOG=1 at half
		// WatchdogSec. Outside systemd these do nothing.
		notify := sdnotify.New(env.Getenv)
		notifyLogged := func(err error) {
			if err != nil {
				log.Warn("telling systemd", "err", err)
			}
		}
		r, err := relay.New(cfg, relay.Options{Logger: log, Key: key, PrivateKey: priv, Ready: func() { notifyLogged(notify.Ready()) }})
		if errors.Is(err, relay.ErrFleetConfig) {
			return UsageError{fmt.Errorf("%s: %w", *cfgPath, err)}
		}
		if err != nil {
			return err
		}
		running.Store(r)
		if *check {
			// What start checks, short of opening the sockets for good: a
			// configuration that passes starts.
			if err := relay.Check(cfg); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s: configuration of node %s is valid (%d peers, %d groups, %d broadcast ports)\n",
				*cfgPath, cfg.Node, len(cfg.Peers), len(cfg.Groups), len(cfg.BroadcastPorts))
			return nil
		}
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return fmt.Errorf("creating the CPU profile: %w", err)
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return fmt.Errorf("starting the CPU profile %s: %w", *cpuProfile, err)
			}
			defer pprof.StopCPUProfile()
		}
		watchdog, err := notify.WatchdogInterval()
		if err != nil {
			return err
		}
		go notify.Watchdog(ctx, watchdog, nil)
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					notifyLogged(notify.Reloading())
					next, _, err := loadRelayConfig(*cfgPath, log)
					if err == nil {
						err = r.Reload(next)
					}
					if err != nil {
						r.ReloadFailed()
						log.Error("reload refused, keeping the running configuration", "err", err)
					}
					notifyLogged(notify.Ready())
				}
			}
		}()
		defer notify.Stopping()
		return r.Run(ctx)
	}
	return c
}

// loadRelayConfig reads and checks the config file and the files it names.
// What is wrong with any of them is a configuration error (exit status 2,
// which the relay's systemd unit does not restart on).
func loadRelayConfig(path string, log *slog.Logger) (*config.Config, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, UsageError{fmt.Errorf("reading relay config: %w", err)}
	}
	defer f.Close()
	cfg, err := config.Parse(f, path)
	if err != nil {
		return nil, nil, UsageError{err}
	}
	if err := loadCerts(cfg); err != nil {
		return nil, nil, UsageError{err}
	}
	if err := loadGossipFiles(cfg, log); err != nil {
		return nil, nil, UsageError{err}
	}
	if cfg.KeyFile == "" {
		return cfg, nil, nil
	}
	key, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, nil, UsageError{fmt.Errorf("reading key file: %w", err)}
	}
	if _, err := crypto.DerivePSK(key, cfg.Cipher); err != nil {
		return nil, nil, UsageError{fmt.Errorf("key file %s: %w", cfg.KeyFile, err)}
	}
	if st, err := os.Stat(cfg.KeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("key file is readable by others: chmod 600 it", "file", cfg.KeyFile, "mode", st.Mode().Perm().String())
	}
	return cfg, key, nil
}

func newRelayStatusCmd(env *Env) *cobra.Command {
	c := newCommand("status [--config FILE | --admin PATH] [flags]", "ask a running relay for its peers, groups and counters",
		"Ask a running relay, through its admin socket, for its peers, groups, counters and drops.",
		`  mcast relay status --config relay.conf
  mcast relay status --admin relay.sock -j`)
	fs := c.Flags()
	cfgPath := fs.String("config", "", "the relay's configuration file (to find its admin socket)")
	admin := fs.String("admin", "", "the relay's admin socket (default: "+config.DefaultAdmin+")")
	asJSON := fs.BoolP("json", "j", false, "print the status as JSON")
	reportPath := fs.String("report", "", "also write an HTML report to FILE.html: the mesh as a graph, groups per peer, drops by reason (docs/reports.md)")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		if fs.NArg() > 0 {
			return usagef("unexpected argument %q", fs.Arg(0))
		}
		path := config.DefaultAdmin
		switch {
		case *admin != "" && *cfgPath != "":
			return usagef("give --config or --admin, not both")
		case *admin != "":
			path = *admin
		case *cfgPath != "":
			p, cfgErr, err := adminFromConfig(*cfgPath)
			if err != nil {
				return err
			}
			path = p
			if cfgErr != nil {
				// The running relay does not depend on the file being right
				// now: ask it anyway, and say what the file's error is.
				st, err := relay.QueryStatus(ctx, path)
				if err != nil {
					return fmt.Errorf("%v; and with the admin socket %s: %w", cfgErr, path, err)
				}
				which := "its admin socket"
				if path == config.DefaultAdmin {
					which = "the default admin socket"
				}
				fmt.Fprintf(env.Stderr, "mcast relay status: note: %v; using %s %s\n", cfgErr, which, path)
				return printRelayStatus(env, st, *asJSON, *reportPath)
			}
		}
		st, err := relay.QueryStatus(ctx, path)
		if err != nil {
			return err
		}
		return printRelayStatus(env, st, *asJSON, *reportPath)
	}
	return c
}

// adminFromConfig finds the admin socket a relay configured by file
// listens on. When the file has an error elsewhere (being edited while the
// relay runs, say), the path is its admin line, or the default without
// one, and cfgErr is the file's error.
func adminFromConfig(file string) (path string, cfgErr, err error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return "", nil, UsageError{fmt.Errorf("reading relay config: %w", err)}
	}
	cfg, cfgErr := config.Parse(strings.NewReader(string(text)), file)
	if cfgErr == nil {
		return cfg.Admin, nil, nil
	}
	path = config.DefaultAdmin
	for _, line := range strings.Split(string(text), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if f := strings.Fields(line); len(f) == 2 && f[0] == "admin" {
			path = f[1]
			break
		}
	}
	return path, cfgErr, nil
}

func printRelayStatus(env *Env, st relay.Status, asJSON bool, reportPath string) error {
	st.Header = contract.Stamp("relay.status", time.Now())
	if err := writeReport(reportPath, "mcast relay status of "+st.Node, st); err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	writeRelayStatus(env.Stdout, st)
	return nil
}

func writeRelayStatus(w io.Writer, st relay.Status) {
	fmt.Fprintf(w, "relay %s on %s, underlay %s, source %s, up %.0fs, reloads %d\n", st.Node, st.Interface, hostPort(st.ListenAddress, st.ListenPort), st.Source, st.UptimeSeconds, st.Reloads)
	down := st.Interface
	if len(st.InterfacesDown) > 0 {
		down = strings.Join(st.InterfacesDown, ", ")
	}
	switch {
	case !st.InterfaceUp && st.InterfaceLost == 0:
		fmt.Fprintf(w, "interface %s is missing or down: carrying nothing until it is up\n", down)
	case !st.InterfaceUp:
		fmt.Fprintf(w, "interface %s is gone: carrying nothing until it is back (lost %d times)\n", down, st.InterfaceLost)
	case len(st.InterfacesDown) > 0:
		fmt.Fprintf(w, "interface %s is missing or down: not served until it is up\n", down)
	case st.InterfaceLost > 0:
		fmt.Fprintf(w, "interface %s was lost %d times and is back\n", st.Interface, st.InterfaceLost)
	}
	fmt.Fprintf(w, "wants: %s\n", orNone(st.Wants))
	fmt.Fprintf(w, "joined: %s\n", orNone(st.Joined))
	members := func(m map[string]int) string {
		c := make(map[string]uint64, len(m))
		for k, v := range m {
			c[k] = uint64(v)
		}
		return formatCounts(c)
	}
	fmt.Fprintf(w, "members: this host %s, other hosts on the LAN %s\n", members(st.Members), members(st.LANMembers))
	fmt.Fprintf(w, "captured: %s\n", formatCounts(st.Captured))
	fmt.Fprintf(w, "emitted: %s\n", formatCounts(st.Emitted))
	fmt.Fprintln(w, "peers:")
	for _, p := range st.Peers {
		state := "down"
		if p.Up {
			state = "up"
		}
		seen := "never heard"
		if p.LastSeenSeconds >= 0 {
			seen = fmt.Sprintf("heard %.1fs ago", p.LastSeenSeconds)
		}
		lan := ""
		if p.LAN {
			lan = " (same LAN)"
		}
		if p.Member {
			lan += " (member)"
		}
		fmt.Fprintf(w, "  %s %s%s: %s, %s, wants %s\n", p.Name, hostPort(p.Address, p.Port), lan, state, seen, orNone(p.Wants))
		fmt.Fprintf(w, "    sent %d frames %d bytes, datagrams %s\n", p.SentFrames, p.SentBytes, formatCounts(p.SentDatagrams))
		fmt.Fprintf(w, "    received %d frames %d bytes, datagrams %s\n", p.ReceivedFrames, p.ReceivedBytes, formatCounts(p.RecvDatagrams))
		if p.ReflectedTo+p.ReflectedFor+p.ReflectedVia > 0 {
			fmt.Fprintf(w, "    fan-out: passed on to it %d frames, passed on for it %d frames, its records through reflectors %d\n", p.ReflectedTo, p.ReflectedFor, p.ReflectedVia)
		}
	}
	writeFanout(w, st)
	var drops []string
	for k, v := range st.Drops {
		if v > 0 {
			drops = append(drops, fmt.Sprintf("%s=%d", k, v))
		}
	}
	sort.Strings(drops)
	fmt.Fprintf(w, "dropped: %s\n", orNone(drops))
	fmt.Fprintf(w, "own emissions seen: %d, fragmented: %d, reassembled: %d, seen table evictions: %d\n", st.OwnSeen, st.Fragmented, st.Reassembled, st.SeenEvicted)
	var refused []string
	for k, v := range st.AdminRefused {
		if v > 0 {
			refused = append(refused, fmt.Sprintf("%s=%d", k, v))
		}
	}
	if len(refused) > 0 {
		sort.Strings(refused)
		fmt.Fprintf(w, "admin socket refused: %s\n", strings.Join(refused, " "))
	}
	writeFleetStatus(w, st.Fleet)
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, " ")
}

func formatCounts(m map[string]uint64) string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return orNone(out)
}

// hostPort joins an address and a port as text lines show them.
func hostPort(addr string, port uint16) string {
	return net.JoinHostPort(addr, strconv.Itoa(int(port)))
}

// sumCounts adds up counts by group.
func sumCounts(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// writeFanout writes the fan-out lines of relay status: the groups sent
// through reflectors, and the frames passed on as one.
func writeFanout(w io.Writer, st relay.Status) {
	fmt.Fprintf(w, "fan-out %d: ", st.Fanout)
	if len(st.FanoutGroups) == 0 {
		fmt.Fprint(w, "every group sent directly")
	}
	for i, g := range st.FanoutGroups {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%s wanted by %d, %d frames via %s", g.Group, g.Wanting, g.Frames, strings.Join(g.Reflectors, " "))
	}
	fmt.Fprintf(w, "; passed on as a reflector: %d frames\n", st.ReflectorFrames)
}
