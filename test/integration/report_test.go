package integration_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/ping"
	"github.com/mcasttools/mcast/internal/relay"
)

// saveJSON writes a command's --json output where mcast report can read it.
func saveJSON(t *testing.T, dir, name, out string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReportRecv: a receiver with 5 % of its datagrams dropped writes its
// --json and its --report; the page in chromium shows the totals, every
// flow, p50/p99 and the paths the JSON has, and so does the page mcast
// report draws from the saved JSON.
func TestReportRecv(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	dir := t.TempDir()
	l.MustRun("n2", "nft", "add", "table", "inet", "t")
	l.MustRun("n2", "nft", "add", "chain", "inet", "t", "in", "{ type filter hook input priority 0; }")
	l.MustRun("n2", "nft", "add", "rule", "inet", "t", "in", "udp", "dport", "5000", "meta", "length", "> 60", "numgen", "random", "mod", "20", "0", "drop")
	// Some reordering too, where the kernel has netem.
	if r := l.Run("n1", "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay", "3ms", "reorder", "95%", "50%"); r.Code != 0 {
		t.Logf("no reordering (netem: %s)", r)
	}
	page := filepath.Join(dir, "recv.html")
	p := startRecv(t, l, "n2", "239.1.1.1:5000", "--report", page)
	l.MustRun("n1", l.Bin, "send", "239.1.1.1:5000", "--rate", "400", "--count", "2000", "--size", "100")
	res := p.Wait()
	rep := summaryOf(t, res)
	if len(rep.Flows) != 1 || rep.Totals.Lost == 0 || len(rep.Paths) == 0 || len(rep.Flows[0].Histogram) == 0 {
		t.Fatalf("want one flow with loss, paths and a histogram: %+v", rep)
	}
	again := filepath.Join(dir, "again.html")
	l.MustRun("n2", l.Bin, "report", "--output", again, saveJSON(t, dir, "recv.json", res.Stdout))
	for _, file := range []string{page, again} {
		dom := dumpDOM(t, file)
		tot := rep.Totals
		for key, want := range map[string]uint64{"totals.received": tot.Received, "totals.lost": tot.Lost, "totals.duplicates": tot.Duplicates, "totals.reordered": tot.Reordered} {
			sameNumber(t, key, domK(t, dom, key), float64(want))
		}
		sameNumber(t, "totals.loss_pct", domK(t, dom, "totals.loss_pct"), tot.LossPct)
		sameNumber(t, "flows", domK(t, dom, "flows"), float64(len(rep.Flows)))
		for _, f := range rep.Flows {
			row := domRow(t, dom, "tr", fmt.Sprintf(`data-flow="%s %s %s:%d %s"`, f.Iface, f.Group, f.Source, f.SourcePort, f.SenderID))
			for key, want := range map[string]float64{"received": float64(f.Received), "lost": float64(f.Lost), "loss_pct": f.LossPct,
				"duplicates": float64(f.Duplicates), "reordered": float64(f.Reordered), "pps": f.PPS, "p50": f.LatencyMs.P50, "p99": f.LatencyMs.P99} {
				sameNumber(t, "flow "+key, domK(t, row, key), want)
			}
		}
		for _, n := range rep.Paths {
			card := domRow(t, dom, "div", fmt.Sprintf(`class="card" data-iface="%s"`, n.Iface))
			sameNumber(t, n.Iface+" wire", domK(t, card, "wire"), float64(n.Wire))
			sameNumber(t, n.Iface+" loopback", domK(t, card, "loopback"), float64(n.Loopback))
		}
		if !strings.Contains(dom, " lost in ") {
			t.Errorf("%s: no loss marked on the rate over time", file)
		}
	}
	screenshot(t, page, "report-recv")
}

// TestReportRecvEmpty: a receiver that got nothing says so in its report.
func TestReportRecvEmpty(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	page := filepath.Join(t.TempDir(), "empty.html")
	l.MustRun("n2", l.Bin, "recv", "--timeout", "1s", "--report", page, "239.1.1.1:5000")
	dom := dumpDOM(t, page)
	if !strings.Contains(dom, `data-empty="1">Nothing was measured`) {
		t.Errorf("the page of an empty run does not say that nothing was measured")
	}
	screenshot(t, page, "empty")
}

// TestReportPing: three hosts ping each other, n1 dropping 30 % of the
// multicast answers; each host's --report and the page mcast report
// draws from the three saved reports show the JSON's matrix cells.
func TestReportPing(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "3")
	dir := t.TempDir()
	l.MustRun("n1", "nft", "add", "table", "inet", "t")
	l.MustRun("n1", "nft", "add", "chain", "inet", "t", "in", "{ type filter hook input priority 0; }")
	l.MustRun("n1", "nft", "add", "rule", "inet", "t", "in", "ip", "daddr", "232.43.211.234", "numgen", "random", "mod", "10", "<", "3", "drop")
	hosts := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}
	procs := map[string]*labtest.Proc{}
	for _, n := range []string{"n1", "n2", "n3"} {
		procs[n] = l.StartMcast(n, append([]string{"ping", "--json", "--count", "30", "--interval", "100ms", "--report", filepath.Join(dir, n+".html")}, hosts...)...)
	}
	reports := map[string]ping.Report{}
	var saved []string
	for _, n := range []string{"n1", "n2", "n3"} {
		r := procs[n].Wait()
		var rep ping.Report
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || r.Code != 0 {
			t.Fatalf("%s: %v: %s", n, err, r)
		}
		if len(rep.RTTs) == 0 {
			t.Errorf("%s: no rtt_samples in the JSON", n)
		}
		reports[n] = rep
		saved = append(saved, saveJSON(t, dir, n+".json", r.Stdout))
	}
	all := filepath.Join(dir, "all.html")
	l.MustRun("n1", append([]string{l.Bin, "report", "--output", all}, saved...)...)
	check := func(file string, cells []ping.Cell) {
		dom := dumpDOM(t, file)
		casts := strings.SplitN(dom, `data-cast="multicast"`, 2)
		if len(casts) != 2 {
			t.Fatalf("%s: no multicast heat map", file)
		}
		for _, c := range cells {
			if !c.Known {
				continue
			}
			for i, want := range []float64{c.UnicastLossPct, c.MulticastLossPct} {
				attr := fmt.Sprintf(`data-from="%s" data-to="%s" data-loss="`, c.From, c.To)
				j := strings.Index(casts[i], attr)
				if j < 0 {
					t.Errorf("%s: no cell %s hears %s (cast %d)", file, c.From, c.To, i)
					continue
				}
				v := casts[i][j+len(attr):]
				sameNumber(t, fmt.Sprintf("%s: %s hears %s (cast %d)", file, c.From, c.To, i), v[:strings.IndexByte(v, '"')], want)
			}
		}
		if !strings.Contains(dom, "RTT over time, from") {
			t.Errorf("%s: no RTT over time", file)
		}
	}
	check(filepath.Join(dir, "n1.html"), reports["n1"].Matrix)
	var measured []ping.Cell
	for _, r := range reports {
		for _, c := range r.Matrix {
			if c.Source == "measured" {
				measured = append(measured, c)
			}
		}
	}
	check(all, measured)
	screenshot(t, all, "report-ping")
}

