package report

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// recvFlow is a flow as recv's --json reports it.
type recvFlow struct {
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
	Bytes      uint64  `json:"bytes"`
	PPS        float64 `json:"rate_pps"`
	LatencyMs  struct {
		Min, Avg, P50, P99, Max float64
	} `json:"latency_ms"`
	JitterMs  float64  `json:"jitter_ms"`
	Histogram []latBin `json:"latency_histogram"`
}

func (f *recvFlow) key() string {
	return f.Iface + " " + f.Group + " " + f.Source + ":" + strconv.Itoa(int(f.SourcePort)) + " " + f.SenderID
}

// latBin is one bucket of a flow's latency histogram.
type latBin struct {
	LoMs  float64 `json:"lo_ms"`
	HiMs  float64 `json:"hi_ms"`
	Count uint64  `json:"count"`
}

// recvTotals are recv's sums over every flow.
type recvTotals struct {
	Received   uint64  `json:"received"`
	Expected   uint64  `json:"expected"`
	Lost       uint64  `json:"lost"`
	LossPct    float64 `json:"loss_pct"`
	Duplicates uint64  `json:"duplicates"`
	Reordered  uint64  `json:"reordered"`
	Foreign    uint64  `json:"foreign"`
}

// recvPath is one interface's count by path.
type recvPath struct {
	Iface    string `json:"iface"`
	Wire     int    `json:"wire"`
	WireSelf int    `json:"wire_self"`
	Loopback int    `json:"loopback"`
	Explain  string `json:"explain"`
}

// recvRecord is recv's start, report, summary or datagram record.
type recvRecord struct {
	Type       string     `json:"type"`
	Time       time.Time  `json:"time"`
	Elapsed    float64    `json:"elapsed_seconds"`
	Interfaces []string   `json:"interfaces"`
	Groups     []string   `json:"groups"`
	Port       int        `json:"port"`
	Flows      []recvFlow `json:"flows"`
	Foreign    []struct {
		Iface    string `json:"iface"`
		Group    string `json:"group"`
		Source   string `json:"source"`
		Received uint64 `json:"received"`
	} `json:"foreign"`
	Totals recvTotals `json:"totals"`
	Paths  []recvPath `json:"paths"`
	// datagram events
	Class      string  `json:"class"`
	Iface      string  `json:"iface"`
	Group      string  `json:"group"`
	Source     string  `json:"source"`
	SourcePort uint16  `json:"source_port"`
	SenderID   string  `json:"sender_id"`
	Seq        *uint64 `json:"seq"`
}

// point is a flow's cumulative counts at a time (seconds since start).
type point struct {
	t                 float64
	recv, lost, reord uint64
}

// flowSeries is one flow's counts over time.
type flowSeries struct {
	pts     []point
	lastSeq uint64
	seqSeen bool
	perSec  []point // from datagram events: counts per second, not cumulative
}

type recvData struct {
	start   time.Time
	ifaces  []string
	last    *recvRecord // the summary, else the latest report
	prevT   float64
	series  map[string]*flowSeries
	records int
}

func newRecvData() *recvData { return &recvData{series: map[string]*flowSeries{}} }

func (d *recvData) add(raw []byte, typ string) error {
	var r recvRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("decoding a recv %s record: %w", typ, err)
	}
	d.records++
	switch typ {
	case "start":
		d.start, d.ifaces = r.Time, r.Interfaces
	case "datagram":
		d.datagram(&r)
	default:
		if d.start.IsZero() {
			d.start = r.Time.Add(-time.Duration(r.Elapsed * float64(time.Second)))
		}
		for i := range r.Flows {
			f := &r.Flows[i]
			s := d.flow(f.key())
			if s == nil {
				continue
			}
			if len(s.pts) == 0 {
				s.pts = append(s.pts, point{t: d.prevT})
			}
			s.pts = append(s.pts, point{t: r.Elapsed, recv: f.Received, lost: f.Lost, reord: f.Reordered})
			if len(s.pts) > MaxPoints {
				s.pts = thin(s.pts)
			}
		}
		d.prevT = r.Elapsed
		if d.last == nil || d.last.Type != "recv.summary" || typ == "summary" {
			d.last = &r
		}
	}
	return nil
}

