package ping

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// fakeHealth is a Machine's Health for the monitor's test.
type fakeHealth struct {
	Machine
	h []PeerHealth
}

func (f fakeHealth) Health(time.Time) []PeerHealth { return f.h }

// TestMonitorCollect: a scrape exports the counts Run gives and the RTT
// histogram of the answers seen, and every peer's series from the start.
func TestMonitorCollect(t *testing.T) {
	m := NewMonitor()
	heard := time.Now().Add(-2 * time.Second)
	mach := fakeHealth{h: []PeerHealth{
		{Name: "a", Queries: 10, Unicast: 10, Multicast: 7, LastHeard: heard, Up: true},
		{Name: "b"},
	}}
	done := make(chan struct{})
	defer close(done)
	go func() { // Run's part
		for {
			select {
			case r := <-m.requests:
				m.serve(r, mach, time.Now())
			case <-done:
				return
			}
		}
	}()
	m.event(Event{Kind: EvAnswer, Peer: "a", RTT: 300 * time.Microsecond})
	m.event(Event{Kind: EvAnswer, Peer: "a", Multicast: true, RTT: 2 * time.Second})
	m.event(Event{Kind: EvAnswer, Peer: "a", Multicast: true, RTT: time.Millisecond, Dup: true})
	m.event(Event{Kind: EvJoined, Peer: "a"})
	want := `
# HELP mcast_ping_answers_total Of those queries, the ones the peer's answer arrived for, by unicast or multicast (broadcast counts as multicast).
# TYPE mcast_ping_answers_total counter
mcast_ping_answers_total{cast="multicast",peer="a"} 7
mcast_ping_answers_total{cast="multicast",peer="b"} 0
mcast_ping_answers_total{cast="unicast",peer="a"} 10
mcast_ping_answers_total{cast="unicast",peer="b"} 0
# HELP mcast_ping_peer_up 1 when the peer pinged this host within three query intervals (at least 3s).
# TYPE mcast_ping_peer_up gauge
mcast_ping_peer_up{peer="a"} 1
mcast_ping_peer_up{peer="b"} 0
# HELP mcast_ping_queries_total Queries sent to the peer and old enough to have been answered.
# TYPE mcast_ping_queries_total counter
mcast_ping_queries_total{peer="a"} 10
mcast_ping_queries_total{peer="b"} 0
`
	if err := testutil.CollectAndCompare(m, strings.NewReader(want), "mcast_ping_answers_total", "mcast_ping_peer_up", "mcast_ping_queries_total"); err != nil {
		t.Error(err)
	}
	out, err := testutil.CollectAndFormat(m, expfmt.TypeTextPlain, "mcast_ping_rtt_seconds", "mcast_ping_peer_last_heard_seconds", "mcast_build_info")
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, line := range []string{
		`mcast_ping_rtt_seconds_bucket{cast="unicast",peer="a",le="0.00025"} 0`,
		`mcast_ping_rtt_seconds_bucket{cast="unicast",peer="a",le="0.0005"} 1`,
		`mcast_ping_rtt_seconds_bucket{cast="multicast",peer="a",le="1"} 0`,
		`mcast_ping_rtt_seconds_bucket{cast="multicast",peer="a",le="+Inf"} 1`,
		`mcast_ping_rtt_seconds_count{cast="multicast",peer="b"} 0`,
		`mcast_ping_peer_last_heard_seconds{peer="a"} 2`,
		`mcast_build_info{`,
	} {
		if !strings.Contains(text, line) {
			t.Errorf("no %s in\n%s", line, text)
		}
	}
	if strings.Contains(text, `last_heard_seconds{peer="b"}`) {
		t.Errorf("last heard of a peer never heard:\n%s", text)
	}
}