// TestReportWatch: watch on n1 sees joins, data, a querier and then a
// second one; its report's counts and groups equal its --json output.
func TestReportWatch(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "3")
	page := filepath.Join(t.TempDir(), "watch.html")
	w := startWatch(t, l, "--json", "--report", page, "--report-interval", "1s", "--query-interval", "60s")
	bridge(t, l, "link", "set", "br0", "type", "bridge", "mcast_igmp_version", "3", "mcast_query_interval", "200", "mcast_startup_query_interval", "100")
	bridge(t, l, "link", "set", "br0", "type", "bridge", "mcast_querier", "1")
	r1 := l.StartMcast("n1", "recv", "--iface", "eth0", "--timeout", "5s", "239.1.2.3")
	r2 := l.StartMcast("n2", "recv", "--iface", "eth0", "--timeout", "3s", "239.1.2.3", "239.1.2.4")
	time.Sleep(500 * time.Millisecond)
	l.MustRun("n3", l.Bin, "send", "--iface", "eth0", "--rate", "50", "--count", "150", "239.1.2.3")
	l.MustRun("n3", l.Bin, "send", "--iface", "eth0", "--rate", "20", "--count", "40", "239.1.2.4")
	r1.Wait()
	r2.Wait()
	// The bridge's queries without an address first, then with one.
	w.WaitFor(`"type":"watch.query","proto":"igmp","version":3,"source":"0.0.0.0"`, 30*time.Second)
	bridge(t, l, "addr", "add", "10.0.0.254/24", "dev", "br0")
	bridge(t, l, "link", "set", "br0", "type", "bridge", "mcast_query_use_ifaddr", "1")
	w.WaitFor(`"type":"watch.query","proto":"igmp","version":3,"source":"10.0.0.254"`, 30*time.Second)
	res := w.Stop()
	counts := map[string]int{}
	var sum struct {
		Groups []struct {
			Group   string  `json:"group"`
			Packets int     `json:"packets"`
			Bytes   int     `json:"bytes"`
			Rate    float64 `json:"rate_pps"`
		} `json:"groups"`
	}
	sc := bufio.NewScanner(strings.NewReader(res.Stdout))
	for sc.Scan() {
		var ev struct {
			Kind string `json:"type"`
		}
		if json.Unmarshal(sc.Bytes(), &ev) == nil {
			counts[strings.TrimPrefix(ev.Kind, "watch.")]++
			if ev.Kind == "watch.summary" {
				json.Unmarshal(sc.Bytes(), &sum)
			}
		}
	}
	if counts["join"] == 0 || counts["query"] == 0 || len(sum.Groups) == 0 {
		t.Fatalf("want joins, queries and data: %v %+v\n%s", counts, sum, res)
	}
	dom := dumpDOM(t, page)
	for _, k := range []string{"join", "leave", "query", "data"} {
		sameNumber(t, k+" events", domK(t, dom, "events."+k), float64(counts[k]))
	}
	for _, g := range sum.Groups {
		row := domRow(t, dom, "tr", fmt.Sprintf(`data-group="%s"`, g.Group))
		sameNumber(t, g.Group+" packets", domK(t, row, "packets"), float64(g.Packets))
		sameNumber(t, g.Group+" bytes", domK(t, row, "bytes"), float64(g.Bytes))
		sameNumber(t, g.Group+" rate", domK(t, row, "rate_pps"), g.Rate)
	}
	if !strings.Contains(dom, "querier now 10.0.0.254") {
		t.Errorf("the querier change is not on the timeline; watch printed:\n%s", res)
	}
	screenshot(t, page, "report-watch")
}