// flow returns the series of a flow, nil beyond MaxSeriesFlows.
func (d *recvData) flow(key string) *flowSeries {
	s := d.series[key]
	if s == nil && len(d.series) < MaxSeriesFlows {
		s = &flowSeries{}
		d.series[key] = s
	}
	return s
}

// datagram counts one --json-events datagram in its second.
func (d *recvData) datagram(r *recvRecord) {
	if r.Seq == nil || d.start.IsZero() {
		return
	}
	s := d.flow(r.Iface + " " + r.Group + " " + r.Source + ":" + strconv.Itoa(int(r.SourcePort)) + " " + r.SenderID)
	if s == nil {
		return
	}
	sec := int(r.Time.Sub(d.start).Seconds())
	if sec < 0 || sec > 1<<20 {
		return
	}
	for len(s.perSec) <= sec {
		s.perSec = append(s.perSec, point{t: float64(len(s.perSec) + 1)})
	}
	b := &s.perSec[sec]
	switch r.Class {
	case "duplicate", "end":
		return
	case "reordered":
		b.reord++
	}
	b.recv++
	if s.seqSeen && *r.Seq > s.lastSeq+1 {
		b.lost += *r.Seq - s.lastSeq - 1
	}
	if !s.seqSeen || *r.Seq > s.lastSeq {
		s.lastSeq, s.seqSeen = *r.Seq, true
	}
}

// thin keeps every other point, and the last.
func thin(pts []point) []point {
	out := pts[:0:0]
	for i := 0; i < len(pts); i += 2 {
		out = append(out, pts[i])
	}
	if (len(pts)-1)%2 != 0 {
		out = append(out, pts[len(pts)-1])
	}
	return out
}

// cumulative is the series as cumulative points: from datagram events
// when there were any (a second each), else from reports.
func (s *flowSeries) cumulative() []point {
	if len(s.perSec) == 0 {
		return s.pts
	}
	out := []point{{}}
	var c point
	for _, b := range s.perSec {
		c.t, c.recv, c.lost, c.reord = b.t, c.recv+b.recv, c.lost+b.lost, c.reord+b.reord
		out = append(out, c)
	}
	for len(out) > MaxPoints {
		out = thin(out)
	}
	return out
}

func (d *recvData) render(p *page) {
	p.s("<section id=\"recv\"><h2>mcast recv</h2>")
	defer p.s("</section>\n")
	r := d.last
	if r == nil || (len(r.Flows) == 0 && len(r.Foreign) == 0) {
		p.empty("Nothing was measured: no datagram arrived.")
		if r != nil {
			d.paths(p, r.Paths)
		}
		return
	}
	t := r.Totals
	p.s("<div class=\"kpis\">")
	p.kpi("flows", "flows", strconv.Itoa(len(r.Flows)), false)
	p.kpi("totals.received", "received", num(float64(t.Received)), false)
	p.kpi("totals.lost", "lost", num(float64(t.Lost)), t.Lost > 0)
	p.kpi("totals.loss_pct", "loss %", num(t.LossPct), t.Lost > 0)
	p.kpi("totals.duplicates", "duplicates", num(float64(t.Duplicates)), t.Duplicates > 0)
	p.kpi("totals.reordered", "reordered", num(float64(t.Reordered)), t.Reordered > 0)
	if t.Foreign > 0 {
		p.kpi("totals.foreign", "without mcast header", num(float64(t.Foreign)), false)
	}
	p.f("<div class=\"kpi\"><b>%s s</b><span>%s</span></div></div>", num(r.Elapsed), esc(strings.TrimPrefix(r.Type, "recv.")))
	d.paths(p, r.Paths)
	flows := append([]recvFlow(nil), r.Flows...)
	sort.SliceStable(flows, func(i, j int) bool { return flows[i].Received > flows[j].Received })
	for i := range flows[:min(len(flows), MaxCharts)] {
		d.flowCard(p, &flows[i])
	}
	if len(flows) > MaxCharts {
		p.f("<p class=\"note\">Charts for the %d busiest of %d flows; every flow is in the table.</p>", MaxCharts, len(flows))
	}
	const header = "<tr><th>interface</th><th>group</th><th>source</th><th>received</th><th>lost</th><th>loss %</th><th>duplicates</th><th>reordered</th><th>datagrams/s</th><th>p50 ms</th><th>p99 ms</th><th>jitter ms</th></tr>\n"
	p.s("<h3>Flows</h3><div class=\"scroll\"><table id=\"flows\">" + header)
	for i := range r.Flows {
		if i == MaxTableRows {
			// A browser lays out a closed <details> only when it is
			// opened: the page still opens fast with 10,000 flows.
			p.f("</table></div><details><summary>the other %d flows</summary><div class=\"scroll\"><table>%s", len(r.Flows)-MaxTableRows, header)
		}
		f := &r.Flows[i]
		p.f("<tr data-flow=\"%s\"><td>%s</td><td>%s</td><td>%s:%d</td><td data-k=\"received\">%d</td><td data-k=\"lost\">%d</td><td data-k=\"loss_pct\">%s</td><td data-k=\"duplicates\">%d</td><td data-k=\"reordered\">%d</td><td data-k=\"pps\">%s</td><td data-k=\"p50\">%s</td><td data-k=\"p99\">%s</td><td>%s</td></tr>\n",
			esc(f.key()), esc(f.Iface), esc(f.Group), esc(f.Source), f.SourcePort, f.Received, f.Lost, num(f.LossPct), f.Duplicates, f.Reordered,
			num(f.PPS), num(f.LatencyMs.P50), num(f.LatencyMs.P99), num(f.JitterMs))
	}
	p.s("</table></div>")
	if len(r.Flows) > MaxTableRows {
		p.s("</details>")
	}
	if len(r.Foreign) > 0 {
		p.s("<h3>Datagrams without the mcast header</h3><table><tr><th>interface</th><th>group</th><th>source</th><th>received</th></tr>")
		for _, f := range r.Foreign {
			p.f("<tr><td>%s</td><td>%s</td><td>%s</td><td>%d</td></tr>", esc(f.Iface), esc(f.Group), esc(f.Source), f.Received)
		}
		p.s("</table>")
	}
}

