package ping

import (
	"sync"
	"time"

	"github.com/mcasttools/mcast/internal/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
)

// The metrics of a running mcast ping (docs/ping.md). Broadcast answers
// count as multicast, as in the RTT samples.
var (
	descQueries   = prometheus.NewDesc("mcast_ping_queries_total", "Queries sent to the peer and old enough to have been answered.", []string{"peer"}, nil)
	descAnswers   = prometheus.NewDesc("mcast_ping_answers_total", "Of those queries, the ones the peer's answer arrived for, by unicast or multicast (broadcast counts as multicast).", []string{"peer", "cast"}, nil)
	descRTT       = prometheus.NewDesc("mcast_ping_rtt_seconds", "Round-trip time of the peer's answers (duplicates left out).", []string{"peer", "cast"}, nil)
	descLastHeard = prometheus.NewDesc("mcast_ping_peer_last_heard_seconds", "Seconds since the peer last pinged this host (absent until it does).", []string{"peer"}, nil)
	descUp        = prometheus.NewDesc("mcast_ping_peer_up", "1 when the peer pinged this host within three query intervals (at least 3s).", []string{"peer"}, nil)
)

// rttBuckets are the RTT histogram's upper bounds in seconds: from a LAN's
// 100µs to a WAN tunnel's second.
var rttBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// snapshotWait bounds how long a scrape waits for Run to answer: a run
// that has ended exports what it last reported.
const snapshotWait = 2 * time.Second

// rttHist is one peer's and cast's histogram: counts per bucket (not
// cumulative), the last one for above every bound.
type rttHist struct {
	counts [14]uint64
	sum    float64
}

type histKey struct {
	peer string
	cast string
}

// Monitor exports a running ping's per-peer loss, RTT, last-heard time and
// up/down as Prometheus metrics. Run feeds it: the answers' RTTs as they
// come, and the peers' counts when a scrape asks (Run takes them from the
// Engine on its own goroutine, so the engine needs no lock). Its zero
// value is not ready: use NewMonitor.
type Monitor struct {
	requests chan chan []PeerHealth
	mu       sync.Mutex
	rtt      map[histKey]*rttHist
	last     []PeerHealth // the last snapshot Run gave
}

// NewMonitor makes a Monitor; pass it to Run in RunOptions.Monitor.
func NewMonitor() *Monitor {
	return &Monitor{requests: make(chan chan []PeerHealth), rtt: map[histKey]*rttHist{}}
}

// event records an answer's RTT. Run calls it for every event.
func (m *Monitor) event(ev Event) {
	s, ok := Sample(ev, 0)
	if !ok {
		return
	}
	sec := ev.RTT.Seconds()
	i := 0
	for i < len(rttBuckets) && sec > rttBuckets[i] {
		i++
	}
	m.mu.Lock()
	h := m.rtt[histKey{s.Peer, s.Cast}]
	if h == nil {
		h = &rttHist{}
		m.rtt[histKey{s.Peer, s.Cast}] = h
	}
	h.counts[i]++
	h.sum += sec
	m.mu.Unlock()
}

// serve answers a scrape's request for the peers' counts; Run calls it on
// its goroutine.
func (m *Monitor) serve(reply chan []PeerHealth, mach Machine, now time.Time) {
	var h []PeerHealth
	if hm, ok := mach.(interface{ Health(time.Time) []PeerHealth }); ok {
		h = hm.Health(now)
	}
	reply <- h
}

// snapshot asks Run for the peers' counts, or gives the last ones when Run
// does not answer in time (it has ended).
func (m *Monitor) snapshot() []PeerHealth {
	reply := make(chan []PeerHealth, 1)
	t := time.NewTimer(snapshotWait)
	defer t.Stop()
	select {
	case m.requests <- reply:
		select {
		case h := <-reply:
			m.mu.Lock()
			m.last = h
			m.mu.Unlock()
			return h
		case <-t.C:
		}
	case <-t.C:
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.last
}

// Describe sends the descriptions of every metric.
func (m *Monitor) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueries, descAnswers, descRTT, descLastHeard, descUp, buildinfo.Desc()} {
		ch <- d
	}
}

// Collect sends the metrics as of now.
func (m *Monitor) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, p := range m.snapshot() {
		ch <- prometheus.MustNewConstMetric(descQueries, prometheus.CounterValue, float64(p.Queries), p.Name)
		ch <- prometheus.MustNewConstMetric(descAnswers, prometheus.CounterValue, float64(p.Unicast), p.Name, "unicast")
		ch <- prometheus.MustNewConstMetric(descAnswers, prometheus.CounterValue, float64(p.Multicast), p.Name, "multicast")
		up := 0.0
		if p.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descUp, prometheus.GaugeValue, up, p.Name)
		if !p.LastHeard.IsZero() {
			ch <- prometheus.MustNewConstMetric(descLastHeard, prometheus.GaugeValue, max(now.Sub(p.LastHeard).Seconds(), 0), p.Name)
		}
		for _, cast := range []string{"unicast", "multicast"} {
			ch <- m.histogram(p.Name, cast)
		}
	}
	buildinfo.Collect(ch)
}

// histogram is the RTT histogram of peer's answers by cast, empty until
// the first one, so that every peer has its series from the start.
func (m *Monitor) histogram(peer, cast string) prometheus.Metric {
	m.mu.Lock()
	var h rttHist
	if p := m.rtt[histKey{peer, cast}]; p != nil {
		h = *p
	}
	m.mu.Unlock()
	buckets := make(map[float64]uint64, len(rttBuckets))
	var n uint64
	for i, le := range rttBuckets {
		n += h.counts[i]
		buckets[le] = n
	}
	n += h.counts[len(rttBuckets)]
	return prometheus.MustNewConstHistogram(descRTT, n, h.sum, buckets, peer, cast)
}
