package ping

import (
	"fmt"
	"io"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/contract"
	"github.com/mcasttools/mcast/internal/wire/pingmsg"
)

// CastReport is what one host measured toward one peer by one kind of cast.
// Field names are stable: they are the --json output.
type CastReport struct {
	Sent             uint64  `json:"sent"`
	Received         uint64  `json:"received"`
	Duplicates       uint64  `json:"duplicates"`
	LossPct          float64 `json:"loss_pct"`
	FirstSeq         uint32  `json:"first_seq"`
	LossFromFirstPct float64 `json:"loss_from_first_pct"`
	RTTMs            RTTMs   `json:"rtt_ms"`
	Hops             int     `json:"hops"` // -1 when unknown
}

// RTTMs summarises round-trip times in milliseconds (as recv's latency_ms
// does one-way latency).
type RTTMs struct {
	Min    float64 `json:"min"`
	Avg    float64 `json:"avg"`
	Max    float64 `json:"max"`
	StdDev float64 `json:"stddev"`
}

// PeerReport is this host's result toward one peer.
type PeerReport struct {
	Name       string     `json:"name"`
	Addr       string     `json:"address"`
	State      string     `json:"state"` // "pinging", "done", "no response", "stopped: ..."
	Responded  bool       `json:"responded"`
	ServerInfo string     `json:"server_info,omitempty"`
	Unicast    CastReport `json:"unicast"`
	Multicast  CastReport `json:"multicast"` // broadcast answers in broadcast mode
}

// Cell is one entry of the matrix: what host From heard from host To.
type Cell struct {
	From             string  `json:"from"`
	To               string  `json:"to"`
	Known            bool    `json:"known"`  // false: From never reported
	Source           string  `json:"origin"` // "measured" (this host) or "reported" (by From)
	Sent             uint32  `json:"sent"`
	UnicastLossPct   float64 `json:"unicast_loss_pct"`
	MulticastLossPct float64 `json:"multicast_loss_pct"` // counted from the first multicast answer
}

// Report is the outcome of a run. Its field names are the --json output.
type Report struct {
	contract.Header              // type "ping"; the caller stamps it
	Local           string       `json:"local"`
	Group           string       `json:"group"`
	Port            uint16       `json:"port"`
	Mode            string       `json:"mode"`
	Protocol        string       `json:"protocol"` // omping or ssmping
	Peers           []PeerReport `json:"peers"`
	Hosts           []string     `json:"hosts"` // the matrix's rows and columns
	Matrix          []Cell       `json:"matrix"`
	Drops           Drops        `json:"drops"`
	SSMServed       uint64       `json:"ssmping_served"`
	// SendErrors counts datagrams the kernel refused to send (a firewall, no route).
	SendErrors    uint64   `json:"send_errors"`
	LastSendError string   `json:"last_send_error,omitempty"`
	MaxLoss       *float64 `json:"max_loss_pct,omitempty"`
	Exceeded      []string `json:"exceeded,omitempty"` // cells over --max-loss
	// RTTs are the answers' round-trip times in arrival order, for a
	// picture of RTT over time (set by the caller that saw the events).
	RTTs []RTTSample `json:"rtt_samples,omitempty"`
}

// RTTSample is one answer's round-trip time.
type RTTSample struct {
	Peer  string  `json:"peer"`
	Cast  string  `json:"cast"` // unicast or multicast (broadcast answers count as multicast)
	Seq   uint32  `json:"seq"`
	AtS   float64 `json:"at_seconds"` // seconds since the run began
	RTTMs float64 `json:"rtt_ms"`
}

// Sample turns an answer event that arrived at elapsed since the run began
// into an RTTSample; ok is false for other events and duplicates.
func Sample(ev Event, elapsed time.Duration) (s RTTSample, ok bool) {
	if ev.Kind != EvAnswer || ev.Dup {
		return RTTSample{}, false
	}
	name := ev.Peer
	if name == "" {
		name = ev.Addr.Addr().String()
	}
	cast := "unicast"
	if ev.Multicast {
		cast = "multicast"
	}
	return RTTSample{Peer: name, Cast: cast, Seq: ev.Seq, AtS: round3(elapsed.Seconds()), RTTMs: round3(float64(ev.RTT) / 1e6)}, true
}

