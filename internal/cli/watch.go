package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/addrarg"
	"github.com/mcasttools/mcast/internal/contract"
	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/progress"
	htmlreport "github.com/mcasttools/mcast/internal/report"
	"github.com/mcasttools/mcast/internal/watch"
	"github.com/mcasttools/mcast/internal/wire/pcap"
	"github.com/spf13/cobra"
)

func newWatchCmd(env *Env) *cobra.Command {
	c := newCommand("watch [flags]", "watch IGMP and MLD joins, leaves and queries and multicast data, and warn about the segment",
		`Capture IGMP and MLD (joins, leaves, queries) and multicast data on one or all interfaces, print each event,
warn about what breaks multicast on the segment (no querier, version mismatch), and summarise the groups and
their senders. --write saves the capture as pcap (--write - writes it to standard output); --read decodes a
saved capture instead.`,
		`  mcast watch -I eth0 -T 3s
  mcast watch -T 2s -w - | tcpdump -n -r -
  mcast watch -j -T 2s --group 239.1.1.1`)
	fs := c.Flags()
	ifName := fs.StringP("iface", "I", "", "interface to capture on (default: all interfaces)")
	groupText := fs.String("group", "", "show only events for this group (queries and warnings are always shown)")
	writePath := fs.StringP("write", "w", "", "also save the captured packets to this pcap file (tcpdump -r and Wireshark open it)")
	readPath := fs.StringP("read", "r", "", "decode a saved pcap or pcapng file instead of capturing")
	asJSON := fs.BoolP("json", "j", false, "print one JSON object per event (fields in docs/watch.md)")
	qi := fs.Duration("query-interval", watch.DefaultQueryInterval, "warn when no query was seen for this long")
	report := fs.DurationP("report-interval", "i", watch.DefaultReportInterval, "print each group's data rate and senders this often while datagrams flow (0: only the summary at the end)")
	timeout := fs.DurationP("timeout", "T", 0, "stop after this long (0: until interrupted)")
	reportPath := fs.String("report", "", "also write an HTML report to FILE.html: a timeline of joins, leaves and queries, data rates (docs/reports.md)")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		if fs.NArg() > 0 {
			return usagef("unexpected argument %q (a group goes in --group)", fs.Arg(0))
		}
		cfg := watch.Config{QueryInterval: *qi, ReportInterval: *report}
		switch {
		case *qi <= 0:
			return usagef("invalid --query-interval %s: must be positive", *qi)
		case *report < 0:
			return usagef("invalid --report-interval %s: must not be negative", *report)
		case *timeout < 0:
			return usagef("invalid --timeout %s: must not be negative", *timeout)
		case *readPath != "" && *writePath != "":
			return usagef("--read and --write do not go together")
		}
		if *groupText != "" {
			g, err := addrarg.ParseGroup(*groupText)
			if err != nil {
				return UsageError{err}
			}
			cfg.Group = g
		}
		var (
			src  watch.Source
			live bool
			name = *ifName
		)
		if *readPath != "" {
			f, err := os.Open(*readPath)
			if err != nil {
				return fmt.Errorf("reading capture: %w", err)
			}
			defer f.Close()
			fsrc, err := watch.NewFileSource(bufio.NewReader(f), *ifName)
			if err != nil {
				return fmt.Errorf("reading %s: %w", *readPath, err)
			}
			src = fsrc
		} else {
			if name != "" {
				ifs, err := iface.List()
				if err != nil {
					return err
				}
				ifc, err := iface.Resolve(ifs, name, iface.NeedAny)
				if err != nil {
					return classifyIfaceErr(err)
				}
				name = ifc.Name
			}
			c, err := watch.OpenCapture(name)
			if err != nil {
				return err
			}
			defer c.Close()
			src, live = c, true
		}
		opts := watch.Options{Live: live, TickEvery: time.Second, Joined: hostJoined}
		// --write - puts the capture on standard output (for tcpdump -r -
		// or wireshark -k -i -); the events then go to standard error.
		events := env.Stdout
		if *writePath != "" {
			var f io.Writer = env.Stdout
			if *writePath == "-" {
				events = env.Stderr
			} else {
				file, err := os.Create(*writePath)
				if err != nil {
					return fmt.Errorf("writing capture: %w", err)
				}
				// Unbuffered, so the file is complete up to the last packet
				// even if watch is killed.
				defer file.Close()
				f = file
			}
			w, err := pcap.NewWriter(f, src.LinkType(), 65535+16)
			if err != nil {
				return err
			}
			opts.Write = w
		}
		st := watch.NewState(cfg)
		out := bufio.NewWriter(events)
		defer out.Flush()
		enc := json.NewEncoder(out)
		// With --report, every event also goes to the report, as JSON.
		var coll *htmlreport.Collector
		var collEnc *json.Encoder
		if *reportPath != "" {
			coll = htmlreport.New()
			collEnc = json.NewEncoder(coll)
		}
		// On a terminal, a status line under the events: the data rate now and
		// what was seen so far.
		status := progress.NewLine(out)
		if live && !*asJSON && isTerminal(events) {
			var meter progress.Meter
			start := time.Now()
			opts.StatusEvery = progress.Tick
			opts.Status = func(now time.Time, st *watch.State) {
				groups, packets, nbytes := st.DataTotals()
				meter.Observe(now, packets, nbytes)
				pps, bps := meter.Rate(now)
				status.Draw(fmt.Sprintf("%s  groups %d", progress.Format(now.Sub(start), pps, bps, "datagrams", packets), groups))
				out.Flush()
			}
		}
		opts.Emit = func(e watch.Event) {
			rec := e
			rec.Schema, rec.Kind, rec.Time = contract.Version, "watch."+e.Kind, e.Time.UTC()
			if coll != nil {
				collEnc.Encode(rec)
			}
			if *asJSON {
				enc.Encode(rec)
			} else {
				status.Clear()
				iface := ""
				if e.Iface != "" {
					iface = e.Iface + " "
				}
				fmt.Fprintf(out, "%s %s%s\n", e.Time.Format("15:04:05.000"), iface, e.Text)
			}
			out.Flush()
		}
		if live {
			what := name
			if what == "" {
				what = "all interfaces"
			}
			rates := "data rates at the end"
			if *report > 0 {
				rates = "data rates every " + report.String()
			}
			msg := fmt.Sprintf("watching %s: IGMP, MLD and multicast UDP (query interval %s, %s); interrupt to stop", what, *qi, rates)
			start := watch.Event{Time: time.Now().UTC(), Schema: contract.Version, Iface: name, Kind: "watch." + watch.KindStart, Text: msg}
			if coll != nil {
				collEnc.Encode(start)
			}
			if *asJSON {
				enc.Encode(start)
			} else {
				fmt.Fprintln(out, msg)
			}
			out.Flush()
		}
		if *timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, *timeout)
			defer cancel()
		}
		err := watch.Run(ctx, src, st, opts)
		status.Clear()
		sum := writeWatchSummary(out, st, *asJSON, enc)
		if coll != nil {
			collEnc.Encode(sum)
			what := "mcast watch"
			if *readPath != "" {
				what += " --read " + *readPath
			}
			if werr := coll.WriteFile(*reportPath, what); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil && *readPath != "" {
			return fmt.Errorf("reading %s: %w", *readPath, err)
		}
		return err
	}
	return c
}

