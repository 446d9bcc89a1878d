package report

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"
)

// watchEvent is one `mcast watch --json` event.
type watchEvent struct {
	Time    time.Time `json:"time"`
	Iface   string    `json:"iface"`
	Kind    string    `json:"type"`
	Host    string    `json:"source"`
	Group   string    `json:"group"`
	Record  string    `json:"record"`
	PPS     float64   `json:"rate_pps"`
	Warning string    `json:"warning"`
	Text    string    `json:"text"`
}

// watchGroup is one group of watch's summary.
type watchGroup struct {
	Iface   string  `json:"iface"`
	Group   string  `json:"group"`
	Packets int     `json:"packets"`
	Bytes   int     `json:"bytes"`
	Rate    float64 `json:"rate_pps"`
	Senders []struct {
		Source     string `json:"source"`
		SourcePort uint16 `json:"source_port"`
		Packets    int    `json:"packets"`
	} `json:"senders"`
}

// watchSummary is watch's last record.
type watchSummary struct {
	Groups  []watchGroup   `json:"groups"`
	Dropped map[string]int `json:"dropped"`
}

// tlMark is one event on a timeline row.
type tlMark struct {
	t    float64
	kind string
	text string
}

type watchData struct {
	start    time.Time
	rows     map[string][]tlMark // "group host" (or "queries host") -> events
	rowOrder []string
	counts   map[string]int    // events by kind
	querier  map[string]string // the last querier by interface and family
	changes  []tlMark          // querier changes and warnings
	rates    map[string]*series
	rateKeys []string
	summary  *watchSummary
	last     float64
}

func (w *watchData) add(raw []byte, kind string) error {
	if kind == "summary" {
		var s watchSummary
		if err := json.Unmarshal(raw, &s); err != nil {
			return fmt.Errorf("decoding watch's summary: %w", err)
		}
		w.summary = &s
		return nil
	}
	var e watchEvent
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("decoding a watch %s event: %w", kind, err)
	}
	if w.start.IsZero() {
		w.start = e.Time
		w.rows, w.counts, w.rates, w.querier = map[string][]tlMark{}, map[string]int{}, map[string]*series{}, map[string]string{}
	}
	t := e.Time.Sub(w.start).Seconds()
	w.last = max(w.last, t)
	if kind == "start" {
		return nil
	}
	w.counts[kind]++
	switch kind {
	case "join", "leave", "report", "data":
		w.mark(e.Group+" "+e.Host, tlMark{t: t, kind: kind, text: e.Text})
	case "query":
		w.mark("queries "+e.Host, tlMark{t: t, kind: kind, text: e.Text})
		fam := e.Iface + " IPv4"
		if strings.Contains(e.Host, ":") {
			fam = e.Iface + " IPv6"
		}
		if old := w.querier[fam]; e.Host != old {
			if old != "" {
				w.changes = append(w.changes, tlMark{t: t, kind: "querier", text: "querier now " + e.Host + " (was " + old + ")"})
			}
			w.querier[fam] = e.Host
		}
	case "warning":
		w.changes = append(w.changes, tlMark{t: t, kind: "warning", text: e.Text})
	case "rate":
		s := w.rates[e.Group]
		if s == nil {
			s = &series{name: e.Group}
			w.rates[e.Group] = s
			w.rateKeys = append(w.rateKeys, e.Group)
		}
		s.xs, s.ys = append(s.xs, t), append(s.ys, e.PPS)
	}
	return nil
}

func (w *watchData) mark(row string, m tlMark) {
	ms, ok := w.rows[row]
	if !ok {
		if len(w.rowOrder) >= MaxTimelineRows {
			return
		}
		w.rowOrder = append(w.rowOrder, row)
	}
	if len(ms) < 4*MaxPoints {
		w.rows[row] = append(ms, m)
	}
}