func castReport(c *Counter, sent uint64) CastReport {
	mn, avg, mx, sd := c.RTT()
	r := CastReport{Sent: sent, Received: c.Received, Duplicates: c.Duplicates, FirstSeq: c.FirstSeq,
		Hops: c.Dist, RTTMs: RTTMs{Min: round3(mn), Avg: round3(avg), Max: round3(mx), StdDev: round3(sd)}}
	r.LossPct = round3(LossPct(sent, c.Received))
	r.LossFromFirstPct = round3(LossFromFirstPct(sent, c.Received, c.FirstSeq))
	return r
}

func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

// Report gathers the per-peer results and the matrix as of now.
func (e *Engine) Report(now time.Time) Report {
	r := Report{Local: e.cfg.Local.String(), Group: e.cfg.Group.String(), Port: e.cfg.Port,
		Mode: e.cfg.Mode.String(), Protocol: "omping", Drops: e.drops, SSMServed: e.served}
	name := func(a netip.Addr) string { return a.String() }
	for i, p := range e.peers {
		if i == e.cfg.LocalIndex {
			r.Hosts = append(r.Hosts, name(e.cfg.Local))
		}
		r.Hosts = append(r.Hosts, name(p.Addr))
		pr := PeerReport{Name: p.Name, Addr: p.Addr.String(), Responded: p.responded, ServerInfo: p.serverInfo,
			Unicast: castReport(&p.counters[0], p.sent), Multicast: castReport(&p.counters[1], p.sent)}
		switch {
		case p.state == csStop && p.stopReason != "given amount of query messages was sent":
			pr.State = "stopped: " + p.stopReason
		case !p.responded:
			pr.State = "no response"
		case p.state == csStop:
			pr.State = "done"
		default:
			pr.State = "pinging"
		}
		r.Peers = append(r.Peers, pr)
	}
	if e.cfg.LocalIndex >= len(e.peers) && e.cfg.Local.IsValid() {
		r.Hosts = append(r.Hosts, name(e.cfg.Local))
	}
	// Rows: this host from its own counters, the others from their views.
	for _, p := range e.peers {
		c := Cell{From: name(e.cfg.Local), To: name(p.Addr), Known: true, Source: "measured", Sent: uint32(p.sent)}
		c.UnicastLossPct, c.MulticastLossPct = 100, 100
		if p.sent > 0 {
			c.UnicastLossPct = round3(LossPct(p.sent, p.counters[0].Received))
			c.MulticastLossPct = round3(LossFromFirstPct(p.sent, p.counters[1].Received, p.counters[1].FirstSeq))
		}
		r.Matrix = append(r.Matrix, c)
	}
	for _, from := range e.peers {
		for _, to := range append([]Peer{{Addr: e.cfg.Local}}, peersOf(e.peers, from)...) {
			c := Cell{From: name(from.Addr), To: name(to.Addr), Source: "reported"}
			if v, ok := findView(from.view, to.Addr); ok {
				c.Known, c.Sent = true, v.Sent
				c.UnicastLossPct, c.MulticastLossPct = 100, 100
				if v.Sent > 0 {
					c.UnicastLossPct = round3(LossPct(uint64(v.Sent), uint64(v.UniRecv)))
					c.MulticastLossPct = round3(LossFromFirstPct(uint64(v.Sent), uint64(v.MultiRecv), v.MultiFirst))
				}
			}
			r.Matrix = append(r.Matrix, c)
		}
	}
	return r
}

func peersOf(all []*peer, except *peer) []Peer {
	var out []Peer
	for _, p := range all {
		if p != except {
			out = append(out, p.Peer)
		}
	}
	return out
}

func findView(v []pingmsg.ViewEntry, a netip.Addr) (pingmsg.ViewEntry, bool) {
	for _, e := range v {
		if e.Peer == a {
			return e, true
		}
	}
	return pingmsg.ViewEntry{}, false
}

// CheckMaxLoss records in r every known cell whose unicast or multicast
// loss is above pct, and reports whether there was one.
func (r *Report) CheckMaxLoss(pct float64) bool {
	r.MaxLoss = &pct
	r.Exceeded = nil
	for _, c := range r.Matrix {
		if !c.Known {
			continue
		}
		if c.UnicastLossPct > pct {
			r.Exceeded = append(r.Exceeded, fmt.Sprintf("%s hears %s by unicast with %.0f%% loss", c.From, c.To, c.UnicastLossPct))
		}
		if c.MulticastLossPct > pct {
			r.Exceeded = append(r.Exceeded, fmt.Sprintf("%s hears %s by %s with %.0f%% loss", c.From, c.To, castWord(r.Mode), c.MulticastLossPct))
		}
	}
	return len(r.Exceeded) > 0
}

