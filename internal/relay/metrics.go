package relay

import (
	"github.com/mcasttools/mcast/internal/buildinfo"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/prometheus/client_golang/prometheus"
)

// The metrics that export what Status knows besides the counters in
// stats.go, and the build.
var (
	descLANMembers   = prometheus.NewDesc("mcast_relay_lan_members", "Other hosts on the LAN that reported membership of a carried group.", []string{"group"}, nil)
	descUnderlay     = prometheus.NewDesc("mcast_relay_underlay_reads_total", "Datagrams read by the underlay socket (a GRO-coalesced read counts once).", nil, nil)
	descPeerLastSeen = prometheus.NewDesc("mcast_relay_peer_last_seen_seconds", "Seconds since the peer was last heard from (absent until it is heard).", []string{"peer"}, nil)
	descReloadFailed = prometheus.NewDesc("mcast_relay_reload_failures_total", "Configuration reloads refused; the running configuration stayed.", nil, nil)

	descReflected = prometheus.NewDesc("mcast_relay_reflected_datagrams_total", "Datagrams captured on one of the relay's interfaces and re-emitted on another.", nil, nil)

	moreDescs = []*prometheus.Desc{descLANMembers, descUnderlay, descPeerLastSeen, descReloadFailed, descReflected, buildinfo.Desc()}
)

// ReloadFailed counts a reload that was refused (a configuration that did
// not parse, or that Reload turned down); the running configuration stays.
func (r *Relay) ReloadFailed() { r.stats.reloadFailures.Add(1) }

// zeroConfiguredGroups gives the configured single groups captured and
// emitted counts from the start, at zero until their first datagram, so
// that rate() and absent() work on them.
func zeroConfiguredGroups(cfg *config.Config, st Status) {
	for _, p := range cfg.Groups {
		if !config.Single(p) {
			continue
		}
		g := p.Addr().String()
		for _, m := range []map[string]uint64{st.Captured, st.Emitted} {
			if _, ok := m[g]; !ok {
				m[g] = 0
			}
		}
	}
}

// collectMore sends the metrics of moreDescs but the per-peer last seen,
// which goes with the other per-peer metrics.
func collectMore(ch chan<- prometheus.Metric, st Status) {
	for g, n := range st.LANMembers {
		ch <- prometheus.MustNewConstMetric(descLANMembers, prometheus.GaugeValue, float64(n), g)
	}
	ch <- prometheus.MustNewConstMetric(descUnderlay, prometheus.CounterValue, float64(st.UnderlayReads))
	ch <- prometheus.MustNewConstMetric(descReloadFailed, prometheus.CounterValue, float64(st.ReloadFailures))
	ch <- prometheus.MustNewConstMetric(descReflected, prometheus.CounterValue, float64(st.Reflected))
	buildinfo.Collect(ch)
}