// flowCard draws one flow: its rate over time and its latency histogram.
func (d *recvData) flowCard(p *page, f *recvFlow) {
	p.f("<div class=\"card\"><b>%s from %s:%d on %s</b> <span class=\"note\">sender %s: %d received, %d lost (%s%%), %d reordered, %d duplicates</span><div class=\"row\">",
		esc(f.Group), esc(f.Source), f.SourcePort, esc(f.Iface), esc(f.SenderID), f.Received, f.Lost, num(f.LossPct), f.Reordered, f.Duplicates)
	var pts []point
	if s := d.series[f.key()]; s != nil {
		pts = s.cumulative()
	}
	if len(pts) >= 2 {
		xs, ys := []float64{}, []float64{}
		var marks []marker
		for i := 1; i < len(pts); i++ {
			a, b := pts[i-1], pts[i]
			dt := b.t - a.t
			if dt <= 0 {
				continue
			}
			rate := float64(b.recv-min(a.recv, b.recv)) / dt
			xs, ys = append(xs, b.t), append(ys, rate)
			if b.lost > a.lost {
				marks = append(marks, marker{x: b.t, y: rate, colour: "#d62728", shape: "dot", title: fmt.Sprintf("%d lost in %s..%s s", b.lost-a.lost, short(a.t), short(b.t))})
			}
			if b.reord > a.reord {
				marks = append(marks, marker{x: b.t, y: rate, colour: "#ff9f1c", shape: "tri", title: fmt.Sprintf("%d reordered in %s..%s s", b.reord-a.reord, short(a.t), short(b.t))})
			}
		}
		p.s("<div><div class=\"legend\"><span><i style=\"background:#1f77b4\"></i>datagrams/s</span><span><i style=\"background:#d62728;border-radius:6px\"></i>loss</span><span><i style=\"background:#ff9f1c\"></i>reordering</span></div>")
		p.lineChart(520, 200, "seconds since start", "datagrams/s", []series{{name: "datagrams/s", colour: "#1f77b4", xs: xs, ys: ys}}, marks)
		p.s("</div>")
	} else {
		p.s("<p class=\"note\" style=\"width:520px\">No rate over time: the records hold one snapshot only (recv --report records one a second; with --json, add --report-interval 1s).</p>")
	}
	p.histogram(f)
	p.s("</div></div>\n")
}