func (w *watchData) render(p *page) {
	p.s("<section id=\"watch\"><h2>mcast watch</h2>")
	defer p.s("</section>\n")
	var groups []watchGroup
	if w.summary != nil {
		groups = w.summary.Groups
	}
	if len(w.rowOrder) == 0 && len(groups) == 0 {
		p.empty("Nothing was measured: no IGMP, MLD or multicast data was seen.")
		return
	}
	p.s("<div class=\"kpis\">")
	for _, k := range [][2]string{{"join", "joins"}, {"leave", "leaves"}, {"report", "other reports"}, {"query", "queries"}, {"data", "new data flows"}, {"warning", "warnings"}} {
		p.kpi("events."+k[0], k[1], strconv.Itoa(w.counts[k[0]]), k[0] == "warning" && w.counts[k[0]] > 0)
	}
	p.kpi("groups", "groups with data", strconv.Itoa(len(groups)), false)
	p.s("</div>")
	if len(w.rowOrder) > 0 {
		p.s("<h3>Timeline</h3><div class=\"legend\"><span><i style=\"background:#2ca02c\"></i>join</span><span><i style=\"background:#d62728\"></i>leave</span><span><i style=\"background:#999\"></i>report</span><span><i style=\"background:#1f77b4\"></i>first data</span><span><i style=\"background:#9467bd\"></i>query (dashed line: querier change)</span><span><i style=\"background:#ff7f0e\"></i>warning</span></div>")
		w.timeline(p)
	}
	if len(w.rateKeys) > 0 {
		keys := append([]string(nil), w.rateKeys...)
		sort.SliceStable(keys, func(i, j int) bool { return peak(w.rates[keys[i]]) > peak(w.rates[keys[j]]) })
		var ss []series
		p.s("<h3>Data rate per group</h3><div class=\"legend\">")
		for i, k := range keys[:min(len(keys), MaxCharts)] {
			s := thinSeries(*w.rates[k])
			s.colour = colour(i)
			ss = append(ss, s)
			p.f("<span><i style=\"background:%s\"></i>%s</span>", s.colour, esc(k))
		}
		p.s("</div>")
		p.lineChart(900, 220, "seconds since start", "datagrams/s", ss, nil)
	}
	if len(groups) > 0 {
		p.s("<h3>Groups</h3><div class=\"scroll\"><table id=\"groups\"><tr><th>group</th><th>interface</th><th>datagrams</th><th>payload bytes</th><th>datagrams/s</th><th>senders</th></tr>")
		for _, g := range groups {
			snd := ""
			for i, s := range g.Senders {
				if i > 0 {
					snd += ", "
				}
				snd += fmt.Sprintf("%s (%d)", net.JoinHostPort(s.Source, strconv.Itoa(int(s.SourcePort))), s.Packets)
			}
			p.f("<tr data-group=\"%s\"><td>%s</td><td>%s</td><td data-k=\"packets\">%d</td><td data-k=\"bytes\">%d</td><td data-k=\"rate_pps\">%s</td><td>%s</td></tr>",
				esc(g.Group), esc(g.Group), esc(g.Iface), g.Packets, g.Bytes, num(g.Rate), esc(snd))
		}
		p.s("</table></div>")
	}
}

func peak(s *series) float64 {
	m := 0.0
	for _, y := range s.ys {
		m = max(m, y)
	}
	return m
}

// timeline draws one row per (group, host) and per querier.
func (w *watchData) timeline(p *page) {
	const left, right, rowH, top = 250.0, 16.0, 20.0, 8.0
	// Queriers first, then by group: IPv4 groups before IPv6 ones.
	sort.SliceStable(w.rowOrder, func(i, j int) bool {
		qi, qj := strings.HasPrefix(w.rowOrder[i], "queries "), strings.HasPrefix(w.rowOrder[j], "queries ")
		if qi != qj {
			return qi
		}
		return w.rowOrder[i] < w.rowOrder[j]
	})
	width := 1000.0
	h := top + rowH*float64(len(w.rowOrder)) + 30
	fr := &frame{w: width, h: h, l: left, t: top, r: right, b: 30, x0: 0, x1: max(w.last, 1e-3), y0: 0, y1: 1, xlabel: "seconds since start"}
	p.f("<svg width=\"%.0f\" height=\"%.0f\" role=\"img\" id=\"timeline\">", width, h)
	for i, row := range w.rowOrder {
		y := top + rowH*float64(i) + rowH/2
		p.f("<line class=\"grid\" x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\"/><text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", left, width-right, y, y, left-6, y+4, esc(row))
		for _, m := range w.rows[row] {
			x := fr.px(m.t)
			title := fmt.Sprintf("<title>%s s: %s</title>", short(m.t), esc(m.text))
			switch m.kind {
			case "join":
				p.f("<path d=\"M%.1f %.1fl-5 8h10z\" fill=\"#2ca02c\">%s</path>", x, y-5, title)
			case "leave":
				p.f("<path d=\"M%.1f %.1fl-5 -8h10z\" fill=\"#d62728\">%s</path>", x, y+5, title)
			case "data":
				p.f("<rect x=\"%.1f\" y=\"%.1f\" width=\"8\" height=\"8\" fill=\"#1f77b4\">%s</rect>", x-4, y-4, title)
			case "query":
				p.f("<path d=\"M%.1f %.1fl5 5l-5 5l-5 -5z\" fill=\"#9467bd\">%s</path>", x, y-5, title)
			default:
				p.f("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#999\">%s</circle>", x, y, title)
			}
		}
	}
	for _, c := range w.changes {
		x := fr.px(c.t)
		col := "#ff7f0e"
		if c.kind == "querier" {
			col = "#9467bd"
		}
		p.f("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.0f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\" stroke-dasharray=\"4 2\" data-change=\"%s\"><title>%s s: %s</title></line>", x, x, top, h-30, col, c.kind, short(c.t), esc(c.text))
	}
	for _, v := range ticks(0, fr.x1, 8) {
		x := fr.px(v)
		p.f("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x, h-16, short(v))
	}
	p.f("<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"middle\">seconds since start</text></svg>\n", (left+width)/2, h-3)
}
