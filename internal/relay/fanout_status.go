package relay

// Fan-out in status and metrics.

import (
	"slices"
	"strings"

	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"github.com/prometheus/client_golang/prometheus"
)

// FanoutGroup is one group this relay sends through reflectors.
type FanoutGroup struct {
	Group string `json:"group"` // a group, or "broadcast:PORT"
	// Wanting is how many peers want it, Frames how many frames carry
	// each of its datagrams from this relay (one per reflector).
	Wanting    int      `json:"wanting"`
	Frames     int      `json:"frames"`
	Reflectors []string `json:"reflectors"` // the peers chosen, best first
}

// fanoutGroups lists the fan-out plans of t, by group.
func fanoutGroups(t *routeTable) []FanoutGroup {
	out := []FanoutGroup{}
	if t == nil {
		return out
	}
	for in, plan := range t.fan {
		fg := FanoutGroup{Group: formatInterests([]relayframe.Interest{in})[0], Wanting: plan.wanting, Frames: len(plan.legs), Reflectors: []string{}}
		for _, p := range plan.reflectors {
			fg.Reflectors = append(fg.Reflectors, p.cfg.Name)
		}
		out = append(out, fg)
	}
	slices.SortFunc(out, func(a, b FanoutGroup) int { return strings.Compare(a.Group, b.Group) })
	return out
}

var (
	descFanout          = prometheus.NewDesc("mcast_relay_fanout_frames", "Frames that carry each datagram of a group sent through reflectors (one per reflector).", []string{"group"}, nil)
	descFanoutReflector = prometheus.NewDesc("mcast_relay_fanout_reflector", "1 for each peer chosen as a reflector of a group this relay sends.", []string{"group", "peer"}, nil)
	descReflectorFrames = prometheus.NewDesc("mcast_relay_reflector_frames_total", "Fan-out frames of other relays this relay passed on as a reflector.", nil, nil)
	descPeerReflected   = prometheus.NewDesc("mcast_relay_peer_reflected_total", "Fan-out traffic by peer: frames passed on to it for other origins (to), its frames passed on (for), its records received through a reflector (via).", []string{"peer", "role"}, nil)

	fanoutDescs = []*prometheus.Desc{descFanout, descFanoutReflector, descReflectorFrames, descPeerReflected}
)

func collectFanout(ch chan<- prometheus.Metric, st Status) {
	for _, fg := range st.FanoutGroups {
		ch <- prometheus.MustNewConstMetric(descFanout, prometheus.GaugeValue, float64(fg.Frames), fg.Group)
		for _, p := range fg.Reflectors {
			ch <- prometheus.MustNewConstMetric(descFanoutReflector, prometheus.GaugeValue, 1, fg.Group, p)
		}
	}
	ch <- prometheus.MustNewConstMetric(descReflectorFrames, prometheus.CounterValue, float64(st.ReflectorFrames))
	for _, p := range st.Peers {
		ch <- prometheus.MustNewConstMetric(descPeerReflected, prometheus.CounterValue, float64(p.ReflectedTo), p.Name, "to")
		ch <- prometheus.MustNewConstMetric(descPeerReflected, prometheus.CounterValue, float64(p.ReflectedFor), p.Name, "for")
		ch <- prometheus.MustNewConstMetric(descPeerReflected, prometheus.CounterValue, float64(p.ReflectedVia), p.Name, "via")
	}
}
