package report_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/report"
)

var t0 = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func render(t testing.TB, c *report.Collector) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(&b, "test <report>", t0); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func add(t testing.TB, c *report.Collector, recs ...any) {
	t.Helper()
	enc := json.NewEncoder(c)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
}

// dataK returns the text of the element whose data-k is key.
func dataK(t *testing.T, page, key string) string {
	t.Helper()
	m := regexp.MustCompile(`data-k="` + regexp.QuoteMeta(key) + `"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no data-k=%q in the page", key)
	}
	return m[1]
}

func flow(recv, lost, reord uint64, hist bool) map[string]any {
	f := map[string]any{"iface": "eth0", "group": "239.1.1.1", "source": "10.0.0.1", "source_port": 4000, "sender_id": "0000abcd",
		"received": recv, "expected": recv + lost, "lost": lost, "loss_pct": 100 * float64(lost) / float64(recv+lost), "duplicates": 0, "reordered": reord,
		"rate_pps": 99.5, "latency_ms": map[string]float64{"min": 0.05, "avg": 0.08, "p50": 0.07, "p99": 0.2, "max": 0.31}, "jitter_ms": 0.01}
	if hist {
		f["latency_histogram"] = []map[string]any{{"lo_ms": 0.05, "hi_ms": 0.06, "count": 40}, {"lo_ms": 0.07, "hi_ms": 0.072, "count": 50}, {"lo_ms": 0.3, "hi_ms": 0.31, "count": 10}}
	}
	return f
}

func recvRecord(typ string, el float64, flows ...map[string]any) map[string]any {
	var tot [3]uint64
	for _, f := range flows {
		tot[0] += f["received"].(uint64)
		tot[1] += f["lost"].(uint64)
		tot[2] += f["reordered"].(uint64)
	}
	if flows == nil {
		flows = []map[string]any{}
	}
	r := map[string]any{"type": "recv." + typ, "time": t0.Add(time.Duration(el * 1e9)), "elapsed_seconds": el, "flows": flows, "foreign": []any{},
		"totals": map[string]any{"received": tot[0], "lost": tot[1], "expected": tot[0] + tot[1], "loss_pct": 1.5, "duplicates": 0, "reordered": tot[2]}}
	if typ == "summary" {
		r["paths"] = []map[string]any{{"iface": "eth0", "wire": tot[0], "wire_self": 0, "loopback": 0, "explain": "eth0: received"}}
	}
	return r
}

func TestRecv(t *testing.T) {
	c := report.New()
	add(t, c, map[string]any{"type": "recv.start", "time": t0, "interfaces": []string{"eth0"}},
		recvRecord("report", 1, flow(100, 0, 0, false)),
		recvRecord("report", 2, flow(190, 10, 0, false)),
		recvRecord("report", 3, flow(290, 10, 2, false)),
		recvRecord("summary", 3.5, flow(340, 10, 2, true)))
	page := render(t, c)
	for key, want := range map[string]string{"totals.received": "340", "totals.lost": "10", "totals.reordered": "2", "flows": "1",
		"p50": "0.07", "p99": "0.2", "wire": "340", "received": "340"} {
		if got := dataK(t, page, key); got != want {
			t.Errorf("%s: page shows %q, want %q", key, got, want)
		}
	}
	for _, want := range []string{"10 lost in 1..2 s", "2 reordered in 2..3 s", "test &lt;report&gt;", `data-flow="eth0 239.1.1.1 10.0.0.1:4000 0000abcd"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "data-empty") || strings.Contains(page, "http") {
		t.Error("page says it is empty, or fetches something")
	}
}

func TestRecvEvents(t *testing.T) {
	c := report.New()
	add(t, c, map[string]any{"type": "recv.start", "time": t0})
	for i, seq := range []uint64{0, 1, 2, 5, 4, 6} {
		kind := "ok"
		if seq == 4 {
			kind = "reordered"
		}
		add(t, c, map[string]any{"type": "recv.datagram", "time": t0.Add(time.Duration(i) * 400 * time.Millisecond), "iface": "eth0", "group": "239.1.1.1",
			"source": "10.0.0.1", "source_port": 4000, "sender_id": "0000abcd", "seq": seq, "class": kind})
	}
	add(t, c, recvRecord("summary", 3, flow(6, 1, 1, true)))
	page := render(t, c)
	if !strings.Contains(page, "2 lost in 1..2 s") || !strings.Contains(page, "1 reordered in 1..2 s") {
		t.Errorf("loss and reordering from datagram events not marked: %s", regexp.MustCompile(`<title>[^<]*(lost|reordered) in[^<]*</title>`).FindAllString(page, -1))
	}
}

