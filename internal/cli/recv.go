package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/mcasttools/mcast/internal/endpoint"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/origin"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stream"
	"github.com/mcasttools/mcast/internal/sys"
	"github.com/spf13/pflag"
)

// lineBurst and lineRate bound how many per-datagram lines recv prints: the
// first lineBurst at once, then lineRate a second; the rest are counted.
const (
	lineBurst = 1000
	lineRate  = 200
)

func runRecv(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("recv", "mcast recv [flags] GROUP[:PORT] ...   (GROUP defaults to MULTICAST_ADDR; lists a,b and ranges 239.1.1.1+99)")
	ifTexts := fs.StringArray("iface", nil, "interface to listen on, a name or one of its addresses; repeat for several (default: every interface that is up)")
	portText := fs.String("port", "", "UDP port (default: MULTICAST_PORT, else 28000)")
	count := fs.Int("count", 0, "exit after this many datagrams (0: no limit)")
	timeout := fs.Duration("timeout", 0, "exit when nothing arrived for this long (0: never)")
	sources := fs.StringArray("source", nil, "SSM include mode: receive only from this source (repeat or comma-separate)")
	excludes := fs.StringArray("exclude-source", nil, "exclude mode: receive from every source but this one (repeat or comma-separate)")
	broadcast := fs.Bool("broadcast", false, "receive IPv4 broadcast datagrams on the port instead of joining a group")
	reportEvery := fs.Duration("report-interval", 0, "print a report every D (0: only at exit and on SIGUSR1)")
	jsonOut := fs.Bool("json", false, "print NDJSON: one object per report and the summary (see docs/measure.md)")
	jsonEvents := fs.Bool("json-events", false, "with --json, also one object per datagram")
	expect := fs.Int("expect", 0, "exit 1 unless at least N datagrams with the mcast header arrived")
	maxLoss := fs.Float64("max-loss", -1, "exit 1 when the loss exceeds PCT percent")
	quiet := fs.Bool("quiet", false, "no line per datagram (the summary still prints)")
	rcvbuf := fs.Int("rcvbuf", 8<<20, "receive buffer in bytes (SO_RCVBUFFORCE as root)")
	gro := fs.Bool("gro", true, "ask for UDP_GRO: the kernel hands over a sender's UDP_SEGMENT batch (or what the NIC coalesced) as one, recv splits it again; --gro=false turns it off")
	if err := parse(fs, env, args); err != nil {
		return err
	}
	targets, err := recvTargets(env, fs, *portText, *broadcast)
	if err != nil {
		return err
	}
	incl, err := endpoint.ParseAddrList(*sources)
	if err != nil {
		return UsageError{err}
	}
	excl, err := endpoint.ParseAddrList(*excludes)
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
	// The kernel caps IPv4 memberships per socket (igmp_max_memberships,
	// 20 by default): spread the groups over sockets.
	chunk := len(groups)
	if !is6 && chunk > 20 {
		chunk = 20
		if v, err := sys.Host.SysctlInt("net.ipv4.igmp_max_memberships"); err == nil && v > 0 {
			chunk = v
		}
	}
	var chunks [][]netip.Addr
	for len(groups) > 0 {
		n := min(chunk, len(groups))
		chunks = append(chunks, groups[:n])
		groups = groups[n:]
	}
	if *broadcast {
		chunks = [][]netip.Addr{nil}
	}

	out := bufio.NewWriterSize(env.Stdout, 64<<10)
	defer out.Flush()
	enc := json.NewEncoder(out)
	tty := !*jsonOut && isTerminal(env.Stdout)

	nics := map[int]*stream.NIC{}
	var order []*stream.NIC
	var srcs []stream.Source
	var names []string
	for _, ifc := range ifcs {
		for _, gs := range chunks {
			l, err := sock.ListenConfig{Groups: gs, Port: targets[0].Port, IfIndex: ifc.Index, Include: incl, Exclude: excl,
				Broadcast: *broadcast, RcvBuf: *rcvbuf, GRO: *gro}.Listen(ctx)
			if err != nil {
				return err
			}
			defer l.Close()
			srcs = append(srcs, l)
		}
		n := describeNIC(ifc, all)
		nics[ifc.Index] = n
		order = append(order, n)
		names = append(names, ifc.Name)
		if !*jsonOut {
			fmt.Fprintf(out, "use interface: %s\n", ifc.Name)
		}
	}
	start := time.Now()
	if *jsonOut {
		gs := []string{}
		for _, c := range chunks {
			for _, g := range c {
				gs = append(gs, g.String())
			}
		}
		enc.Encode(map[string]any{"type": "start", "time": start, "interfaces": names, "groups": gs, "port": targets[0].Port,
			"sources": addrStrings(incl), "exclude_sources": addrStrings(excl), "broadcast": *broadcast})
	}
	out.Flush()

	var mu sync.Mutex
	rcv := stream.NewReceiver(start, func(i int) string { ifc, _ := ifaceByIndex(all, i); return ifc.Name })
	h := &recvHandler{rcv: rcv, all: all, nics: nics, order: order, out: out, enc: enc,
		count: *count, quiet: *quiet, jsonOut: *jsonOut, jsonEvents: *jsonEvents,
		tokens: lineBurst, lastRefill: start}
	handle := h.handle
	clearStatus := h.clearStatus
	hidden := &h.hidden

	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bufSize := 9216
	if *gro {
		bufSize = 65536 // a coalesced datagram carries up to 64 KiB
	}
	done := make(chan error, 1)
	go func() {
		done <- stream.Receive(rctx, srcs, stream.RecvConfig{Timeout: *timeout, BufSize: bufSize}, &mu, handle)
	}()
	report := func(typ string) {
		rep := rcv.Snapshot(typ, time.Now())
		clearStatus()
		if *jsonOut {
			enc.Encode(rep)
		} else {
			rep.WriteText(out)
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
	var status <-chan time.Time
	if tty {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		status = t.C
	}
	for {
		select {
		case err = <-done:
		case <-flush.C:
			mu.Lock()
			out.Flush()
			mu.Unlock()
			continue
		case <-periodic:
			mu.Lock()
			report("report")
			out.Flush()
			mu.Unlock()
			continue
		case <-usr1:
			mu.Lock()
			report("report")
			out.Flush()
			mu.Unlock()
			continue
		case <-status:
			mu.Lock()
			fmt.Fprint(out, "\r\x1b[K"+rcv.StatusLine(time.Now()))
			h.statusShown = true
			out.Flush()
			mu.Unlock()
			continue
		}
		break
	}
	cancel()
	mu.Lock()
	defer mu.Unlock()
	clearStatus()
	if *hidden > 0 && !*jsonOut {
		fmt.Fprintf(out, "(%d datagram lines not shown: more than %d a second; every datagram is counted below)\n", *hidden, lineRate)
	}
	if !*jsonOut {
		stream.WriteSummary(out, h.order)
	}
	report("summary")
	out.Flush()
	if err != nil {
		return err
	}
	return verdict(rcv.Totals(), *expect, *maxLoss, fs.Changed("max-loss"))
}

// recvHandler accounts and prints each batch of datagrams. Its handle is the
// receive hot path: with --quiet or --json (without --json-events) it
// formats nothing and allocates nothing per datagram once flows and
// sources are known.
type recvHandler struct {
	rcv   *stream.Receiver
	all   []iface.Interface
	nics  map[int]*stream.NIC
	order []*stream.NIC
	out   *bufio.Writer
	enc   *json.Encoder

	count                      int
	quiet, jsonOut, jsonEvents bool
	got, hidden                int
	tokens                     float64
	lastRefill                 time.Time
	statusShown                bool
	ev                         stream.Event
	lastIf                     int
	lastSrc                    netip.Addr
	lastNIC                    *stream.NIC
	lastPath                   origin.Path
	runNIC                     *stream.NIC // a run of datagrams of one source and path, counted at once
	runSrc                     netip.Addr
	runPath                    origin.Path
	runN                       int
}

func (h *recvHandler) clearStatus() {
	if h.statusShown {
		fmt.Fprint(h.out, "\r\x1b[K")
		h.statusShown = false
	}
}

// flushRun counts the pending run of datagrams into its NIC.
func (h *recvHandler) flushRun() {
	if h.runN > 0 {
		h.runNIC.CountN(h.runSrc, h.runPath, h.runN)
		h.runN = 0
	}
}

// handle accounts a batch; it returns true once --count is reached.
func (h *recvHandler) handle(ds []sock.Datagram) bool {
	defer h.flushRun()
	printing := !h.quiet && !h.jsonOut
	if printing {
		now := time.Now()
		h.tokens = min(lineBurst, h.tokens+now.Sub(h.lastRefill).Seconds()*lineRate)
		h.lastRefill = now
	}
	ev := &h.ev
	for i := range ds {
		d := &ds[i]
		h.rcv.AddTo(ev, d)
		if ev.Kind == stream.KindEnd {
			if h.jsonEvents {
				h.enc.Encode(datagramEvent(*ev, ""))
			}
			continue
		}
		if src := d.Src.Addr(); d.IfIndex != h.lastIf || src != h.lastSrc || h.lastNIC == nil {
			n, ok := h.nics[d.IfIndex]
			arrived, _ := ifaceByIndex(h.all, d.IfIndex)
			if !ok {
				n = describeNIC(arrived, h.all)
				h.nics[d.IfIndex] = n
				h.order = append(h.order, n)
			}
			h.lastIf, h.lastSrc, h.lastNIC = d.IfIndex, src, n
			h.lastPath = origin.Classify(src, arrived, h.all, n.AcceptsOwn)
		}
		n, path := h.lastNIC, h.lastPath
		if h.runN > 0 && (h.runNIC != n || h.runSrc != h.lastSrc || h.runPath != path) {
			h.flushRun()
		}
		h.runNIC, h.runSrc, h.runPath = n, h.lastSrc, path
		h.runN++
		h.got++
		switch {
		case h.jsonEvents:
			h.enc.Encode(datagramEvent(*ev, path.String()))
		case !printing:
		case h.tokens >= 1:
			h.tokens--
			h.clearStatus()
			fmt.Fprintf(h.out, "received: %s from %s on %s [%s]%s\n", showText(*ev), d.Src, n.Name, path, kindNote(*ev))
		default:
			h.hidden++
		}
		if h.count > 0 && h.got >= h.count {
			return true
		}
	}
	return false
}

// verdict applies --expect and --max-loss.
func verdict(t stream.Totals, expect int, maxLoss float64, lossSet bool) error {
	if expect > 0 && t.Received < uint64(expect) {
		return ExitError{Code: 1, Err: fmt.Errorf("expected %d datagrams, received %d (lost %d, %d foreign)", expect, t.Received, t.Lost, t.Foreign)}
	}
	if lossSet && t.LossPct > maxLoss {
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

// datagramEvent is the --json-events object for one datagram.
func datagramEvent(ev stream.Event, path string) map[string]any {
	m := map[string]any{"type": "datagram", "time": ev.At, "iface": "", "group": ev.Dst.String(), "source": ev.Src.Addr().String(),
		"source_port": ev.Src.Port(), "bytes": len(ev.Payload), "ttl": ev.TTL, "kind": string(ev.Kind)}
	if path != "" {
		m["path"] = path
	}
	if ev.Flow != nil {
		m["iface"] = ev.Flow.Iface
		m["seq"] = ev.Header.Seq
		m["sender_id"] = fmt.Sprintf("%08x", ev.Header.SenderID)
		m["latency_ms"] = float64(ev.At.UnixNano()-ev.Header.SentNs) / 1e6
	}
	if ev.Kind != stream.KindEnd {
		m["text"] = showText(ev)
	}
	return m
}

// recvTargets reads the groups (or, with --broadcast, an optional
// [ADDRESS][:PORT] whose port is used).
func recvTargets(env *Env, fs *pflag.FlagSet, portFlag string, broadcast bool) ([]endpoint.Target, error) {
	port, err := portFrom(env, portFlag)
	if err != nil {
		return nil, err
	}
	if broadcast {
		if fs.NArg() > 1 {
			return nil, usagef("--broadcast takes at most one [ADDRESS][:PORT]")
		}
		if fs.NArg() == 1 {
			host, p := endpoint.SplitHostPort(fs.Arg(0))
			if a, err := netip.ParseAddr(host); host != "" && (err != nil || !a.Is4()) {
				return nil, usagef("invalid broadcast address %q: want an IPv4 address", fs.Arg(0))
			}
			if p != "" {
				if port, err = endpoint.ParsePort(p); err != nil {
					return nil, UsageError{err}
				}
			}
		}
		return []endpoint.Target{{Group: netip.IPv4Unspecified(), Port: port}}, nil
	}
	ts, err := endpoint.ParseTargets(fs.Args(), env.Getenv("MULTICAST_ADDR"), port)
	if err != nil {
		return nil, UsageError{err}
	}
	return ts, nil
}

// pickIfaces resolves the --iface values, or picks every interface that is
// up, multicast-capable and has an address of the family when none was given.
func pickIfaces(all []iface.Interface, texts []string, is6 bool) ([]iface.Interface, error) {
	need := iface.NeedIPv4
	if is6 {
		need = iface.NeedAny
	}
	var out []iface.Interface
	seen := map[int]bool{}
	for _, t := range texts {
		ifc, err := iface.Resolve(all, t, need)
		if err != nil {
			return nil, classifyIfaceErr(err)
		}
		if !seen[ifc.Index] {
			seen[ifc.Index] = true
			out = append(out, ifc)
		}
	}
	if len(texts) > 0 {
		return out, nil
	}
	for _, ifc := range all {
		if !ifc.Up || !ifc.Multicast || ifc.Name == "lo" {
			continue
		}
		if _, ok := ifc.IPv4(); ok && !is6 {
			out = append(out, ifc)
		} else if is6 && hasIPv6(ifc) {
			out = append(out, ifc)
		}
	}
	if len(out) == 0 {
		fam := "IPv4"
		if is6 {
			fam = "IPv6"
		}
		return nil, fmt.Errorf("no interface is up with multicast and %s; name one with --iface", fam)
	}
	return out, nil
}

func hasIPv6(ifc iface.Interface) bool {
	for _, p := range ifc.Addrs {
		if p.Addr().Is6() {
			return true
		}
	}
	return false
}

func ifaceByIndex(all []iface.Interface, index int) (iface.Interface, bool) {
	for _, i := range all {
		if i.Index == index {
			return i, true
		}
	}
	return iface.Interface{Name: fmt.Sprintf("if%d", index), Index: index}, false
}

// describeNIC gathers what the summary needs to explain a silent interface:
// whether it accepts wire copies from this host's own addresses, and which
// other interfaces of this host share its subnet.
func describeNIC(ifc iface.Interface, all []iface.Interface) *stream.NIC {
	n := &stream.NIC{Name: ifc.Name, AcceptsOwn: true}
	for _, p := range ifc.Addrs {
		n.Addrs = append(n.Addrs, p.Addr())
	}
	if pf, err := sys.Host.ReadPathFilter(ifc.Name); err == nil {
		n.AcceptsOwn, n.RejectWhy, n.RejectFix = pf.AcceptsOwnSource(ifc.Name)
	}
	for _, other := range all {
		if other.Index == ifc.Index {
			continue
		}
		if shareSubnet(ifc.Addrs, other.Addrs) {
			n.LocalPeers = append(n.LocalPeers, other.Name)
		}
	}
	return n
}

func shareSubnet(a, b []netip.Prefix) bool {
	for _, p := range a {
		for _, q := range b {
			if p.Addr().Is4() && q.Addr().Is4() && p.Masked() == q.Masked() {
				return true
			}
		}
	}
	return false
}
