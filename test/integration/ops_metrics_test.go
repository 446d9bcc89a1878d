package integration_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
)

// TestAlertRulesPromtool: the alert rules pass `promtool check rules` and
// their unit tests (`promtool test rules`).
func TestAlertRulesPromtool(t *testing.T) {
	promtool := needTool(t, "promtool", "prometheus")
	dir := repoFile("dist", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "mcast-relay.rules.yml"},
		{"test", "rules", "mcast-relay.rules.test.yml"},
		{"check", "rules", "mcast-ping.rules.yml"},
		{"test", "rules", "mcast-ping.rules.test.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// dashboardQueries is every PromQL expression of a Grafana dashboard in
// dist/grafana (mcast-relay.json, mcast-ping.json): its panels' targets and
// its variables' queries.
func dashboardQueries(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile(repoFile("dist", "grafana", name))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("dist/grafana/%s: %v", name, err)
	}
	var qs []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			qs = append(qs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			qs = append(qs, v.Definition)
		}
	}
	return qs
}

// grafanaVars are the dashboard's variables, replaced by what Grafana
// would put there, so that promtool can parse the expressions.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__range", "1h", "$instance", ".*", "$peer", ".*", "$group", ".*")

// TestDashboardQueriesParse: every panel query of the dashboards is valid
// PromQL (promtool checks them as recording rules).
func TestDashboardQueriesParse(t *testing.T) {
	for _, name := range []string{"mcast-relay.json", "mcast-ping.json"} {
		t.Run(name, func(t *testing.T) { checkDashboardQueries(t, name) })
	}
}

func checkDashboardQueries(t *testing.T, name string) {
	promtool := needTool(t, "promtool", "prometheus")
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, q := range dashboardQueries(t, name) {
		if strings.HasPrefix(q, "label_values(") {
			continue // Grafana's own function, not PromQL
		}
		n++
		fmt.Fprintf(&b, "      - record: dashboard_query_%d\n        expr: %s\n", n, strconv.Quote(grafanaVars.Replace(q)))
	}
	if n == 0 {
		t.Fatal("the dashboard has no queries")
	}
	f := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", f).CombinedOutput(); err != nil {
		t.Errorf("the dashboard's queries do not parse: %v\n%s", err, out)
	}
}

var metricName = regexp.MustCompile(`\bmcast_[a-z0-9_]+`)

// queriedMetrics is every metric name a dashboard and an alert rules file
// (mcast-relay or mcast-ping) query, sorted.
func queriedMetrics(t *testing.T, name string) []string {
	t.Helper()
	rules, err := os.ReadFile(repoFile("dist", "prometheus", name+".rules.yml"))
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, m := range metricName.FindAllString(string(rules)+strings.Join(dashboardQueries(t, name+".json"), "\n"), -1) {
		set[m] = true
	}
	var names []string
	for m := range set {
		names = append(names, m)
	}
	sort.Strings(names)
	return names
}

// scrapeMetrics fetches node's /metrics at addr from inside its namespace.
func scrapeMetrics(t *testing.T, l *labtest.Lab, node, addr string) string {
	t.Helper()
	r := l.Run(node, "python3", "-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())",
		"http://"+addr+"/metrics")
	if r.Code != 0 {
		t.Fatalf("scraping %s on %s: %s", addr, node, r)
	}
	return r.Stdout
}

// TestRelayExportsDashboardAndRuleMetrics: every metric that the Grafana
// dashboard and the alert rules query is exported by real relays in a lab
// that carry a stream to a member on the relay's host and one on another
// host of its LAN.
func TestRelayExportsDashboardAndRuleMetrics(t *testing.T) {
	needTool(t, "python3", "python3")
	names := queriedMetrics(t, "mcast-relay")
	if len(names) < 10 {
		t.Fatalf("only %d metric names found in the dashboard and rules: %v", len(names), names)
	}
	rl := upRelayLab(t, 2)
	ns := extraNode(t, rl.Lab, "vm2r", "net2", "10.0.2.20/24", "10.0.2.1")
	// The relays are also a fleet (their peer lines and gossip), so the
	// fleet's metrics are exported too.
	gossipKey := filepath.Join(t.TempDir(), "gossip.key")
	if err := os.WriteFile(gossipKey, []byte(base64.StdEncoding.EncodeToString([]byte("ops-metrics-test-gossip-key-0032"))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range rl.nodes {
		rl.start(n, "group 239.1.1.1 239.1.1.9", "metrics 127.0.0.1:9474", "gossip-key "+gossipKey, "join 10.0.1.10")
	}
	const n = 100
	local := rl.StartMcast("vm2", recvArgs(n, "4s", "239.1.1.1")...)
	other := labtest.StartNS(t, ns, append([]string{rl.Bin}, recvArgs(n, "4s", "239.1.1.1")...)...)
	rl.waitStatus("vm2", "members on its host and its LAN", func(st relay.Status) bool {
		return st.Members["239.1.1.1"] == 1 && st.LANMembers["239.1.1.1"] == 1
	})
	rl.waitStatus("vm1", "vm2 wanting 239.1.1.1", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", "239.1.1.1"); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	scraped := scrapeMetrics(t, rl.Lab, "vm1", "127.0.0.1:9474") + scrapeMetrics(t, rl.Lab, "vm2", "127.0.0.1:9474")
	exactlyOnceJSON(t, "vm2 239.1.1.1", local.Wait(), n, "10.0.1.10")
	exactlyOnceJSON(t, "vm2r 239.1.1.1", other.Wait(), n, "10.0.1.10")

	exported := map[string]bool{}
	for _, line := range strings.Split(scraped, "\n") {
		if m := metricName.FindString(line); m != "" && !strings.HasPrefix(line, "#") {
			exported[m] = true
		}
	}
	for _, name := range names {
		if !exported[name] {
			t.Errorf("%s is queried by dist/grafana or dist/prometheus but no relay exports it", name)
		}
	}
	// The silent group has series from the start.
	for _, want := range []string{`mcast_relay_captured_datagrams_total{group="239.1.1.9"} 0`, `mcast_relay_emitted_datagrams_total{group="239.1.1.9"} 0`} {
		if !strings.Contains(scraped, want) {
			t.Errorf("no %s in the scrape", want)
		}
	}
	if t.Failed() {
		t.Logf("queried: %v\nscraped:\n%s", names, scraped)
	}
}
