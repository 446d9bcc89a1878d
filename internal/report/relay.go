package report

import (
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"
)

// relayPeer is one peer in a relay's status.
type relayPeer struct {
	Name           string            `json:"name"`
	Address        string            `json:"address"`
	Port           uint16            `json:"port"`
	LAN            bool              `json:"lan"`
	Up             bool              `json:"up"`
	Wants          []string          `json:"wants"`
	SentFrames     uint64            `json:"sent_frames"`
	SentBytes      uint64            `json:"sent_bytes"`
	ReceivedFrames uint64            `json:"received_frames"`
	ReceivedBytes  uint64            `json:"received_bytes"`
	SentDatagrams  map[string]uint64 `json:"sent_datagrams"`
	RecvDatagrams  map[string]uint64 `json:"received_datagrams"`
}

// relayDoc is one `mcast relay status --json`.
type relayDoc struct {
	Node          string            `json:"node"`
	Interface     string            `json:"interface"`
	UptimeSeconds float64           `json:"uptime_seconds"`
	Wants         []string          `json:"wants"`
	Peers         []relayPeer       `json:"peers"`
	Captured      map[string]uint64 `json:"captured"`
	Emitted       map[string]uint64 `json:"emitted"`
	Drops         map[string]uint64 `json:"drops"`
}

// edgeRate is the bytes/s node sent to peer: between its first and last
// status when there are two, else over its uptime.
func edgeRate(first, last *relayDoc, peer string) float64 {
	bytesOf := func(d *relayDoc) uint64 {
		for _, p := range d.Peers {
			if p.Name == peer {
				return p.SentBytes
			}
		}
		return 0
	}
	if dt := last.UptimeSeconds - first.UptimeSeconds; dt > 0 && bytesOf(last) >= bytesOf(first) {
		return float64(bytesOf(last)-bytesOf(first)) / dt
	}
	if last.UptimeSeconds > 0 {
		return float64(bytesOf(last)) / last.UptimeSeconds
	}
	return 0
}