// histogram draws a flow's latency distribution with p50 and p99 marked.
func (p *page) histogram(f *recvFlow) {
	bins := rebin(f.Histogram, 40)
	if len(bins) == 0 {
		p.s("<p class=\"note\">No latency histogram in the records (it is in recv's summary).</p>")
		return
	}
	fr := &frame{w: 440, h: 200, l: 52, t: 18, r: 12, b: 34, xlabel: "one-way latency (ms)", ylabel: "datagrams"}
	fr.x0, fr.x1 = bins[0].LoMs, bins[len(bins)-1].HiMs
	if fr.x1 <= fr.x0 {
		fr.x0, fr.x1 = fr.x0*0.9, fr.x0*1.1+1e-3
	}
	fr.y1 = 1
	for _, b := range bins {
		fr.y1 = max(fr.y1, float64(b.Count)*1.1)
	}
	p.s("<svg width=\"440\" height=\"200\" role=\"img\">")
	p.axes(fr)
	for _, b := range bins {
		x0, x1 := fr.px(b.LoMs), fr.px(b.HiMs)
		p.f("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#6c8ebf\"><title>%s..%s ms: %d</title></rect>",
			x0, fr.py(float64(b.Count)), max(x1-x0-0.5, 1), fr.py(0)-fr.py(float64(b.Count)), short(b.LoMs), short(b.HiMs), b.Count)
	}
	for _, m := range []struct {
		name, key string
		v         float64
		colour    string
	}{{"p50", "p50", f.LatencyMs.P50, "#2ca02c"}, {"p99", "p99", f.LatencyMs.P99, "#d62728"}} {
		x := fr.px(m.v)
		p.f("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/><text x=\"%.1f\" y=\"12\" text-anchor=\"middle\" fill=\"%s\">%s <tspan data-k=\"%s\">%s</tspan> ms</text>",
			x, x, fr.t, fr.py(0), m.colour, x, m.colour, m.name, m.key, num(m.v))
	}
	p.s("</svg>\n")
}

// rebin merges histogram buckets into at most n equal-width bins.
func rebin(in []latBin, n int) []latBin {
	if len(in) <= n {
		return in
	}
	lo, hi := in[0].LoMs, in[len(in)-1].HiMs
	w := (hi - lo) / float64(n)
	out := make([]latBin, n)
	for i := range out {
		out[i] = latBin{LoMs: lo + w*float64(i), HiMs: lo + w*float64(i+1)}
	}
	for _, b := range in {
		k := int(((b.LoMs+b.HiMs)/2 - lo) / w)
		out[max(0, min(n-1, k))].Count += b.Count
	}
	return out
}

// paths draws, per interface, where its datagrams came from.
func (d *recvData) paths(p *page, paths []recvPath) {
	if len(paths) == 0 {
		return
	}
	p.s("<h3>Paths per interface</h3><div class=\"row\">")
	for _, n := range paths {
		total := n.Wire + n.WireSelf + n.Loopback
		p.f("<div class=\"card\" data-iface=\"%s\"><svg width=\"430\" height=\"128\" role=\"img\">", esc(n.Iface))
		p.f("<rect x=\"330\" y=\"34\" width=\"92\" height=\"60\" rx=\"8\" fill=\"#1d3557\"/><text x=\"376\" y=\"60\" text-anchor=\"middle\" style=\"fill:#fff;font-weight:bold\">%s</text><text x=\"376\" y=\"78\" text-anchor=\"middle\" style=\"fill:#fff\" data-k=\"total\">%d</text>",
			esc(n.Iface), total)
		for i, src := range []struct {
			label, key string
			n          int
			colour     string
		}{{"other hosts (wire)", "wire", n.Wire, "#2ca02c"}, {"this host, across the wire", "wire_self", n.WireSelf, "#1f77b4"}, {"this host, loopback copy", "loopback", n.Loopback, "#ff7f0e"}} {
			y := 22 + 40*i
			sw, dash, c := 1.0, " stroke-dasharray=\"4 3\"", "#bbb"
			if src.n > 0 {
				sw, dash, c = 2+10*float64(src.n)/float64(max(total, 1)), "", src.colour
			}
			p.f("<text x=\"4\" y=\"%d\">%s</text><path d=\"M170 %d C250 %d 260 64 328 64\" fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s><title>%s: %d</title></path><text x=\"178\" y=\"%d\" data-k=\"%s\">%d</text>",
				y+4, esc(src.label), y, y, c, sw, dash, esc(src.label), src.n, y-6, src.key, src.n)
		}
		p.f("</svg><div class=\"note\" style=\"width:430px\">%s</div></div>", esc(n.Explain))
	}
	p.s("</div>")
}