func TestEmpty(t *testing.T) {
	for name, recs := range map[string][]any{
		"no records": nil,
		"recv":       {map[string]any{"type": "recv.start", "time": t0}, recvRecord("summary", 2)},
		"ping":       {map[string]any{"type": "ping.report", "local": "10.0.0.1", "hosts": []string{"a"}, "peers": []any{}, "matrix": []any{}}},
		"watch":      {map[string]any{"type": "watch.start", "time": t0}, map[string]any{"type": "watch.summary", "groups": []any{}}},
		"relay":      {map[string]any{"type": "relay.status", "node": "a", "uptime_seconds": 3, "peers": []any{}}},
	} {
		c := report.New()
		add(t, c, recs...)
		if page := render(t, c); !strings.Contains(page, `data-empty="1">Nothing was measured`) && !strings.Contains(page, "nothing was measured") {
			t.Errorf("%s: page does not say that nothing was measured", name)
		}
	}
}

func TestUnknownRecord(t *testing.T) {
	c := report.New()
	if _, err := c.Write([]byte(`{"hello": 1}`)); err == nil || !strings.Contains(err.Error(), "hello") {
		t.Fatalf("want an error naming the record, got %v", err)
	}
	if err := c.AddFrom(strings.NewReader(`{"type":"recv.start"} {"type":`)); err == nil || !strings.Contains(err.Error(), "JSON value 2") {
		t.Fatalf("want an error naming value 2, got %v", err)
	}
}

// pingDoc is host self's report toward the others of hosts.
func pingDoc(self int, hosts []string, loss func(from, to int) float64) map[string]any {
	var peers, cells, rtts []map[string]any
	for j, h := range hosts {
		if j == self {
			continue
		}
		peers = append(peers, map[string]any{"name": h, "address": h, "state": "done",
			"unicast":   map[string]any{"sent": 10, "received": 10, "loss_pct": loss(self, j), "rtt_ms": map[string]any{"avg": 0.2 + float64(j)/10}},
			"multicast": map[string]any{"sent": 10, "received": 10, "loss_pct": loss(self, j), "rtt_ms": map[string]any{"avg": 0.3}}})
		for k := range 10 {
			rtts = append(rtts, map[string]any{"peer": h, "cast": "unicast", "seq": k, "at_seconds": float64(k) / 5, "rtt_ms": 0.2 + float64(k%3)/10})
			rtts = append(rtts, map[string]any{"peer": h, "cast": "multicast", "seq": k, "at_seconds": float64(k) / 5, "rtt_ms": 0.3})
		}
	}
	for i := range hosts {
		for j := range hosts {
			if i != j {
				src := "reported"
				if i == self {
					src = "measured"
				}
				cells = append(cells, map[string]any{"from": hosts[i], "to": hosts[j], "known": true, "origin": src,
					"unicast_loss_pct": loss(i, j), "multicast_loss_pct": loss(i, j) * 2})
			}
		}
	}
	return map[string]any{"type": "ping.report", "local": hosts[self], "group": "232.43.211.234", "mode": "ssm", "protocol": "omping", "hosts": hosts, "peers": peers, "matrix": cells, "rtt_samples": rtts}
}

