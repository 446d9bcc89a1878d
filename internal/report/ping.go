package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
)

// pingCast is what one host measured toward a peer by one kind of cast.
type pingCast struct {
	Sent     uint64  `json:"sent"`
	Received uint64  `json:"received"`
	LossPct  float64 `json:"loss_pct"`
	RTTMs    struct {
		Min float64 `json:"min"`
		Avg float64 `json:"avg"`
		Max float64 `json:"max"`
	} `json:"rtt_ms"`
}

// pingPeer is one peer in a ping report.
type pingPeer struct {
	Name      string   `json:"name"`
	Addr      string   `json:"address"`
	State     string   `json:"state"`
	Unicast   pingCast `json:"unicast"`
	Multicast pingCast `json:"multicast"`
}

// pingCell is one cell of the who-hears-whom matrix.
type pingCell struct {
	From             string  `json:"from"`
	To               string  `json:"to"`
	Known            bool    `json:"known"`
	Source           string  `json:"origin"`
	UnicastLossPct   float64 `json:"unicast_loss_pct"`
	MulticastLossPct float64 `json:"multicast_loss_pct"`
}

// rttSample is one answer's round-trip time.
type rttSample struct {
	Peer  string  `json:"peer"`
	Cast  string  `json:"cast"`
	AtS   float64 `json:"at_seconds"`
	RTTMs float64 `json:"rtt_ms"`
}

// pingDoc is one host's `mcast ping --json` report.
type pingDoc struct {
	Local    string      `json:"local"`
	Group    string      `json:"group"`
	Mode     string      `json:"mode"`
	Protocol string      `json:"protocol"`
	Peers    []pingPeer  `json:"peers"`
	Hosts    []string    `json:"hosts"`
	Matrix   []pingCell  `json:"matrix"`
	RTTs     []rttSample `json:"rtt_samples"`
}

// self is the name this report's host has in the matrix.
func (d *pingDoc) self() string {
	for _, h := range d.Hosts {
		if !slices.ContainsFunc(d.Peers, func(p pingPeer) bool { return p.Name == h }) {
			return h
		}
	}
	return d.Local
}

// pingMatrix merges the reports of several hosts: cells a host measured
// win over cells another host reported.
type pingMatrix struct {
	hosts []string
	cells map[[2]string]pingCell
	rtt   map[[2]string][2]float64 // (from, to): unicast, multicast average RTT
}

func mergePing(docs []pingDoc) *pingMatrix {
	m := &pingMatrix{cells: map[[2]string]pingCell{}, rtt: map[[2]string][2]float64{}}
	for _, d := range docs {
		for _, h := range d.Hosts {
			if !slices.Contains(m.hosts, h) {
				m.hosts = append(m.hosts, h)
			}
		}
		for _, c := range d.Matrix {
			k := [2]string{c.From, c.To}
			if old, ok := m.cells[k]; !ok || !old.Known || (c.Known && c.Source == "measured") {
				m.cells[k] = c
			}
		}
		self := d.self()
		for _, p := range d.Peers {
			m.rtt[[2]string{self, p.Name}] = [2]float64{p.Unicast.RTTMs.Avg, p.Multicast.RTTMs.Avg}
		}
	}
	return m
}

