package integration_test

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// pingSeries is one scrape of mcast ping's /metrics: every sample's value
// by its series (name and labels as printed), comments left out.
type pingSeries map[string]float64

func parseScrape(t *testing.T, text string) pingSeries {
	t.Helper()
	s := pingSeries{}
	for _, line := range strings.Split(text, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape line %q: %v", line, err)
		}
		s[line[:i]] = v
	}
	return s
}

// counts is the queries settled toward peer and the answers by cast.
func (s pingSeries) counts(t *testing.T, peer string) (queries, unicast, multicast float64) {
	t.Helper()
	get := func(k string) float64 {
		v, ok := s[k]
		if !ok {
			t.Fatalf("no series %s", k)
		}
		return v
	}
	return get(fmt.Sprintf(`mcast_ping_queries_total{peer=%q}`, peer)),
		get(fmt.Sprintf(`mcast_ping_answers_total{cast="unicast",peer=%q}`, peer)),
		get(fmt.Sprintf(`mcast_ping_answers_total{cast="multicast",peer=%q}`, peer))
}

// TestPingMetricsMulticastCut: three hosts run `mcast ping --count 0
// --metrics`; with the group's port dropped on n3's input, n3's metrics
// show every peer's multicast lost and its unicast whole, the others' show
// nothing lost; and the alert rules, fed series made from the scraped
// numbers, fire for n3's peers only.
func TestPingMetricsMulticastCut(t *testing.T) {
	promtool := needTool(t, "promtool", "prometheus")
	needTool(t, "python3", "python3")
	l := labtest.Up(t, "lan", "--nodes", "3")
	hosts := []string{"10.0.0.1", "10.0.0.2", "10.0.0.3"}
	const addr = "127.0.0.1:9464"
	for _, n := range lan3 {
		p := l.StartMcast(n, append([]string{"ping", "--quiet", "--count", "0", "--interval", "100ms", "--metrics", addr}, hosts...)...)
		defer p.Stop()
	}
	peersOf := func(node string) []string {
		var out []string
		for i, h := range hosts {
			if lan3[i] != node {
				out = append(out, h)
			}
		}
		return out
	}
	scrapeAll := func() map[string]pingSeries {
		m := map[string]pingSeries{}
		for _, n := range lan3 {
			m[n] = parseScrape(t, scrapeMetrics(t, l, n, addr))
		}
		return m
	}
	// Every host hears every peer both ways before the cut.
	deadline := time.Now().Add(15 * time.Second)
	for ready := false; !ready; {
		if time.Now().After(deadline) {
			t.Fatalf("not every host hears every peer by multicast after 15s: %v", scrapeAll())
		}
		time.Sleep(300 * time.Millisecond)
		ready = true
		for n, s := range scrapeAll() {
			for _, p := range peersOf(n) {
				if _, _, mc := s.counts(t, p); mc == 0 || s[fmt.Sprintf(`mcast_ping_peer_up{peer=%q}`, p)] != 1 {
					ready = false
				}
			}
		}
	}
	for _, cmd := range [][]string{
		{"nft", "add", "table", "inet", "pingcut"},
		{"nft", "add", "chain", "inet", "pingcut", "in", "{ type filter hook input priority 0; }"},
		{"nft", "add", "rule", "inet", "pingcut", "in", "ip", "daddr", "232.43.211.234", "udp", "dport", "4321", "drop"},
	} {
		l.MustRun("n3", cmd...)
	}
	time.Sleep(1500 * time.Millisecond) // past the queries in flight and their grace
	before := scrapeAll()
	const window = 5 * time.Second
	time.Sleep(window)
	after := scrapeAll()

	var series, alerts strings.Builder
	for _, n := range lan3 {
		for _, p := range peersOf(n) {
			q0, u0, m0 := before[n].counts(t, p)
			q1, u1, m1 := after[n].counts(t, p)
			dq, du, dm := q1-q0, u1-u0, m1-m0
			if dq < 30 {
				t.Fatalf("%s toward %s: only %.0f queries settled in %s", n, p, dq, window)
			}
			uniLoss, multiLoss := 1-du/dq, 1-dm/dq
			t.Logf("%s from %s: %.0f queries, unicast loss %.1f%%, multicast loss %.1f%%", n, p, dq, 100*uniLoss, 100*multiLoss)
			if uniLoss > 0.03 {
				t.Errorf("%s toward %s: unicast loss %.1f%%, want 0", n, p, 100*uniLoss)
			}
			switch {
			case n == "n3" && dm != 0:
				t.Errorf("n3 heard %s by multicast %.0f times through the cut", p, dm)
			case n != "n3" && multiLoss > 0.03:
				t.Errorf("%s toward %s: multicast loss %.1f%%, want 0", n, p, 100*multiLoss)
			}
			// Each counter goes on for 20 minutes at the rate scraped.
			perMin := func(d float64) float64 { return math.Round(d / window.Seconds() * 60) }
			labels := fmt.Sprintf(`instance="%s:9464", job="mcast-ping", peer=%q`, n, p)
			for _, c := range []struct {
				name   string
				v0, dv float64
			}{{`mcast_ping_queries_total{` + labels + `}`, q1, dq}, {`mcast_ping_answers_total{cast="unicast", ` + labels + `}`, u1, du},
				{`mcast_ping_answers_total{cast="multicast", ` + labels + `}`, m1, dm}} {
				fmt.Fprintf(&series, "      - series: '%s'\n        values: '%g+%gx20'\n", c.name, c.v0, perMin(c.dv))
			}
			fmt.Fprintf(&series, "      - series: 'mcast_ping_peer_up{%s}'\n        values: '%gx20'\n", labels, after[n][fmt.Sprintf(`mcast_ping_peer_up{peer=%q}`, p)])
			if n == "n3" {
				fmt.Fprintf(&alerts, `          - exp_labels: {severity: warning, instance: "n3:9464", job: mcast-ping, peer: %q}
            exp_annotations:
              summary: "mcast ping n3:9464: multicast from %[1]s lost above 5%% for 5 minutes"
              description: "More than 5%% of the multicast answers from %[1]s did not arrive for 5 minutes while its unicast answers may still: a switch's IGMP/MLD snooping, a firewall dropping the group, or a missing multicast route."
`, p)
			}
		}
	}
	checkPingMetricsExported(t, after)
	rules, err := filepath.Abs(repoFile("dist", "prometheus", "mcast-ping.rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	test := fmt.Sprintf(`rule_files:
  - %s
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
%s    alert_rule_test:
      - eval_time: 4m
        alertname: McastPingMulticastLoss
        exp_alerts: []
      - eval_time: 12m
        alertname: McastPingMulticastLoss
        exp_alerts:
%s      - eval_time: 12m
        alertname: McastPingPeerNotHeard
        exp_alerts: []
`, strconv.Quote(rules), series.String(), alerts.String())
	f := filepath.Join(t.TempDir(), "scraped.rules.test.yml")
	if err := os.WriteFile(f, []byte(test), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "test", "rules", f).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules on the scraped series: %v\n%s\n%s", err, out, test)
	}
}

// checkPingMetricsExported: every metric the ping's dashboard and alert
// rules query is in the scrape of a running mcast ping.
func checkPingMetricsExported(t *testing.T, scrapes map[string]pingSeries) {
	t.Helper()
	exported := map[string]bool{}
	for _, s := range scrapes {
		for k := range s {
			exported[metricName.FindString(k)] = true
		}
	}
	names := queriedMetrics(t, "mcast-ping")
	if len(names) < 5 {
		t.Fatalf("only %d metric names found in the ping's dashboard and rules: %v", len(names), names)
	}
	for _, name := range names {
		if !exported[name] {
			var got []string
			for k := range exported {
				got = append(got, k)
			}
			sort.Strings(got)
			t.Errorf("%s is queried by dist/grafana/mcast-ping.json or dist/prometheus/mcast-ping.rules.yml but mcast ping does not export it (exported: %v)", name, got)
		}
	}
}