func TestPing(t *testing.T) {
	hosts := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}
	loss := func(from, to int) float64 { return float64(10 * from * to) }
	c := report.New()
	add(t, c, pingDoc(0, hosts, loss), pingDoc(2, hosts, loss))
	page := render(t, c)
	for _, want := range []string{`data-from="10.0.0.3" data-to="10.0.0.2" data-loss="20"`, `data-from="10.0.0.3" data-to="10.0.0.2" data-loss="40"`,
		`RTT over time, from 10.0.0.1`, `RTT over time, from 10.0.0.3`, `<tr data-from="10.0.0.3" data-to="10.0.0.2">`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestWatch(t *testing.T) {
	c := report.New()
	ev := func(s float64, kind, host, group string) map[string]any {
		return map[string]any{"time": t0.Add(time.Duration(s * 1e9)), "type": "watch." + kind, "source": host, "group": group, "text": kind + " " + group, "rate_pps": 50.0}
	}
	add(t, c, ev(0, "start", "", ""), ev(0.5, "query", "10.0.0.1", ""), ev(1, "join", "10.0.0.2", "239.1.1.1"), ev(2, "data", "10.0.0.3", "239.1.1.1"),
		ev(3, "rate", "", "239.1.1.1"), ev(4, "rate", "", "239.1.1.1"), ev(5, "query", "10.0.0.0", ""), ev(6, "leave", "10.0.0.2", "239.1.1.1"),
		map[string]any{"type": "watch.summary", "groups": []map[string]any{{"group": "239.1.1.1", "packets": 250, "bytes": 2500, "rate_pps": 50.5}}})
	page := render(t, c)
	for key, want := range map[string]string{"events.join": "1", "events.leave": "1", "events.query": "2", "packets": "250", "rate_pps": "50.5"} {
		if got := dataK(t, page, key); got != want {
			t.Errorf("%s: page shows %q, want %q", key, got, want)
		}
	}
	if !strings.Contains(page, "querier now 10.0.0.0 (was 10.0.0.1)") || !strings.Contains(page, "Data rate per group") {
		t.Error("querier change or rate chart missing")
	}
}

func relayStatus(node string, up float64, peers map[string]bool, sent uint64) map[string]any {
	var ps []map[string]any
	for p, isUp := range peers {
		ps = append(ps, map[string]any{"name": p, "address": p, "port": 7474, "up": isUp, "wants": []string{"239.1.1.1"}, "sent_bytes": sent,
			"sent_datagrams": map[string]uint64{"239.1.1.1": sent / 100}})
	}
	return map[string]any{"type": "relay.status", "node": node, "uptime_seconds": up, "peers": ps, "captured": map[string]uint64{"239.1.1.1": 7},
		"emitted": map[string]uint64{"239.1.1.1": 5}, "drops": map[string]uint64{"replay": 3, "no_peer": 0}}
}

func TestRelay(t *testing.T) {
	c := report.New()
	add(t, c, relayStatus("vm1", 10, map[string]bool{"vm2": true, "vm3": false}, 1000),
		relayStatus("vm1", 12, map[string]bool{"vm2": true, "vm3": false}, 3000),
		relayStatus("vm2", 10, map[string]bool{"vm1": true}, 500))
	page := render(t, c)
	for _, want := range []string{`data-from="vm1" data-to="vm2" data-up="true"><title>vm1 to vm2: up, 1.0 kB/s`, `data-from="vm1" data-to="vm3" data-up="false"`,
		`data-from="vm2" data-to="vm1" data-up="true"><title>vm2 to vm1: up, 50 B/s`, `data-node="vm3"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if got := dataK(t, page, "drops.vm1.replay"); got != "3" {
		t.Errorf("drops shown %q, want 3", got)
	}
	if strings.Contains(page, "no_peer") {
		t.Error("a reason with no drops is drawn")
	}
}

func TestHistogramText(t *testing.T) {
	var b bytes.Buffer
	report.WriteHistogramText(&b, "239.1.1.1", []report.Bin{{LoMs: 0.05, HiMs: 0.06, Count: 40}, {LoMs: 0.07, HiMs: 0.072, Count: 80}, {LoMs: 0.3, HiMs: 0.31, Count: 1}}, 0.071, 0.305, 16)
	out := b.String()
	for _, want := range []string{"latency histogram, 239.1.1.1:", "|" + strings.Repeat("#", 40) + " 80 <- p50", " 1 <- p99"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
}

// bigRecv is a summary of n flows, each with a histogram.
func bigRecv(n int) []any {
	var flows []map[string]any
	for i := range n {
		f := flow(uint64(1000+i), uint64(i%7), uint64(i%3), true)
		f["group"] = fmt.Sprintf("239.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		flows = append(flows, f)
	}
	return []any{map[string]any{"type": "recv.start", "time": t0}, recvRecord("report", 1, flows...), recvRecord("summary", 2, flows...)}
}

func bigPing(n int) []any {
	var hosts []string
	for i := range n {
		hosts = append(hosts, fmt.Sprintf("10.0.%d.%d", i/200, i%200+1))
	}
	var docs []any
	for i := range n {
		docs = append(docs, pingDoc(i, hosts, func(from, to int) float64 { return float64((from * to) % 11) }))
	}
	return docs
}

// TestLargeRunsStaySmall: 10,000 flows or a 32-host matrix (every host's
// report) make a page of a few megabytes at most. With $MCAST_REPORT_BENCH
// set to a directory, the pages are kept there for bench/report.sh to time
// in a browser.
func TestLargeRunsStaySmall(t *testing.T) {
	for name, recs := range map[string][]any{"flows-10000": bigRecv(10000), "matrix-32": bigPing(32)} {
		c := report.New()
		add(t, c, recs...)
		page := render(t, c)
		if n := len(page); n > 4<<20 {
			t.Errorf("%s: page is %d bytes", name, n)
		} else {
			t.Logf("%s: page is %d bytes", name, n)
		}
		if dir := os.Getenv("MCAST_REPORT_BENCH"); dir != "" {
			if err := os.WriteFile(filepath.Join(dir, name+".html"), []byte(page), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func benchRender(b *testing.B, recs []any) {
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, r := range recs {
		enc.Encode(r)
	}
	b.ResetTimer()
	for b.Loop() {
		c := report.New()
		if err := c.AddFrom(bytes.NewReader(in.Bytes())); err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		c.Render(&out, "bench", t0)
		b.ReportMetric(float64(out.Len()), "page-bytes")
	}
}

// BenchmarkRender10000Flows decodes and draws a recv run of 10,000 flows.
func BenchmarkRender10000Flows(b *testing.B) { benchRender(b, bigRecv(10000)) }

// BenchmarkRender32HostMatrix decodes and draws 32 hosts' ping reports.
func BenchmarkRender32HostMatrix(b *testing.B) { benchRender(b, bigPing(32)) }
