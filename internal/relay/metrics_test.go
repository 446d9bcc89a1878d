package relay

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// TestMetricsExportWhatStatusKnows: the collector exports the LAN members,
// underlay reads, per-peer last seen, refused reloads and the build, and
// the configured single groups have captured and emitted series at zero
// before any datagram.
func TestMetricsExportWhatStatusKnows(t *testing.T) {
	r := relayFromConf(t, "node a\nlisten 10.0.1.10:7474\ninterface eth0\nkey /k\npeer b 10.0.2.10:7474\ngroup 239.1.1.1 239.2.0.0/16\n")
	r.stats.underlayReads.Add(7)
	r.ReloadFailed()
	for _, p := range r.peers {
		p.lastSeen.Store(time.Now().Add(-2 * time.Second).UnixNano())
	}
	r.mu.Lock()
	r.lanCount[netip.MustParseAddr("239.1.1.1")] = 3
	r.mu.Unlock()

	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&b, mf)
	}
	text := b.String()
	for _, want := range []string{
		`mcast_relay_underlay_reads_total 7`,
		`mcast_relay_reload_failures_total 1`,
		`mcast_relay_lan_members{group="239.1.1.1"} 3`,
		`mcast_relay_captured_datagrams_total{group="239.1.1.1"} 0`,
		`mcast_relay_emitted_datagrams_total{group="239.1.1.1"} 0`,
		`mcast_relay_peer_last_seen_seconds{peer="b"} 2`,
		`mcast_build_info{`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %s in\n%s", want, text)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "mcast_relay_captured_datagrams_total"); err != nil || n != 1 {
		t.Errorf("captured series before any datagram: %d (%v), want 1 (the single group only, not the /16)", n, err)
	}
	if r.Status().ReloadFailures != 1 {
		t.Errorf("status reload_failures %d, want 1", r.Status().ReloadFailures)
	}
}