// TestReportRelay: three relays of four (vm4's is never started) carry two
// groups; vm1's status --report shows each peer up or down as its --json
// does, and mcast report draws the mesh from the three saved statuses.
func TestReportRelay(t *testing.T) {
	rl := upRelayLab(t, 4)
	dir := t.TempDir()
	for _, n := range rl.nodes[:3] {
		rl.start(n, "group 239.1.1.1 239.1.1.2")
	}
	r2 := rl.StartMcast("vm2", recvArgs(200, "3s", "239.1.1.1")...)
	r3 := rl.StartMcast("vm3", recvArgs(200, "3s", "239.1.1.2")...)
	rl.waitStatus("vm1", "vm2 wanting 239.1.1.1, vm3 wanting 239.1.1.2", func(st relay.Status) bool {
		return peerWants(st, "vm2", "239.1.1.1") && peerWants(st, "vm3", "239.1.1.2")
	})
	rl.MustRun("vm1", rl.Bin, "send", "--iface", "eth0", "--count", "200", "--interval", "5ms", "239.1.1.1")
	rl.MustRun("vm1", rl.Bin, "send", "--iface", "eth0", "--count", "100", "--interval", "5ms", "239.1.1.2")
	r2.Wait()
	r3.Wait()
	var saved []string
	page := filepath.Join(dir, "vm1.html")
	var st1 relay.Status
	for _, n := range rl.nodes[:3] {
		args := []string{"relay", "status", "--admin", filepath.Join(rl.dir, n+".sock"), "--json"}
		if n == "vm1" {
			args = append(args, "--report", page)
		}
		r := rl.Mcast(n, args...)
		if r.Code != 0 {
			t.Fatalf("relay status on %s: %s", n, r)
		}
		if n == "vm1" {
			if err := json.Unmarshal([]byte(r.Stdout), &st1); err != nil {
				t.Fatal(err)
			}
		}
		saved = append(saved, saveJSON(t, dir, n+".json", r.Stdout))
	}
	mesh := filepath.Join(dir, "mesh.html")
	rl.MustRun("vm1", append([]string{rl.Bin, "report", "--output", mesh}, saved...)...)
	for _, file := range []string{page, mesh} {
		dom := dumpDOM(t, file)
		for _, p := range st1.Peers {
			if !strings.Contains(dom, fmt.Sprintf(`data-from="vm1" data-to="%s" data-up="%t"`, p.Name, p.Up)) {
				t.Errorf("%s: edge vm1 to %s not drawn %s", file, p.Name, map[bool]string{true: "up", false: "down"}[p.Up])
			}
			row := domRow(t, dom, "tr", fmt.Sprintf(`data-from="vm1" data-to="%s"`, p.Name))
			sameNumber(t, "sent bytes to "+p.Name, domK(t, row, "sent_bytes"), float64(p.SentBytes))
			sameNumber(t, "received bytes from "+p.Name, domK(t, row, "received_bytes"), float64(p.ReceivedBytes))
		}
		for reason, n := range st1.Drops {
			if n > 0 {
				sameNumber(t, "drops "+reason, domK(t, dom, "drops.vm1."+reason), float64(n))
			}
		}
	}
	if dom := dumpDOM(t, mesh); !strings.Contains(dom, `data-from="vm3" data-to="vm2" data-up="true"`) {
		t.Errorf("the mesh lacks vm3's edge to vm2")
	}
	screenshot(t, mesh, "report-relay")
}