func castWord(mode string) string {
	if mode == "broadcast" {
		return "broadcast"
	}
	return "multicast"
}

// WriteSummary writes omping's final statistics, one line per peer and cast:
//
//	10.0.0.2 :   unicast, xmt/rcv/%loss = 10/10/0%, min/avg/max/std-dev = 0.021/0.040/0.070/0.015
func (r *Report) WriteSummary(w io.Writer) {
	width := 0
	for _, p := range r.Peers {
		width = max(width, len(p.Name))
	}
	fmt.Fprintln(w)
	for _, p := range r.Peers {
		if !p.Responded {
			fmt.Fprintf(w, "%-*s : response message never received\n", width, p.Name)
			continue
		}
		for i, c := range []CastReport{p.Unicast, p.Multicast} {
			kind := "uni"
			if i == 1 {
				kind = strings.TrimSuffix(castWord(r.Mode), "cast")
			}
			fmt.Fprintf(w, "%-*s : %5scast, xmt/rcv/%%loss = %d/%d", width, p.Name, kind, c.Sent, c.Received)
			if c.Duplicates > 0 {
				fmt.Fprintf(w, "+%d", c.Duplicates)
			}
			fmt.Fprintf(w, "/%.0f%%", math.Floor(c.LossPct))
			if i == 1 && c.FirstSeq > 1 {
				fmt.Fprintf(w, " (seq>=%d %.0f%%)", c.FirstSeq, math.Floor(c.LossFromFirstPct))
			}
			fmt.Fprintf(w, ", min/avg/max/std-dev = %.3f/%.3f/%.3f/%.3f", c.RTTMs.Min, c.RTTMs.Avg, c.RTTMs.Max, c.RTTMs.StdDev)
			if c.Hops >= 0 {
				fmt.Fprintf(w, ", hops=%d", c.Hops)
			}
			fmt.Fprintln(w)
		}
	}
}

// WriteMatrix draws who hears whom: row host X, column host Y shows the
// loss of the answers X got from Y, unicast/multicast. A host is a row only
// when something is known or expected of what it hears, and a column only
// when someone hears it: an ssmping server, which reports nothing, gets a
// column and no row.
func (r *Report) WriteMatrix(w io.Writer) {
	cells := map[[2]string]Cell{}
	isFrom, isTo := map[string]bool{}, map[string]bool{}
	for _, c := range r.Matrix {
		cells[[2]string{c.From, c.To}] = c
		isFrom[c.From], isTo[c.To] = true, true
	}
	var rows, cols []string
	for _, h := range r.Hosts {
		if isFrom[h] {
			rows = append(rows, h)
		}
		if isTo[h] {
			cols = append(cols, h)
		}
	}
	width := len("hears \\ from")
	for _, h := range r.Hosts {
		width = max(width, len(h))
	}
	colw := max(width, len("100%/100%"))
	fmt.Fprintf(w, "\nmatrix: loss of answers that row heard from column, unicast/%s (* = %s loss)\n", castWord(r.Mode), castWord(r.Mode))
	var line strings.Builder
	flush := func() {
		fmt.Fprintln(w, strings.TrimRight(line.String(), " "))
		line.Reset()
	}
	fmt.Fprintf(&line, "%-*s", width, "hears \\ from")
	for _, h := range cols {
		fmt.Fprintf(&line, "  %-*s", colw, h)
	}
	flush()
	for _, from := range rows {
		fmt.Fprintf(&line, "%-*s", width, from)
		for _, to := range cols {
			text := "-"
			if c, ok := cells[[2]string{from, to}]; ok && from != to {
				text = "?"
				if c.Known {
					text = fmt.Sprintf("%.0f%%/%.0f%%", math.Ceil(c.UnicastLossPct), math.Ceil(c.MulticastLossPct))
					if c.UnicastLossPct == 0 && c.MulticastLossPct == 0 {
						text = "ok"
					} else if c.MulticastLossPct > 0 {
						text += "*"
					}
				}
			}
			fmt.Fprintf(&line, "  %-*s", colw, text)
		}
		flush()
	}
	fmt.Fprintf(w, "(ok: no loss either way; ?: that host did not report)\n")
}
