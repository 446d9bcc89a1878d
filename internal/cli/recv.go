package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mcasttools/mcast/internal/addrarg"
	"github.com/mcasttools/mcast/internal/contract"
	"github.com/mcasttools/mcast/internal/firewall"
	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/origin"
	"github.com/mcasttools/mcast/internal/progress"
	htmlreport "github.com/mcasttools/mcast/internal/report"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stream"
	"github.com/spf13/cobra"
)

func newRecvCmd(env *Env) *cobra.Command {
	c := newCommand("recv [flags] GROUP[:PORT] ...", "receive from a group on one or more interfaces, and say which path each datagram took",
		`Join one or more groups (or, with --broadcast, listen for broadcasts) and report each datagram, loss,
duplicates, reordering and latency per sender. GROUP defaults to MULTICAST_ADDR and PORT to MULTICAST_PORT,
else 28000; GROUP may be a list a,b or a range 239.1.1.1+99. Exit status 1 when --expect or --max-loss is not met.`,
		`  mcast recv -I eth0 -c 3 239.1.1.1
  mcast recv -q -c 20 -j 239.1.1.1:5000
  mcast recv -c 5 --expect 5 239.1.1.1`)
	fs := c.Flags()
	ifTexts := fs.StringArrayP("iface", "I", nil, "interface to listen on, a name or one of its addresses; repeat for several (default: every interface that is up)")
	portText := fs.StringP("port", "p", "", "UDP port (default: MULTICAST_PORT, else 28000)")
	count := fs.IntP("count", "c", 0, "exit after this many datagrams (0: no limit)")
	timeout := fs.DurationP("timeout", "T", 0, "exit when nothing arrived for this long (0: never)")
	sources := fs.StringArray("source", nil, "SSM include mode: receive only from this source (repeat or comma-separate)")
	excludes := fs.StringArray("exclude-source", nil, "exclude mode: receive from every source but this one (repeat or comma-separate)")
	broadcast := fs.Bool("broadcast", false, "receive IPv4 broadcast datagrams on the port instead of joining a group")
	reportEvery := fs.DurationP("report-interval", "i", 0, "print a report every D (0: only at exit and on SIGUSR1)")
	jsonOut := fs.BoolP("json", "j", false, "print NDJSON: one object per report and the summary (see docs/measure.md)")
	jsonEvents := fs.Bool("json-events", false, "with --json, also one object per datagram")
	expect := fs.Int("expect", 0, "exit 1 unless at least N datagrams with the mcast header arrived")
	maxLoss := fs.Float64("max-loss", -1, "exit 1 when the loss exceeds PCT percent")
	quiet := fs.BoolP("quiet", "q", false, "no line per datagram (the summary still prints)")
	rcvbuf := fs.Int("rcvbuf", 8<<20, "receive buffer in bytes (SO_RCVBUFFORCE as root; 0: the system's default)")
	reportPath := fs.String("report", "", "also write an HTML report of the run to FILE.html (rate over time, loss, latency histogram, paths; docs/reports.md)")
	histogram := fs.Bool("histogram", false, "end the summary with each flow's latency histogram as a text bar chart")
	gro := fs.Bool("gro", true, "ask for UDP_GRO: the kernel hands over a sender's UDP_SEGMENT batch (or what the NIC coalesced) as one, recv splits it again; --gro=false turns it off")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		targets, err := recvTargets(env, fs, *portText, *broadcast)
		if err != nil {
			return err
		}
		incl, err := addrarg.ParseAddrList(*sources)
		if err != nil {
			return UsageError{err}
		}
		excl, err := addrarg.ParseAddrList(*excludes)
		if err != nil {
			return UsageError{err}
		}
		is6 := targets[0].Group.Is6()
		switch {
		case *count < 0:
			return usagef("invalid --count %d: must be 0 or more", *count)
		case *timeout < 0:
			return usagef("invalid --timeout %s: must not be negative", *timeout)
		case *reportEvery < 0:
			return usagef("invalid --report-interval %s: must not be negative", *reportEvery)
		case *rcvbuf < 0:
			return usagef("invalid --rcvbuf %d: must be 0 (the system's default) or more bytes", *rcvbuf)
		case *expect < 0:
			return usagef("invalid --expect %d: must be 0 or more", *expect)
		case fs.Changed("max-loss") && (*maxLoss < 0 || *maxLoss > 100):
			return usagef("invalid --max-loss %v: must be a percentage 0..100", *maxLoss)
		case len(incl) > 0 && len(excl) > 0:
			return usagef("--source and --exclude-source: a group is joined in include or in exclude mode, not both")
		case *broadcast && len(incl)+len(excl) > 0:
			return usagef("--source and --exclude-source apply to multicast groups, not --broadcast")
		case *jsonEvents && !*jsonOut:
			return usagef("--json-events needs --json")
		}
		for _, s := range append(append([]netip.Addr(nil), incl...), excl...) {
			if s.Is6() != is6 {
				return usagef("source %s and group %s: IPv4 and IPv6 cannot be mixed in one flow", s, targets[0].Group)
			}
		}
		all, err := iface.List()
		if err != nil {
			return err
		}
		texts := *ifTexts
		if z := targets[0].Group.Zone(); z != "" && len(texts) == 0 {
			texts = []string{z}
		}
		ifcs, err := pickIfaces(all, texts, is6)
		if err != nil {
			return err
		}
		var groups []netip.Addr
		for _, t := range targets {
			if !*broadcast {
				groups = append(groups, t.Group.WithZone(""))
			}
		}

		out := bufio.NewWriterSize(env.Stdout, 64<<10)
		defer out.Flush()
		enc := json.NewEncoder(out)
		// With --report, every record also goes to the report, as JSON.
		var coll *htmlreport.Collector
		var collEnc *json.Encoder
		if *reportPath != "" {
			coll = htmlreport.New()
			collEnc = json.NewEncoder(coll)
		}
		tty := !*jsonOut && isTerminal(env.Stdout)
		view := &recvView{out: out, enc: enc, jsonEvents: *jsonEvents}
		show := stream.ShowNone
		switch {
		case *jsonEvents:
			show = stream.ShowAll
		case !*quiet && !*jsonOut:
			show = stream.ShowLines
		}
		sess := stream.NewSession(stream.SessionConfig{
			Listen: sock.ListenConfig{Port: targets[0].Port, Include: incl, Exclude: excl, Broadcast: *broadcast, RcvBuf: *rcvbuf, GRO: *gro},
			Groups: groups, All: all, FS: hostfs.Host(), Count: *count, Show: show, Display: view})
		defer sess.Close()

		var names []string
		for _, ifc := range ifcs {
			if err := sess.Listen(ctx, ifc); err != nil {
				return err
			}
			names = append(names, ifc.Name)
			if !*jsonOut {
				fmt.Fprintf(out, "use interface: %s\n", ifc.Name)
			}
		}
		start := time.Now()
		sess.Begin(start)
		if *jsonOut || coll != nil {
			gs := []string{}
			for _, g := range groups {
				gs = append(gs, g.String())
			}
			rec := recvStart{Header: contract.Stamp("recv.start", start), Interfaces: names, Groups: gs, Port: targets[0].Port,
				Sources: addrStrings(incl), ExcludeSources: addrStrings(excl), Broadcast: *broadcast}
			if *jsonOut {
				enc.Encode(rec)
			}
			if coll != nil {
				collEnc.Encode(rec)
			}
		}
		out.Flush()

		rcv := sess.Receiver()
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		defer signal.Stop(usr1)
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			done <- sess.Run(rctx, stream.RecvConfig{Timeout: *timeout})
		}()
		report := func(typ string) {
			rep := rcv.Snapshot(typ, time.Now())
			rep.KernelDrops, rep.Notes = sess.ReadDrops(), sess.Notes()
			if typ == "summary" {
				rep.Paths = stream.PathReports(sess.NICs())
			}
			if coll != nil {
				collEnc.Encode(rep)
			}
			if typ == "sample" {
				return
			}
			view.clearStatus()
			if *jsonOut {
				enc.Encode(rep)
			} else {
				rep.WriteText(out)
				if typ == "summary" && *histogram {
					writeHistograms(out, rep)
				}
			}
		}
		flush := time.NewTicker(100 * time.Millisecond)
		defer flush.Stop()
		var periodic <-chan time.Time
		if *reportEvery > 0 {
			t := time.NewTicker(*reportEvery)
			defer t.Stop()
			periodic = t.C
		}
		// Watch the interfaces: one that goes down or is deleted loses what
		// follows, and once all are deleted nothing more can arrive.
		links := time.NewTicker(500 * time.Millisecond)
		defer links.Stop()
		checkLinks := func() bool {
			now := time.Now()
			list, err := iface.List()
			if err != nil {
				return false
			}
			sess.Lock()
			defer sess.Unlock()
			return sess.CheckLinks(list, now)
		}
		// The report draws the rate over time from a snapshot a second,
		// unless --report-interval gives the records.
		var sample <-chan time.Time
		if coll != nil && *reportEvery == 0 {
			t := time.NewTicker(time.Second)
			defer t.Stop()
			sample = t.C
		}
		var status <-chan time.Time
		if tty {
			t := time.NewTicker(progress.Tick)
			defer t.Stop()
			status = t.C
		}
		var meter progress.Meter
		for {
			select {
			case err = <-done:
			case <-links.C:
				if checkLinks() {
					cancel()
				}
				continue
			case <-flush.C:
				sess.Lock()
				out.Flush()
				sess.Unlock()
				continue
			case <-periodic:
				sess.Lock()
				report("report")
				out.Flush()
				sess.Unlock()
				continue
			case <-sample:
				sess.Lock()
				report("sample")
				sess.Unlock()
				continue
			case <-usr1:
				sess.Lock()
				report("report")
				out.Flush()
				sess.Unlock()
				continue
			case <-status:
				sess.Lock()
				now := time.Now()
				meter.Observe(now, rcv.Totals().Received, 0)
				pps, _ := meter.Rate(now)
				fmt.Fprint(out, "\r\x1b[K"+rcv.StatusLine(now, pps))
				view.statusShown = true
				out.Flush()
				sess.Unlock()
				continue
			}
			break
		}
		cancel()
		checkLinks()
		sess.Lock()
		defer sess.Unlock()
		sess.ReadDrops()
		view.clearStatus()
		if hidden := sess.Hidden(); hidden > 0 && !*jsonOut {
			fmt.Fprintf(out, "(%d datagram lines not shown: more than %d a second; every datagram is counted below)\n", hidden, stream.LineRate)
		}
		if !*jsonOut {
			stream.ExplainFirewall(sess.NICs(), groups, targets[0].Port, liveFirewall)
			stream.WriteSummary(out, sess.NICs())
		}
		report("summary")
		out.Flush()
		if err != nil {
			return err
		}
		if coll != nil {
			if err := coll.WriteFile(*reportPath, "mcast recv "+strings.Join(fs.Args(), " ")); err != nil {
				return err
			}
		}
		return verdict(rcv.Totals(), *expect, *maxLoss, fs.Changed("max-loss"))
	}
	return c
}