func renderPing(p *page, docs []pingDoc) {
	p.s("<section id=\"ping\"><h2>mcast ping</h2>")
	defer p.s("</section>\n")
	m := mergePing(docs)
	if len(m.cells) == 0 {
		p.empty("Nothing was measured: the ping reports hold no matrix (no peers were pinged).")
		return
	}
	d0 := docs[0]
	p.f("<p class=\"note\">group %s, %s, %s; %d hosts, from %d reports. Each cell: what the row's host heard from the column's host (loss %%, average RTT).</p>",
		esc(d0.Group), esc(d0.Mode), esc(d0.Protocol), len(m.hosts), len(docs))
	p.s("<div class=\"row\">")
	for i, cast := range []string{"unicast", "multicast"} {
		p.f("<div><h3>%s</h3>", cast)
		p.heatmap(m, cast, i)
		p.s("</div>")
	}
	p.s("</div><div class=\"legend\"><span><i style=\"background:" + heat(0) + "\"></i>0 % loss</span><span><i style=\"background:" + heat(10) + "\"></i>10 %</span><span><i style=\"background:" + heat(50) + "\"></i>50 %</span><span><i style=\"background:" + heat(100) + "\"></i>100 %</span><span><i style=\"background:#d9dde3\"></i>not reported</span></div>")
	charts := 0
	for _, d := range docs {
		if len(d.RTTs) == 0 || charts == MaxCharts {
			continue
		}
		charts++
		idx := map[[2]string]int{}
		peers := map[string]int{}
		var ss []series
		for _, s := range d.RTTs {
			k := [2]string{s.Peer, s.Cast}
			i, ok := idx[k]
			if !ok {
				if _, ok := peers[s.Peer]; !ok {
					peers[s.Peer] = len(peers)
				}
				i = len(ss)
				idx[k] = i
				ss = append(ss, series{name: s.Peer + " " + s.Cast, dash: s.Cast != "unicast", colour: colour(peers[s.Peer])})
			}
			ss[i].xs, ss[i].ys = append(ss[i].xs, s.AtS), append(ss[i].ys, s.RTTMs)
		}
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].name < ss[j].name })
		p.f("<h3>RTT over time, from %s</h3><div class=\"legend\">", esc(d.self()))
		for i := range ss {
			ss[i] = thinSeries(ss[i])
			p.f("<span><i style=\"background:%s\"></i>%s</span>", ss[i].colour, esc(ss[i].name))
		}
		p.s("</div>")
		p.lineChart(900, 240, "seconds since start (multicast dashed)", "RTT (ms)", ss, nil)
	}
	if charts == 0 {
		p.s("<p class=\"note\">No RTT over time: the reports hold no rtt_samples.</p>")
	}
	p.s("<h3>Peers</h3><table id=\"peers\"><tr><th>from</th><th>peer</th><th>state</th><th>unicast sent/received</th><th>unicast loss %</th><th>unicast RTT avg ms</th><th>multicast received</th><th>multicast loss %</th><th>multicast RTT avg ms</th></tr>")
	for _, d := range docs {
		for _, pr := range d.Peers {
			p.f("<tr data-from=\"%s\" data-to=\"%s\"><td>%s</td><td>%s (%s)</td><td>%s</td><td>%d/%d</td><td data-k=\"unicast_loss_pct\">%s</td><td data-k=\"unicast_rtt_avg_ms\">%s</td><td>%d</td><td data-k=\"multicast_loss_pct\">%s</td><td data-k=\"multicast_rtt_avg_ms\">%s</td></tr>",
				esc(d.self()), esc(pr.Name), esc(d.self()), esc(pr.Name), esc(pr.Addr), esc(pr.State), pr.Unicast.Sent, pr.Unicast.Received,
				num(pr.Unicast.LossPct), num(pr.Unicast.RTTMs.Avg), pr.Multicast.Received, num(pr.Multicast.LossPct), num(pr.Multicast.RTTMs.Avg))
		}
	}
	p.s("</table>")
}

// thinSeries keeps at most MaxPoints points of a series.
func thinSeries(s series) series {
	for len(s.xs) > MaxPoints {
		xs, ys := s.xs[:0:0], s.ys[:0:0]
		for i := 0; i < len(s.xs); i += 2 {
			xs, ys = append(xs, s.xs[i]), append(ys, s.ys[i])
		}
		s.xs, s.ys = xs, ys
	}
	return s
}

// heatmap draws one cast's matrix: rows hear columns.
func (p *page) heatmap(m *pingMatrix, cast string, ci int) {
	n := len(m.hosts)
	cs := math.Max(14, math.Min(64, 480/float64(n)))
	lw := 0
	for _, h := range m.hosts {
		lw = max(lw, len(h))
	}
	left := float64(min(lw, 18))*6.5 + 8
	top := left
	w, h := left+cs*float64(n)+4, top+cs*float64(n)+4
	p.f("<svg width=\"%.0f\" height=\"%.0f\" role=\"img\" data-cast=\"%s\">", w, h, cast)
	for i, host := range m.hosts {
		p.f("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", left-4, top+cs*(float64(i)+0.5)+4, esc(host))
		x := left + cs*(float64(i)+0.5)
		p.f("<text x=\"%.1f\" y=\"%.1f\" transform=\"rotate(-60 %.1f %.1f)\">%s</text>", x, top-4, x, top-4, esc(host))
	}
	for i, from := range m.hosts {
		for j, to := range m.hosts {
			x, y := left+cs*float64(j), top+cs*float64(i)
			if from == to {
				p.f("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#5a6270\"/>", x, y, cs-1, cs-1)
				continue
			}
			c, ok := m.cells[[2]string{from, to}]
			if !ok || !c.Known {
				p.f("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#d9dde3\"><title>%s hears %s: not reported</title></rect>", x, y, cs-1, cs-1, esc(from), esc(to))
				continue
			}
			loss := c.UnicastLossPct
			if cast == "multicast" {
				loss = c.MulticastLossPct
			}
			rtt, hasRTT := m.rtt[[2]string{from, to}]
			rttText := ""
			if hasRTT {
				rttText = fmt.Sprintf(", RTT %s ms", num(rtt[ci]))
			}
			p.f("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" data-from=\"%s\" data-to=\"%s\" data-loss=\"%s\"><title>%s hears %s by %s: %s%% loss%s (%s)</title></rect>",
				x, y, cs-1, cs-1, heat(loss), esc(from), esc(to), num(loss), esc(from), esc(to), cast, num(loss), rttText, esc(c.Source))
			if cs >= 40 {
				p.f("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" style=\"font-weight:bold\">%s%%</text>", x+cs/2, y+cs/2-1, short(loss))
				if hasRTT {
					p.f("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%sms</text>", x+cs/2, y+cs/2+12, short(rtt[ci]))
				}
			}
		}
	}
	p.s("</svg>\n")
}
