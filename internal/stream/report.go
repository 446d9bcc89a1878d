package stream

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/contract"
	"github.com/mcasttools/mcast/internal/stats"
)

// ClockNote says when one-way latency means something.
const ClockNote = "one-way latency compares the sender's clock with the receiver's: meaningful only where they agree (same host, or a lab on one machine)"

// LatencyMs is a latency summary in milliseconds.
type LatencyMs struct {
	Min float64 `json:"min"`
	Avg float64 `json:"avg"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// FlowReport is one flow in a report (JSON field names are stable).
type FlowReport struct {
	Iface      string  `json:"iface"`
	Group      string  `json:"group"`
	Source     string  `json:"source"`
	SourcePort uint16  `json:"source_port"`
	SenderID   string  `json:"sender_id"`
	Received   uint64  `json:"received"`
	Expected   uint64  `json:"expected"`
	Lost       uint64  `json:"lost"`
	LossPct    float64 `json:"loss_pct"`
	Duplicates uint64  `json:"duplicates"`
	Reordered  uint64  `json:"reordered"`
	TooLate    uint64  `json:"too_late"`
	Sent       *uint64 `json:"sent"` // announced by the sender's end marker, null until then
	// LossKnown is whether the end marker arrived: without it Lost counts
	// only the gaps up to HighestSeq, and what came after is unknown.
	LossKnown  bool      `json:"loss_known"`
	HighestSeq uint64    `json:"highest_seq"`
	Bytes      uint64    `json:"bytes"`
	Seconds    float64   `json:"duration_seconds"`
	PPS        float64   `json:"rate_pps"`
	BPS        float64   `json:"rate_bps"`
	LatencyMs  LatencyMs `json:"latency_ms"`
	JitterMs   float64   `json:"jitter_ms"`
	ClockSkew  uint64    `json:"negative_latency"`
	TTL        int       `json:"ttl"`
	SenderTTL  int       `json:"sender_ttl"`
	Hops       int       `json:"hops"`
	// Histogram is the latency distribution, in the summary only.
	Histogram []LatencyBin `json:"latency_histogram,omitempty"`
}

// LatencyBin is one non-empty bucket of a flow's latency histogram:
// Count datagrams whose latency lay between LoMs and HiMs.
type LatencyBin struct {
	LoMs  float64 `json:"lo_ms"`
	HiMs  float64 `json:"hi_ms"`
	Count uint64  `json:"count"`
}

// PathReport is what one interface received, by path (the summary's
// per-interface lines as data).
type PathReport struct {
	Iface    string `json:"iface"`
	Wire     int    `json:"wire"`      // from other hosts
	WireSelf int    `json:"wire_self"` // from this host's other interfaces, across the network
	Loopback int    `json:"loopback"`  // copies looped back inside the host
	Explain  string `json:"explain"`
}

// PathReports turns the interfaces' path counts into report entries.
func PathReports(nics []*NIC) []PathReport {
	localSeen := false
	for _, n := range nics {
		localSeen = localSeen || n.Loopback > 0
	}
	out := []PathReport{}
	for _, n := range nics {
		out = append(out, PathReport{Iface: n.Name, Wire: n.Wire, WireSelf: n.WireSelf, Loopback: n.Loopback, Explain: n.Explain(localSeen)})
	}
	return out
}

// ForeignReport is one source of datagrams without the mcast header.
type ForeignReport struct {
	Iface     string `json:"iface"`
	Group     string `json:"group"`
	Source    string `json:"source"`
	Received  uint64 `json:"received"`
	Bytes     uint64 `json:"bytes"`
	Malformed uint64 `json:"malformed"`
	// Streams are the streams whose format was recognised, with their own
	// loss figures; Unrecognised counts the datagrams in none of them.
	Streams      []ForeignStreamReport `json:"streams"`
	Unrecognised uint64                `json:"unrecognised"`
}

// ForeignStreamReport is one recognised foreign stream: loss, duplicates
// and reordering by the sequence numbers its own payload carries.
type ForeignStreamReport struct {
	Format     string  `json:"format"` // iperf2, rtp, mcjoin, omping, ssmping
	SourcePort uint16  `json:"source_port"`
	StreamID   string  `json:"stream_id"` // RTP SSRC, mcjoin's PID, ssmping's client PID, omping's client (hash); iperf2: 0
	Received   uint64  `json:"received"`
	Expected   uint64  `json:"expected"`
	Lost       uint64  `json:"lost"`
	LossPct    float64 `json:"loss_pct"`
	Duplicates uint64  `json:"duplicates"`
	Reordered  uint64  `json:"reordered"`
	TooLate    uint64  `json:"too_late"`
	SenderEnd  bool    `json:"sender_end"` // the sender's last datagram arrived (iperf2)
}

// foreignReport turns one foreign source into its report.
func foreignReport(f *Foreign) ForeignReport {
	fr := ForeignReport{Iface: f.Iface, Group: f.Group.String(), Source: f.Src.String(),
		Received: f.Datagrams, Bytes: f.Bytes, Malformed: f.Malformed, Streams: []ForeignStreamReport{}, Unrecognised: f.Unrecognised}
	for _, s := range f.Streams {
		sr := ForeignStreamReport{Format: s.Format.String(), SourcePort: s.SrcPort, StreamID: fmt.Sprintf("%x", s.ID),
			Received: s.Seq.Received(), Expected: s.Seq.Expected(), Lost: s.Seq.Lost(),
			Duplicates: s.Seq.Duplicates(), Reordered: s.Seq.Reordered(), TooLate: s.Seq.TooLate(), SenderEnd: s.Ended}
		if sr.Expected > 0 {
			sr.LossPct = round(100*float64(sr.Lost)/float64(sr.Expected), 3)
		}
		fr.Streams = append(fr.Streams, sr)
	}
	return fr
}

// Report is a periodic report or the final summary.
type Report struct {
	contract.Header                 // type "report", "sample" or "summary"
	Elapsed         float64         `json:"elapsed_seconds"`
	Flows           []FlowReport    `json:"flows"`
	Foreign         []ForeignReport `json:"foreign"`
	Totals          Totals          `json:"totals"`
	ClockNote       string          `json:"clock_note"`
	// KernelDrops is how many datagrams the kernel dropped before they
	// were read (receive buffer full), and Notes what was lost that the
	// counts do not show and why (Session.Notes); the caller fills both.
	KernelDrops uint64   `json:"kernel_drops"`
	Notes       []string `json:"notes"`
	// Paths is each interface's count by path, in the summary only.
	Paths []PathReport `json:"paths,omitempty"`
}

func ms(ns float64) float64 { return math.Round(ns/1e3) / 1e3 }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// Snapshot turns the receiver's state into a report of the given type.
func (r *Receiver) Snapshot(typ string, now time.Time) Report {
	rep := Report{Header: contract.Stamp("recv."+typ, now), Elapsed: round(now.Sub(r.start).Seconds(), 3), Totals: r.Totals(), ClockNote: ClockNote,
		Flows: []FlowReport{}, Foreign: []ForeignReport{}, Notes: []string{}}
	rep.Totals.LossPct = round(rep.Totals.LossPct, 3)
	for _, f := range r.order {
		pps, bps := f.Rate()
		fr := FlowReport{
			Iface: f.Iface, Group: f.Group.String(), Source: f.Src.String(), SourcePort: f.SrcPort,
			SenderID: fmt.Sprintf("%08x", f.SenderID),
			Received: f.Seq.Received(), Expected: f.Seq.Expected(), Lost: f.Seq.Lost(), LossPct: round(f.LossPercent(), 3),
			Duplicates: f.Seq.Duplicates(), Reordered: f.Seq.Reordered(), TooLate: f.Seq.TooLate(),
			Bytes: f.Bytes, Seconds: round(f.Seconds(), 3), PPS: round(pps, 1), BPS: round(bps, 0),
			LatencyMs: LatencyMs{
				Min: ms(float64(f.Latency.Min())), Avg: ms(f.Latency.Mean()), P50: ms(float64(f.Latency.Percentile(0.5))),
				P99: ms(float64(f.Latency.Percentile(0.99))), Max: ms(float64(f.Latency.Max())),
			},
			JitterMs: ms(f.Jitter.Nanoseconds()), ClockSkew: f.NegativeLatency,
			TTL: f.TTLMax, SenderTTL: f.SenderTTL, Hops: f.Hops(), HighestSeq: f.Seq.Highest(),
		}
		if n, ok := f.Seq.EndKnown(); ok {
			fr.Sent, fr.LossKnown = &n, true
		}
		if typ == "summary" {
			for _, b := range f.Latency.Bins() {
				fr.Histogram = append(fr.Histogram, LatencyBin{LoMs: float64(b.Lo) / 1e6, HiMs: float64(b.Hi) / 1e6, Count: b.Count})
			}
		}
		rep.Flows = append(rep.Flows, fr)
	}
	for _, f := range r.forder {
		rep.Foreign = append(rep.Foreign, foreignReport(f))
	}
	return rep
}

// WriteText prints a report for people: one block per flow.
func (rep Report) WriteText(w io.Writer) {
	title := "flows"
	if rep.Type == "recv.report" {
		title = fmt.Sprintf("report at %.1fs", rep.Elapsed)
	}
	fmt.Fprintf(w, "%s:\n", title)
	if len(rep.Flows) == 0 && len(rep.Foreign) == 0 {
		fmt.Fprintln(w, "  nothing received")
	}
	for _, f := range rep.Flows {
		loss := fmt.Sprintf("loss unknown: no end marker arrived; at least %d lost up to sequence %d", f.Lost, f.HighestSeq)
		if f.Sent != nil {
			loss = fmt.Sprintf("%d lost (%.2f%%), sender sent %d", f.Lost, f.LossPct, *f.Sent)
		}
		fmt.Fprintf(w, "  %s from %s:%d on %s (sender %s): %d received, %s, %d duplicates, %d reordered\n",
			f.Group, f.Source, f.SourcePort, f.Iface, f.SenderID, f.Received, loss, f.Duplicates, f.Reordered)
		fmt.Fprintf(w, "    rate %.0f datagrams/s, %s over %.2fs\n", f.PPS, stats.HumanBitRate(f.BPS), f.Seconds)
		fmt.Fprintf(w, "    latency min/avg/p50/p99/max %.3f/%.3f/%.3f/%.3f/%.3f ms, jitter %.3f ms (RFC 3550)\n",
			f.LatencyMs.Min, f.LatencyMs.Avg, f.LatencyMs.P50, f.LatencyMs.P99, f.LatencyMs.Max, f.JitterMs)
		var ttl []string
		if f.TTL >= 0 {
			ttl = append(ttl, fmt.Sprintf("ttl seen %d", f.TTL))
		}
		if f.SenderTTL > 0 {
			ttl = append(ttl, fmt.Sprintf("sender's ttl %d", f.SenderTTL))
		}
		if f.Hops >= 0 {
			ttl = append(ttl, fmt.Sprintf("%d hops", f.Hops))
		}
		if len(ttl) > 0 {
			fmt.Fprintf(w, "    %s\n", strings.Join(ttl, ", "))
		}
		if f.ClockSkew > 0 {
			fmt.Fprintf(w, "    %d datagrams arrived before they were sent by the clocks: the clocks disagree, latency is not meaningful\n", f.ClockSkew)
		}
	}
	for _, f := range rep.Foreign {
		fmt.Fprintf(w, "  %s from %s on %s: %d foreign datagrams (no mcast header), %d bytes", f.Group, f.Source, f.Iface, f.Received, f.Bytes)
		if f.Malformed > 0 {
			fmt.Fprintf(w, ", %d malformed (mcast magic, bad header)", f.Malformed)
		}
		fmt.Fprintln(w)
		f.writeStreams(w)
	}
	if len(rep.Flows) > 0 {
		t := rep.Totals
		loss := fmt.Sprintf("%d lost (%.2f%%)", t.Lost, t.LossPct)
		if t.LossUnknown > 0 {
			loss = fmt.Sprintf("loss unknown (no end marker arrived from %d of %d flows; at least %d lost)", t.LossUnknown, t.Flows, t.Lost)
		}
		fmt.Fprintf(w, "  total: %d received, %s, %d duplicates, %d reordered, %d foreign, %d malformed\n",
			t.Received, loss, t.Duplicates, t.Reordered, t.Foreign, t.Malformed)
		fmt.Fprintf(w, "  note: %s\n", ClockNote)
	}
}

// StatusLine is the one-line live view for a terminal; pps is the current
// rate (a progress.Meter of the received total).
func (r *Receiver) StatusLine(now time.Time, pps float64) string {
	t := r.Totals()
	return fmt.Sprintf("%.0fs  flows %d  received %d  lost %d (%.2f%%)  dup %d  reord %d  foreign %d  %.0f dgram/s",
		now.Sub(r.start).Seconds(), len(r.order), t.Received, t.Lost, t.LossPct, t.Duplicates, t.Reordered, t.Foreign, pps)
}

// writeStreams prints the recognised streams of a foreign source, one line
// each; a source without any prints nothing.
func (f ForeignReport) writeStreams(w io.Writer) {
	for _, s := range f.Streams {
		id := ""
		switch s.Format {
		case "rtp":
			id = " ssrc " + s.StreamID
		case "mcjoin", "ssmping":
			if pid, err := strconv.ParseUint(s.StreamID, 16, 64); err == nil && pid > 0 {
				id = fmt.Sprintf(" pid %d", pid)
			}
		}
		end := ""
		if s.SenderEnd {
			end = ", sender's last datagram arrived"
		}
		fmt.Fprintf(w, "    %s stream%s from port %d (recognised from its payload): %d received, %d lost (%.2f%%), %d duplicates, %d reordered%s\n",
			s.Format, id, s.SourcePort, s.Received, s.Lost, s.LossPct, s.Duplicates, s.Reordered, end)
	}
	if len(f.Streams) > 0 && f.Unrecognised > 0 {
		fmt.Fprintf(w, "    %d datagrams in no recognised stream\n", f.Unrecognised)
	}
}