// liveFirewall reads and parses this host's firewall rules, giving the
// tools a few seconds at most.
func liveFirewall() ([]firewall.Chain, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rs, err := firewall.Live(ctx)
	if err != nil {
		return nil, err
	}
	return firewall.Parse(rs)
}

// writeHistograms draws each flow's latency histogram as text.
func writeHistograms(w io.Writer, rep stream.Report) {
	for _, f := range rep.Flows {
		bins := make([]htmlreport.Bin, len(f.Histogram))
		for i, b := range f.Histogram {
			bins[i] = htmlreport.Bin{LoMs: b.LoMs, HiMs: b.HiMs, Count: b.Count}
		}
		title := fmt.Sprintf("%s from %s:%d on %s", f.Group, f.Source, f.SourcePort, f.Iface)
		htmlreport.WriteHistogramText(w, title, bins, f.LatencyMs.P50, f.LatencyMs.P99, 16)
	}
}

// recvView renders what a receive shows: a line per datagram, or with
// --json-events an object per datagram. A datagram line replaces the
// terminal's status line.
type recvView struct {
	out         *bufio.Writer
	enc         *json.Encoder
	jsonEvents  bool
	statusShown bool
}

// Datagram renders one datagram (nic is nil for an end marker).
func (v *recvView) Datagram(ev *stream.Event, nic *stream.NIC, path origin.Path) {
	if v.jsonEvents {
		p := ""
		if nic != nil {
			p = path.String()
		}
		v.enc.Encode(datagramEvent(*ev, p))
		return
	}
	v.clearStatus()
	fmt.Fprintf(v.out, "received: %s from %s on %s [%s]%s\n", showText(*ev), ev.Src, nic.Name, path, kindNote(*ev))
}

