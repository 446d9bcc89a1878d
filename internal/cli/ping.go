package cli

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mcasttools/mcast/internal/addrarg"
	"github.com/mcasttools/mcast/internal/buildinfo"
	"github.com/mcasttools/mcast/internal/contract"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/ping"
	"github.com/mcasttools/mcast/internal/wire/pingmsg"
	"github.com/spf13/cobra"
)

// omping's defaults, so that mcast ping and omping meet on the wire.
const (
	pingPort   = 4321
	pingGroup4 = "232.43.211.234"
	pingGroup6 = "ff3e::4321:1234"
)

func newPingCmd(env *Env) *cobra.Command {
	c := newCommand("ping [flags] HOST...", "all-to-all unicast and multicast ping with a who-hears-whom matrix (omping, ssmping compatible)",
		`Ping every other HOST by unicast and by multicast and print who hears whom as a matrix. Run it on every host
with the same list, this host's address included (as omping). --proto ssmping pings one ssmpingd as ssmping and
asmping do; --serve only answers. Exit status 1 when a peer stays silent or --max-loss is exceeded.

usage: mcast ping [flags] HOST...              (run on every host with the same list)
       mcast ping --proto ssmping [flags] HOST   (ping an ssmpingd)
       mcast ping --serve [flags] [HOST...]    (only answer omping peers and ssmping/asmping clients)`,
		`  mcast ping -c 3 -i 200ms 10.0.0.1 10.0.0.2
  mcast ping -q -c 2 -i 200ms -I eth0 -j 10.0.0.1 10.0.0.2`)
	fs := c.Flags()
	count := fs.IntP("count", "c", 0, "queries per peer, then stop (0: until interrupted)")
	interval := fs.DurationP("interval", "i", time.Second, "time between queries to one peer (below 1s is fine)")
	timeout := fs.DurationP("timeout", "T", 0, "end the whole run after this long (default with --count: count×interval + wait + 10s; else none)")
	wait := fs.DurationP("wait", "w", 0, "after finishing, keep answering others until they were quiet this long (default 3×interval, at least 1s)")
	ttl := fs.IntP("ttl", "t", 64, "TTL / hop limit of what this host sends")
	ifText := fs.StringP("iface", "I", "", "interface for the group (default: the one holding this host's address)")
	v4 := fs.BoolP("ipv4", "4", false, "use IPv4")
	v6 := fs.BoolP("ipv6", "6", false, "use IPv6")
	modeText := fs.StringP("mode", "M", "", "asm, ssm or broadcast (default: ssm for a group in 232/8 or ff3x::/32, else asm)")
	groupText := fs.StringP("group", "m", "", "multicast group (default 232.43.211.234 or ff3e::4321:1234, omping's); in broadcast mode the broadcast address")
	portText := fs.StringP("port", "p", "4321", "UDP port (omping's and ssmping's 4321)")
	quiet := fs.BoolP("quiet", "q", false, "no line per answer, only the summary and the matrix")
	jsonOut := fs.BoolP("json", "j", false, "print the report as JSON (field names in docs/ping.md) instead of text")
	maxLoss := fs.Float64("max-loss", -1, "exit 1 when any pair of the matrix loses more than this percentage, by unicast or multicast")
	proto := fs.String("proto", "omping", "omping (all-to-all, the default) or ssmping (ping one ssmpingd)")
	serve := fs.Bool("serve", false, "only answer (omping peers in the list, ssmping/asmping clients), never ping")
	reportPath := fs.String("report", "", "also write an HTML report to FILE.html: the matrix as a heat map, RTT over time (docs/reports.md)")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at http://ADDR:PORT/metrics while running (docs/ping.md; default off)")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		hosts := fs.Args()
		switch {
		case *v4 && *v6:
			return usagef("-4 and -6 exclude each other")
		case *count < 0:
			return usagef("invalid --count %d: must be 0 or more", *count)
		case *interval <= 0:
			return usagef("invalid --interval %s: must be above 0", *interval)
		case *timeout < 0 || *wait < 0:
			return usagef("invalid --timeout/--wait: must not be negative")
		case *ttl < 1 || *ttl > 255:
			return usagef("invalid --ttl %d: must be 1..255", *ttl)
		case *maxLoss > 100:
			return usagef("invalid --max-loss %g: must be 0..100", *maxLoss)
		case *proto != "omping" && *proto != "ssmping":
			return usagef("invalid --proto %q: want omping or ssmping", *proto)
		case len(hosts) == 0 && !*serve:
			return usagef("no hosts given: list every host, this one included (mcast ping 10.0.0.1 10.0.0.2 10.0.0.3)")
		case *proto == "ssmping" && len(hosts) != 1:
			return usagef("--proto ssmping pings one ssmpingd: give exactly one HOST, not %d", len(hosts))
		case *proto == "ssmping" && *serve:
			return usagef("--proto ssmping and --serve exclude each other (--serve answers ssmping clients anyway)")
		case *metricsAddr != "" && *proto == "ssmping":
			return usagef("--metrics works with --proto omping only")
		}
		if *metricsAddr != "" {
			if err := ping.CheckMetricsAddr(*metricsAddr); err != nil {
				return usagef("%v", err)
			}
		}
		port, err := addrarg.ParsePort(*portText)
		if err != nil {
			return usagef("%v", err)
		}
		fam := ""
		if *v4 {
			fam = "ip4"
		} else if *v6 {
			fam = "ip6"
		}
		if *modeText == "broadcast" {
			if *v6 {
				return usagef("--mode broadcast is IPv4 only; it excludes -6")
			}
			fam = "ip4"
		}
		all, err := iface.List()
		if err != nil {
			return err
		}
		if *wait == 0 {
			*wait = max(3**interval, time.Second)
		}
		if *timeout == 0 && *count > 0 {
			*timeout = time.Duration(*count)**interval + *wait + 10*time.Second
		}
		ids := func(b []byte) { rand.Read(b) }
		serverInfo := "mcast " + buildinfo.Get().Version

		var m ping.Machine
		var o ping.RunOptions
		o.TTL, o.Wait, o.Timeout = *ttl, *wait, *timeout
		var names map[string]string

		if *proto == "ssmping" {
			server, err := resolveHost(ctx, hosts[0], fam)
			if err != nil {
				return err
			}
			local, err := routeSource(server, port)
			if err != nil {
				return err
			}
			group, mode, err := pickGroupMode(*groupText, *modeText, server.Is6(), netip.Addr{}, all)
			if err != nil {
				return err
			}
			if mode == ping.ModeBroadcast {
				return usagef("--proto ssmping speaks multicast only: use --mode ssm or asm")
			}
			if !pingmsg.SSMGroupOK(group) {
				return usagef("invalid --group %s for ssmping: ssmpingd answers only on groups ending in .234 (IPv4) or 4321:1234 (IPv6)", group)
			}
			ifc, err := pickIface(all, *ifText, local)
			if err != nil {
				return err
			}
			var pid [4]byte
			rand.Read(pid[:])
			m = ping.NewSSMClient(ping.SSMClientConfig{Local: local, Server: ping.Peer{Name: hosts[0], Addr: server}, Port: port,
				Group: group, Mode: mode, Count: *count, Interval: *interval, PID: binary.BigEndian.Uint32(pid[:])})
			o.Bind = netip.AddrPortFrom(anyAddr(server.Is6()), 0)
			o.IfIndex, o.Wait = ifc.Index, 0
			o.Joins = []ping.Join{{Group: group}}
			if mode == ping.ModeSSM {
				o.Joins[0].Source = server
			}
			if !*jsonOut && !*quiet {
				fmt.Fprintf(env.Stdout, "ssmping %s from %s, joined %s\n", server, local, joinString(o.Joins[0]))
			}
		} else {
			var addrs []netip.Addr
			for _, h := range hosts {
				a, err := resolveHost(ctx, h, fam)
				if err != nil {
					return err
				}
				addrs = append(addrs, a)
			}
			var local netip.Addr
			var localName string
			localIndex := 0
			var peers []ping.Peer
			names = map[string]string{}
			if len(hosts) > 0 {
				li := -1
				for i, a := range addrs {
					if _, ok := iface.Owner(all, a); ok {
						if li >= 0 && addrs[li] != a {
							return usagef("hosts %s and %s are both addresses of this host: list only one", hosts[li], hosts[i])
						}
						li = i
					}
				}
				if li < 0 {
					return usagef("none of the hosts %s is an address of this host (its addresses: %s): list this host too, as omping wants", strings.Join(hosts, ", "), localAddrs(all))
				}
				local, localName = addrs[li], hosts[li]
				for _, a := range addrs[:li] {
					if a != local {
						localIndex++
					}
				}
				for i, a := range addrs {
					if a.Is4() != local.Is4() {
						return usagef("host %s (%s) is not of the same family as this host's %s: use -4 or -6", hosts[i], a, local)
					}
					names[a.String()] = hosts[i]
					if a != local {
						peers = append(peers, ping.Peer{Name: hosts[i], Addr: a})
					}
				}
			}
			is6 := *v6 || (local.IsValid() && local.Is6())
			group, mode, err := pickGroupMode(*groupText, *modeText, is6, local, all)
			if err != nil {
				return err
			}
			var ifc iface.Interface
			if local.IsValid() {
				if ifc, err = pickIface(all, *ifText, local); err != nil {
					return err
				}
			} else if *ifText != "" {
				if ifc, err = iface.Resolve(all, *ifText, ifaceNeed(is6)); err != nil {
					return classifyIfaceErr(err)
				}
			}
			e := ping.New(ping.Config{Local: local, LocalName: localName, LocalIndex: localIndex, Peers: peers, Group: group, Port: port, Mode: mode,
				Count: *count, Interval: *interval, TTL: *ttl, ServerInfo: serverInfo, RespondSSM: true, IDs: ids, ServeOnly: *serve})
			m = e
			o.Bind = netip.AddrPortFrom(anyAddr(is6), port)
			o.IfIndex = ifc.Index
			o.Broadcast = mode == ping.ModeBroadcast
			if o.Broadcast {
				o.BcastAddr = group
			}
			switch mode {
			case ping.ModeASM:
				o.Joins = []ping.Join{{Group: group}}
			case ping.ModeSSM:
				for _, p := range peers {
					o.Joins = append(o.Joins, ping.Join{Group: group, Source: p.Addr})
				}
			}
			if *serve {
				o.Wait, o.Timeout = 100*365*24*time.Hour, *timeout // until interrupted or --timeout
			}
			if !*jsonOut && !*quiet {
				who := "answering ssmping/asmping clients"
				if len(peers) > 0 {
					who = fmt.Sprintf("%d peers", len(peers))
				}
				fmt.Fprintf(env.Stdout, "mcast ping: %s from %s, group %s port %d, %s, %s\n", orAny(localName), orAnyAddr(local), group, port, mode, who)
			}
		}

		width := 0
		for _, h := range hosts {
			width = max(width, len(h))
		}
		out := env.Stdout
		if *jsonOut {
			out = io.Discard
		}
		var rtts []ping.RTTSample
		began := time.Now()
		var answers atomic.Uint64
		var status *liveStatus
		if !*jsonOut && isTerminal(env.Stdout) {
			status = startStatus(env.Stdout, func() (uint64, uint64) { return answers.Load(), 0 }, pingStatusText)
			out = status.Above()
		}
		onEvent := func(ev ping.Event) {
			if s, ok := ping.Sample(ev, time.Since(began)); ok {
				rtts = append(rtts, s)
			}
			if ev.Kind == ping.EvAnswer {
				answers.Add(1)
			}
			printEvent(out, ev, width, *quiet)
		}
		if *metricsAddr != "" {
			o.Monitor = ping.NewMonitor()
			stop, err := ping.ServeMetrics(ctx, *metricsAddr, o.Monitor)
			if err != nil {
				return err
			}
			defer stop()
		}
		report, err := ping.Run(ctx, m, o, onEvent)
		if status != nil {
			status.Stop()
		}
		if err != nil {
			return err
		}
		report.RTTs = rtts
		report.Header = contract.Stamp("ping.report", time.Now())
		if err := writeReport(*reportPath, "mcast ping "+strings.Join(hosts, " "), report); err != nil {
			return err
		}
		exceeded := false
		if *maxLoss >= 0 {
			exceeded = report.CheckMaxLoss(*maxLoss)
		}
		if *jsonOut {
			enc := json.NewEncoder(env.Stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(report); err != nil {
				return err
			}
		} else {
			if len(report.Peers) > 0 && !*serve {
				report.WriteSummary(env.Stdout)
				report.WriteMatrix(env.Stdout)
			}
			if report.SSMServed > 0 {
				fmt.Fprintf(env.Stdout, "answered %d ssmping/asmping requests\n", report.SSMServed)
			}
			if d := report.Drops; d.Malformed+d.UnknownSender+d.SSMRefused > 0 {
				fmt.Fprintf(env.Stdout, "dropped: %d malformed, %d from hosts not in the list, %d ssmping requests for refused groups\n",
					d.Malformed, d.UnknownSender, d.SSMRefused)
			}
			if report.SendErrors > 0 {
				fmt.Fprintf(env.Stdout, "send errors: %d (last: %s)\n", report.SendErrors, report.LastSendError)
			}
		}
		if never := report.Unanswered(); len(never) > 0 && !*serve {
			why := "every host in the list must run mcast ping (or omping) with the same list at the same time"
			if *proto == "ssmping" {
				why = fmt.Sprintf("is ssmpingd (or mcast ping) running there, with UDP port %d open?", port)
			}
			return ExitError{Code: 1, Err: fmt.Errorf("no answer from %s: %s", strings.Join(never, ", "), why)}
		}
		if exceeded {
			more := ""
			if n := len(report.Exceeded) - 1; n > 0 {
				more = fmt.Sprintf(" (and %d more)", n)
			}
			return ExitError{Code: 1, Err: fmt.Errorf("loss above --max-loss %g%%: %s%s", *maxLoss, report.Exceeded[0], more)}
		}
		return nil
	}
	return c
}

