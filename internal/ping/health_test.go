package ping_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/ping"
)

// TestHealthMulticastCut: with a host deaf to the group, the others count
// its unicast answers but none by multicast, and everyone stays up.
func TestHealthMulticastCut(t *testing.T) {
	hosts := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")}
	deaf := hosts[2]
	n := &net{engines: map[netip.Addr]*ping.Engine{}, deaf: map[netip.Addr]bool{deaf: true}, now: time.Unix(1700000000, 0), answers: map[netip.Addr]int{}}
	for i, h := range hosts {
		var peers []ping.Peer
		for _, o := range hosts {
			if o != h {
				peers = append(peers, ping.Peer{Name: o.String(), Addr: o})
			}
		}
		n.engines[h] = ping.New(ping.Config{Local: h, LocalIndex: i, Peers: peers, Group: netip.MustParseAddr("232.43.211.234"),
			Port: 4321, Mode: ping.ModeSSM, Interval: 100 * time.Millisecond, TTL: 64, IDs: func(b []byte) { b[0] = byte(i) }})
		n.engines[h].Start(n.now)
	}
	for range 100 {
		for _, h := range hosts {
			out, _ := n.engines[h].Tick(n.now)
			n.deliver(h, out)
		}
		n.now = n.now.Add(50 * time.Millisecond)
	}
	for _, p := range n.engines[hosts[0]].Health(n.now) {
		if p.Queries < 30 || p.Unicast != p.Queries || !p.Up || p.LastHeard.IsZero() {
			t.Errorf("peer %s: %+v, want about 45 settled queries all answered by unicast, up", p.Name, p)
		}
		wantMulti := p.Queries
		if p.Name == deaf.String() {
			wantMulti = 0
		}
		if p.Multicast != wantMulti {
			t.Errorf("peer %s: %d multicast answers to %d queries, want %d", p.Name, p.Multicast, p.Queries, wantMulti)
		}
	}
	later := n.now.Add(ping.DownAfter(100 * time.Millisecond))
	for _, p := range n.engines[hosts[0]].Health(later) {
		if p.Up {
			t.Errorf("peer %s up after %s of silence", p.Name, ping.DownAfter(100*time.Millisecond))
		}
	}
}

func TestCheckMetricsAddr(t *testing.T) {
	for _, s := range []string{"127.0.0.1:9464", "[::1]:9464", ":9464", "10.0.0.1:0"} {
		if err := ping.CheckMetricsAddr(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "9464", "localhost:9464", "127.0.0.1:http", "127.0.0.1:70000", "239.1.1.1:9464", "[fe80::1%eth0]:9464", "1.2.3.4"} {
		if err := ping.CheckMetricsAddr(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