func (v *recvView) clearStatus() {
	if v.statusShown {
		fmt.Fprint(v.out, "\r\x1b[K")
		v.statusShown = false
	}
}

// verdict applies --expect and --max-loss. A loss is unknown when a flow's
// end marker did not arrive (the sender's total is unknown) or nothing with
// the mcast header arrived: --max-loss does not pass on it.
func verdict(t stream.Totals, expect int, maxLoss float64, lossSet bool) error {
	lost := fmt.Sprintf("lost %d", t.Lost)
	if t.LossUnknown > 0 {
		lost = fmt.Sprintf("loss unknown: no end marker arrived from %d of %d flows; at least %d lost", t.LossUnknown, t.Flows, t.Lost)
	}
	if expect > 0 && t.Received < uint64(expect) {
		return ExitError{Code: 1, Err: fmt.Errorf("expected %d datagrams, received %d (%s, %d foreign)", expect, t.Received, lost, t.Foreign)}
	}
	if !lossSet {
		return nil
	}
	if t.Flows == 0 {
		return ExitError{Code: 1, Err: fmt.Errorf("loss unknown: nothing with the mcast header arrived (%d foreign), so --max-loss %v%% cannot pass", t.Foreign, maxLoss)}
	}
	if t.LossUnknown > 0 {
		return ExitError{Code: 1, Err: fmt.Errorf("%s (the senders' totals are unknown), so --max-loss %v%% cannot pass", lost, maxLoss)}
	}
	if t.LossPct > maxLoss {
		return ExitError{Code: 1, Err: fmt.Errorf("loss %.2f%% (%d of %d) is above --max-loss %v%%", t.LossPct, t.Lost, t.Expected, maxLoss)}
	}
	return nil
}

func addrStrings(as []netip.Addr) []string {
	out := []string{}
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// showText renders what a datagram carries for its log line.
func showText(ev stream.Event) string {
	switch ev.Kind {
	case stream.KindForeign:
		return stream.FormatPayload(ev.Payload)
	case stream.KindMalformed:
		return fmt.Sprintf("%s (%d bytes)", ev.Err, len(ev.Payload))
	}
	t := bytes.TrimRight(ev.Text, "\x00")
	if len(t) == 0 {
		return fmt.Sprintf("[seq %d, %d bytes]", ev.Header.Seq, len(ev.Payload))
	}
	return stream.FormatPayload(t)
}

func kindNote(ev stream.Event) string {
	switch ev.Kind {
	case stream.KindDuplicate:
		return " (duplicate)"
	case stream.KindReordered:
		return " (reordered)"
	case stream.KindTooLate:
		return " (too late to classify)"
	}
	return ""
}