func sortedKeys(m map[string]uint64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func renderRelay(p *page, docs []relayDoc) {
	p.s("<section id=\"relay\"><h2>mcast relay</h2>")
	defer p.s("</section>\n")
	first, last := map[string]*relayDoc{}, map[string]*relayDoc{}
	var names []string
	for i := range docs {
		d := &docs[i]
		if first[d.Node] == nil {
			first[d.Node] = d
			names = append(names, d.Node)
		}
		last[d.Node] = d
	}
	nodes := append([]string(nil), names...)
	up, total := 0, 0
	for _, n := range names {
		for _, pr := range last[n].Peers {
			total++
			if pr.Up {
				up++
			}
			if !contains(nodes, pr.Name) {
				nodes = append(nodes, pr.Name)
			}
		}
	}
	var captured, emitted, dropped uint64
	for _, n := range names {
		for _, v := range last[n].Captured {
			captured += v
		}
		for _, v := range last[n].Emitted {
			emitted += v
		}
		for _, v := range last[n].Drops {
			dropped += v
		}
	}
	p.s("<div class=\"kpis\">")
	p.kpi("nodes", "relays reporting", strconv.Itoa(len(names)), false)
	p.kpi("peers_up", "peers up", fmt.Sprintf("%d/%d", up, total), up < total)
	p.kpi("captured", "datagrams captured", num(float64(captured)), false)
	p.kpi("emitted", "datagrams emitted", num(float64(emitted)), false)
	p.kpi("dropped", "dropped", num(float64(dropped)), dropped > 0)
	p.s("</div>")
	if total == 0 && captured+emitted == 0 {
		p.empty("Nothing was measured: the relay has no peers and carried nothing.")
	}
	p.s("<div class=\"row\"><div><h3>Mesh</h3>")
	p.mesh(nodes, names, first, last)
	p.s("<div class=\"legend\"><span><i style=\"background:#2ca02c\"></i>peer up</span><span><i style=\"background:#d62728\"></i>peer down</span><span><i style=\"background:#1d3557\"></i>relay reporting</span><span><i style=\"background:#9aa3af\"></i>known as a peer only</span></div></div><div>")
	for _, n := range names {
		d := last[n]
		var drops []bar
		for _, k := range sortedKeys(d.Drops) {
			if d.Drops[k] > 0 {
				drops = append(drops, bar{label: k, value: float64(d.Drops[k]), key: "drops." + n + "." + k})
			}
		}
		p.f("<h3>Drops by reason, %s</h3>", esc(n))
		p.hbars(drops, "#d62728", "datagrams")
		var groups []bar
		for _, k := range sortedKeys(d.Captured) {
			groups = append(groups, bar{label: "captured " + k, value: float64(d.Captured[k]), key: "captured." + n + "." + k})
		}
		for _, k := range sortedKeys(d.Emitted) {
			groups = append(groups, bar{label: "emitted " + k, value: float64(d.Emitted[k]), key: "emitted." + n + "." + k})
		}
		p.f("<h3>Datagrams by group, %s</h3>", esc(n))
		p.hbars(groups, "#1f77b4", "datagrams")
	}
	p.s("</div></div><h3>Groups per peer</h3><table id=\"relay-peers\"><tr><th>relay</th><th>peer</th><th>state</th><th>wants</th><th>sent bytes</th><th>received bytes</th><th>sent datagrams by group</th><th>received datagrams by group</th></tr>")
	for _, n := range names {
		for _, pr := range last[n].Peers {
			state := "down"
			if pr.Up {
				state = "up"
			}
			p.f("<tr data-from=\"%s\" data-to=\"%s\"><td>%s</td><td>%s %s</td><td data-k=\"state\">%s</td><td>%s</td><td data-k=\"sent_bytes\">%d</td><td data-k=\"received_bytes\">%d</td><td>%s</td><td>%s</td></tr>",
				esc(n), esc(pr.Name), esc(n), esc(pr.Name), esc(net.JoinHostPort(pr.Address, strconv.Itoa(int(pr.Port)))), state, esc(strings.Join(pr.Wants, " ")), pr.SentBytes, pr.ReceivedBytes,
				esc(counts(pr.SentDatagrams)), esc(counts(pr.RecvDatagrams)))
		}
	}
	p.s("</table>")
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func counts(m map[string]uint64) string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(out, " ")
}

// mesh draws the relays on a circle, with an arrow per reported peer.
func (p *page) mesh(nodes, reporting []string, first, last map[string]*relayDoc) {
	const w, h = 520.0, 400.0
	cx, cy, r := w/2, h/2, math.Min(w, h)/2-60
	pos := map[string][2]float64{}
	for i, n := range nodes {
		a := 2*math.Pi*float64(i)/float64(len(nodes)) - math.Pi/2
		pos[n] = [2]float64{cx + r*math.Cos(a), cy + r*math.Sin(a)}
	}
	maxRate := 1.0
	for _, n := range reporting {
		for _, pr := range last[n].Peers {
			maxRate = math.Max(maxRate, edgeRate(first[n], last[n], pr.Name))
		}
	}
	p.f("<svg width=\"%.0f\" height=\"%.0f\" role=\"img\" id=\"mesh\"><defs><marker id=\"arr\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"#555\"/></marker></defs>", w, h)
	for _, n := range reporting {
		for _, pr := range last[n].Peers {
			a, b := pos[n], pos[pr.Name]
			dx, dy := b[0]-a[0], b[1]-a[1]
			l := math.Hypot(dx, dy)
			if l == 0 {
				continue
			}
			ox, oy := -dy/l*5, dx/l*5 // each direction on its own side
			x1, y1 := a[0]+dx/l*30+ox, a[1]+dy/l*30+oy
			x2, y2 := b[0]-dx/l*30+ox, b[1]-dy/l*30+oy
			rate := edgeRate(first[n], last[n], pr.Name)
			c, dash := "#2ca02c", ""
			if !pr.Up {
				c, dash = "#d62728", " stroke-dasharray=\"6 4\""
			}
			state := map[bool]string{true: "up", false: "down"}[pr.Up]
			p.f("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"%.1f\"%s marker-end=\"url(#arr)\" data-from=\"%s\" data-to=\"%s\" data-up=\"%t\"><title>%s to %s: %s, %s, %d frames sent</title></line>",
				x1, y1, x2, y2, c, 1.5+5*rate/maxRate, dash, esc(n), esc(pr.Name), pr.Up, esc(n), esc(pr.Name), state, byteRate(rate), pr.SentFrames)
			p.f("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>", x1+(x2-x1)*0.25+ox*3.2, y1+(y2-y1)*0.25+oy*3.2+4, byteRate(rate))
		}
	}
	for _, n := range nodes {
		fill := "#9aa3af"
		if last[n] != nil {
			fill = "#1d3557"
		}
		p.f("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"26\" fill=\"%s\" data-node=\"%s\"><title>%s</title></circle><text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" style=\"fill:#fff;font-weight:bold\">%s</text>",
			pos[n][0], pos[n][1], fill, esc(n), esc(n), pos[n][0], pos[n][1]+4, esc(n))
	}
	p.s("</svg>\n")
}

// byteRate prints bytes per second for people.
func byteRate(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.1f MB/s", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f kB/s", v/1e3)
	}
	return fmt.Sprintf("%.0f B/s", v)
}
