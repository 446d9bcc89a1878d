package integration_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/relay/config"
)

// fleetConverge is the bound on 32 relays, started at once with only the
// two seeds, all seeing the 31 others alive.
const fleetConverge = 30 * time.Second

// TestRelayFleet32: 32 relays that only join two seeds all see the 31
// others alive within fleetConverge; a stream from vm1's host reaches a
// receiver on each of the 31 other VMs whole and once. Then three relays
// are killed (SIGKILL) while a second stream runs: every other marks them
// dead within the detection bound of the configured timing, the live
// receivers lose nothing (the origin sends to them directly), and the
// three, restarted with the same configuration, are alive again.
func TestRelayFleet32(t *testing.T) {
	const n = 32
	t0 := time.Now()
	fl := upFleetLab(t, n)
	phase := func(what string) { t.Logf("phase %s at %.1fs", what, time.Since(t0).Seconds()) }
	phase("lab up")
	all := vmNames(1, n)
	defer fl.stopAll()
	start := time.Now()
	for _, node := range all {
		fl.run(node, fl.fleetConf(node, fl.gossipKey, "group 239.1.1.1"))
	}
	seen := fl.awaitAll(all, "31 members alive", fleetConverge, func(st relay.Status) bool { return aliveMembers(st) == n-1 })
	var slowest time.Duration
	for _, at := range seen {
		slowest = max(slowest, at.Sub(start))
	}
	t.Logf("%d relays: every one sees %d members alive %.1fs after the start (bound %s)", n, n-1, slowest.Seconds(), fleetConverge)

	// A stream from vm1's host to a receiver on every other VM.
	const count = 200
	others := vmNames(2, n)
	recvs := fl.startReceivers(others, "239.1.1.1", count, "3s")
	phase("receivers started")
	fl.awaitAll([]string{"vm1"}, "31 peers up wanting 239.1.1.1", 30*time.Second, func(st relay.Status) bool {
		return peersUpWanting(st, "239.1.1.1", others)
	})
	phase("wanted")
	s := fl.StartMcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(count), "--interval", "5ms", "239.1.1.1")
	if r := s.Wait(); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	for _, node := range others {
		exactlyOnceJSON(t, node, recvs[node].Wait(), count, "10.0.1.10")
	}
	if t.Failed() {
		return
	}
	phase("stream 1 done")

	// Kill three relays while a stream runs to the receivers of the others.
	killed := []string{"vm30", "vm31", "vm32"}
	live := without(all, killed...)
	liveOthers := without(others, killed...)
	const count2 = 1500 // 6 s at 4 ms
	recvs = fl.startReceivers(liveOthers, "239.1.1.1", count2, "3s")
	fl.awaitAll([]string{"vm1"}, "the live peers up wanting 239.1.1.1", 30*time.Second, func(st relay.Status) bool {
		return peersUpWanting(st, "239.1.1.1", liveOthers)
	})
	before := st1Captured(t, fl)
	s = fl.StartMcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(count2), "--interval", "4ms", "239.1.1.1")
	// The kills fall in the stream: once vm1 has carried 100 of it.
	fl.awaitAll([]string{"vm1"}, "the second stream under way", 10*time.Second, func(st relay.Status) bool {
		return st.Captured["239.1.1.1"] >= before+100
	})
	killAt := time.Now()
	for _, k := range killed {
		fl.kill(k)
	}
	bound := config.DetectionBound(fleetTiming, n)
	var detect time.Duration
	fl.awaitAll(live, "the three killed relays dead", bound+10*time.Second, func(st relay.Status) bool {
		for _, k := range killed {
			at, ok := failedAt(st, k, killAt)
			if !ok || memberState(st, k) != "dead" {
				return false
			}
			detect = max(detect, at.Sub(killAt))
		}
		return aliveMembers(st) == n-1-len(killed)
	})
	t.Logf("3 of %d relays killed: the last of the %d others marked them dead %.2fs after the kill (bound %.2fs: probe %s, timeout %s, suspicion-mult %d)",
		n, len(live), detect.Seconds(), bound.Seconds(), fleetTiming.ProbeInterval, fleetTiming.ProbeTimeout, fleetTiming.SuspicionMult)
	if detect > bound {
		t.Errorf("detection took %s, over the bound %s", detect, bound)
	}
	st1, err := fl.fleetStatus("vm1")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range killed {
		if p := peerByName(st1, k); p.Name != "" {
			t.Errorf("vm1 still has the dead %s as a peer: %+v", k, p)
		}
	}
	if r := s.Wait(); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	// Direct sends: a dead relay costs the others nothing.
	for _, node := range liveOthers {
		exactlyOnceJSON(t, node+" during the kills", recvs[node].Wait(), count2, "10.0.1.10")
	}

	phase("stream 2 done")
	// Restarted with the same configuration, they are members again.
	restart := time.Now()
	for _, k := range killed {
		fl.run(k, fl.fleetConf(k, fl.gossipKey, "group 239.1.1.1"))
	}
	back := fl.awaitAll(all, "31 members alive after the restart", fleetConverge, func(st relay.Status) bool {
		return aliveMembers(st) == n-1
	})
	var rejoin time.Duration
	for _, at := range back {
		rejoin = max(rejoin, at.Sub(restart))
	}
	phase("rejoined")
	t.Logf("the 3 restarted: every relay sees %d members alive %.1fs after the restart", n-1, rejoin.Seconds())
}

// st1Captured is how many datagrams of 239.1.1.1 vm1 captured so far.
func st1Captured(t *testing.T, fl *fleetLab) uint64 {
	st, err := fl.fleetStatus("vm1")
	if err != nil {
		t.Fatal(err)
	}
	return st.Captured["239.1.1.1"]
}
