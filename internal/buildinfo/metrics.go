package buildinfo

import "github.com/prometheus/client_golang/prometheus"

// descBuildInfo is the mcast_build_info metric every mcast metrics
// endpoint exports.
var descBuildInfo = prometheus.NewDesc("mcast_build_info", "Always 1; the labels say which mcast build runs.", []string{"version", "commit", "goversion"}, nil)

// Desc is the description of mcast_build_info, for a collector's Describe.
func Desc() *prometheus.Desc { return descBuildInfo }

// Collect sends mcast_build_info (always 1, labelled with Get's version,
// commit and Go version), for a collector's Collect.
func Collect(ch chan<- prometheus.Metric) {
	bi := Get()
	ch <- prometheus.MustNewConstMetric(descBuildInfo, prometheus.GaugeValue, 1, bi.Version, bi.Commit, bi.GoVersion)
}