// hostJoined reads the groups sockets on this host joined, per interface.
func hostJoined() (map[string]map[netip.Addr]bool, error) {
	ifs, err := hostfs.Host().Groups()
	if err != nil {
		return nil, err
	}
	out := map[string]map[netip.Addr]bool{}
	for _, i := range ifs {
		m := map[netip.Addr]bool{}
		for _, g := range append(i.IPv4, i.IPv6...) {
			m[g.Group] = true
		}
		out[i.Name] = m
	}
	return out, nil
}

// watchSummary is the last JSON object of `mcast watch --json`.
type watchSummary struct {
	contract.Header                  // type "watch.summary"
	Groups          []watchGroupStat `json:"groups"`
	Dropped         map[string]int   `json:"dropped"`
	// CaptureDropped is the live capture's own drop count (the kernel's
	// PACKET_STATISTICS): packets watch never saw.
	CaptureDropped uint64 `json:"capture_dropped,omitempty"`
}

type watchGroupStat struct {
	Iface   string        `json:"iface,omitempty"`
	Group   string        `json:"group"`
	Packets int           `json:"packets"`
	Bytes   int           `json:"bytes"`
	Rate    float64       `json:"rate_pps"`
	Sources []string      `json:"sources"` // the senders' addresses
	Senders []watchSender `json:"senders"`
}

type watchSender struct {
	Source     string `json:"source"`
	SourcePort uint16 `json:"source_port"`
	Packets    int    `json:"packets"`
	addr       string // ip:port, as text lines show it
}

func writeWatchSummary(out *bufio.Writer, st *watch.State, asJSON bool, enc *json.Encoder) watchSummary {
	defer out.Flush()
	sum := watchSummary{Header: contract.Stamp("watch.summary", time.Now()), Groups: []watchGroupStat{}, Dropped: st.Drops(), CaptureDropped: st.CaptureDropped()}
	for _, g := range st.Groups() {
		srcs := []string{}
		senders := []watchSender{}
		seen := map[netip.Addr]bool{}
		for s, n := range g.Sources {
			if !seen[s.Addr()] {
				seen[s.Addr()] = true
				srcs = append(srcs, s.Addr().String())
			}
			senders = append(senders, watchSender{Source: s.Addr().String(), SourcePort: s.Port(), Packets: n, addr: s.String()})
		}
		sort.Strings(srcs)
		sort.Slice(senders, func(i, j int) bool {
			if senders[i].Packets != senders[j].Packets {
				return senders[i].Packets > senders[j].Packets
			}
			return senders[i].addr < senders[j].addr
		})
		sum.Groups = append(sum.Groups, watchGroupStat{Iface: g.Iface, Group: g.Group.String(), Packets: g.Packets, Bytes: g.Bytes, Rate: g.Rate(), Sources: srcs, Senders: senders})
	}
	if asJSON {
		enc.Encode(sum)
		return sum
	}
	for _, g := range sum.Groups {
		where := ""
		if g.Iface != "" {
			where = " on " + g.Iface
		}
		var from []string
		for _, s := range g.Senders {
			from = append(from, fmt.Sprintf("%s (%d)", s.addr, s.Packets))
		}
		fmt.Fprintf(out, "total %s%s: %d datagrams, %d payload bytes, %.1f datagrams/s from %s\n", g.Group, where, g.Packets, g.Bytes, g.Rate, strings.Join(from, ", "))
	}
	if len(sum.Dropped) > 0 {
		var parts []string
		total := 0
		for k, v := range sum.Dropped {
			parts = append(parts, fmt.Sprintf("%d %s", v, k))
			total += v
		}
		sort.Strings(parts)
		fmt.Fprintf(out, "dropped %d invalid packets: %s\n", total, strings.Join(parts, ", "))
	}
	if sum.CaptureDropped > 0 {
		fmt.Fprintf(out, "the capture dropped %d packets the kernel could not queue for watch: the totals above miss them\n", sum.CaptureDropped)
	}
	return sum
}