func orAny(s string) string {
	if s == "" {
		return "this host"
	}
	return s
}

func orAnyAddr(a netip.Addr) string {
	if !a.IsValid() {
		return "any address"
	}
	return a.String()
}

func joinString(j ping.Join) string {
	if j.Source.IsValid() {
		return fmt.Sprintf("(S,G) = (%s, %s)", j.Source, j.Group)
	}
	return fmt.Sprintf("(S,G) = (*, %s)", j.Group)
}

// printEvent writes one line per event in omping's style.
func printEvent(w io.Writer, ev ping.Event, width int, quiet bool) {
	name := ev.Peer
	if name == "" {
		name = ev.Addr.Addr().String()
	}
	switch ev.Kind {
	case ping.EvAnswer:
		if quiet {
			return
		}
		kind := "uni"
		if ev.Multicast {
			kind = "multi"
		}
		fmt.Fprintf(w, "%-*s : %5scast, seq=%d", width, name, kind, ev.Seq)
		if ev.Dup {
			fmt.Fprint(w, " (dup)")
		}
		fmt.Fprintf(w, ", size=%d bytes", ev.Size)
		if ev.Dist >= 0 {
			fmt.Fprintf(w, ", dist=%d", ev.Dist)
		}
		fmt.Fprintf(w, ", time=%.3fms\n", float64(ev.RTT)/float64(time.Millisecond))
	case ping.EvSSMServed:
		if !quiet {
			fmt.Fprintln(w, ev.Text)
		}
	case ping.EvHint:
		fmt.Fprintf(w, "hint: %s\n", ev.Text)
	default:
		fmt.Fprintf(w, "%-*s : %s\n", width, name, ev.Text)
	}
}

func anyAddr(v6 bool) netip.Addr {
	if v6 {
		return netip.IPv6Unspecified()
	}
	return netip.IPv4Unspecified()
}
