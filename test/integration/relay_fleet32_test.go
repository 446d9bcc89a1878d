package integration_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
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
// receiver on each of the 31 other VMs whole and once, through 4
// reflectors (`fanout 4`). Then three relays, one of them a reflector
// of vm1's group, are killed (SIGKILL) while a second stream runs: every
// other marks them dead within the detection bound of the configured
// timing, and the live receivers lose at most what that window allows
// (only the dead reflector's targets lose anything; no duplicates). The
// three, restarted with the same configuration, are alive again, and a
// third stream with `fanout 64` (vm1 reloaded) goes to all 31 directly.
func TestRelayFleet32(t *testing.T) {
	const n, group = 32, "239.1.1.1"
	t0 := time.Now()
	fl := upFleetLab(t, n)
	phase := func(what string) { t.Logf("phase %s at %.1fs", what, time.Since(t0).Seconds()) }
	phase("lab up")
	all := vmNames(1, n)
	defer fl.stopAll()
	start := time.Now()
	for _, node := range all {
		fl.run(node, fl.fleetConf(node, fl.gossipKey, "group "+group))
	}
	seen := fl.awaitAll(all, "31 members alive", fleetConverge, func(st relay.Status) bool { return aliveMembers(st) == n-1 })
	var slowest time.Duration
	for _, at := range seen {
		slowest = max(slowest, at.Sub(start))
	}
	t.Logf("%d relays: every one sees %d members alive %.1fs after the start (bound %s)", n, n-1, slowest.Seconds(), fleetConverge)

	// A stream from vm1's host to a receiver on every other VM, through
	// 4 reflectors.
	const count = 200
	others := vmNames(2, n)
	recvs := fl.startReceivers(others, group, count, "3s")
	phase("receivers started")
	fl.awaitAll([]string{"vm1"}, "31 peers up wanting "+group, 30*time.Second, func(st relay.Status) bool {
		return peersUpWanting(st, group, others)
	})
	phase("wanted")
	st1, err := fl.fleetStatus("vm1")
	if err != nil {
		t.Fatal(err)
	}
	reflectors := fanoutReflectors(st1, group)
	if len(reflectors) != 4 {
		t.Fatalf("vm1 sends %s through reflectors %v, want 4 (fan-out groups %+v)", group, reflectors, st1.FanoutGroups)
	}
	s := fl.StartMcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(count), "--interval", "5ms", group)
	if r := s.Wait(); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	for _, node := range others {
		exactlyOnceJSON(t, node, recvs[node].Wait(), count, "10.0.1.10")
	}
	if st1, err = fl.fleetStatus("vm1"); err != nil {
		t.Fatal(err)
	}
	for _, p := range st1.Peers {
		if d := p.SentDatagrams[group]; d > 0 && !slices.Contains(reflectors, p.Name) {
			t.Errorf("vm1 sent %d datagrams of %s to %s, not one of its reflectors %v", d, group, p.Name, reflectors)
		}
	}
	if t.Failed() {
		return
	}
	phase("stream 1 done")

	// Kill three relays, the first of them one of vm1's reflectors, while
	// a stream runs to the receivers of all the others.
	const count2, rate2 = 1500, 250 // 6 s at 4 ms
	recvs = fl.startReceivers(others, group, count2, "3s")
	fl.awaitAll([]string{"vm1"}, "31 peers up wanting "+group+" again", 30*time.Second, func(st relay.Status) bool {
		return peersUpWanting(st, group, others) && len(fanoutReflectors(st, group)) == 4
	})
	if st1, err = fl.fleetStatus("vm1"); err != nil {
		t.Fatal(err)
	}
	reflectors = fanoutReflectors(st1, group)
	killed := []string{reflectors[0]}
	for _, k := range []string{"vm32", "vm31", "vm30", "vm29", "vm28"} {
		if len(killed) < 3 && !slices.Contains(reflectors, k) {
			killed = append(killed, k)
		}
	}
	live := without(all, killed...)
	liveOthers := without(others, killed...)
	before := st1Captured(t, fl)
	s = fl.StartMcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(count2), "--interval", "4ms", group)
	// The kills fall in the stream: once vm1 has carried 100 of it.
	fl.awaitAll([]string{"vm1"}, "the second stream under way", 10*time.Second, func(st relay.Status) bool {
		return st.Captured[group] >= before+100
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
	t.Logf("3 of %d relays killed (%v, the first a reflector): the last of the %d others marked them dead %.2fs after the kill (bound %.2fs: probe %s, timeout %s, suspicion-mult %d)",
		n, killed, len(live), detect.Seconds(), bound.Seconds(), fleetTiming.ProbeInterval, fleetTiming.ProbeTimeout, fleetTiming.SuspicionMult)
	if detect > bound {
		t.Errorf("detection took %s, over the bound %s", detect, bound)
	}
	st1, err = fl.fleetStatus("vm1")
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
	// Only the dead reflector's targets lose, and at most the datagrams
	// of the window before vm1 knew it dead (1 s of slack for the
	// stream's start and the status polls).
	maxLoss := uint64(rate2 * (detect + time.Second).Seconds())
	var losers []string
	var lostSum uint64
	for _, node := range liveOthers {
		res := recvs[node].Wait()
		sum := recvSummary(t, node, res)
		tot := sum.Totals
		if tot.Duplicates != 0 || tot.Foreign != 0 || tot.Malformed != 0 || tot.Lost > maxLoss || tot.Received+tot.Lost != count2 {
			t.Errorf("%s during the kills: received %d, lost %d (at most %d), duplicates %d, foreign %d, malformed %d; %s",
				node, tot.Received, tot.Lost, maxLoss, tot.Duplicates, tot.Foreign, tot.Malformed, res.Stderr)
		}
		if tot.Lost > 0 {
			losers = append(losers, fmt.Sprintf("%s %d", node, tot.Lost))
			lostSum += tot.Lost
		}
	}
	for _, k := range killed {
		recvs[k].Wait() // its relay is gone: what it got does not count
	}
	t.Logf("during the kills: %d of %d live receivers lost datagrams (%s; %d in all; bound %d each at %d/s)", len(losers), len(liveOthers), strings.Join(losers, ", "), lostSum, maxLoss, rate2)
	// One reflector of four died: its targets lose, the others' do not
	// (rendezvous hashing spreads the targets unevenly, so allow up to
	// half).
	if len(losers) > len(liveOthers)/2 {
		t.Errorf("%d of %d receivers lost datagrams: more than one reflector's targets", len(losers), len(liveOthers))
	}
	phase("stream 2 done")

	// Restarted with the same configuration, they are members again.
	restart := time.Now()
	for _, k := range killed {
		fl.run(k, fl.fleetConf(k, fl.gossipKey, "group "+group))
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

	// Direct: vm1 reloaded with `fanout 64` sends to each of the 31 itself.
	fl.fleetConf("vm1", fl.gossipKey, "group "+group, "fanout 64")
	if err := fl.procs["vm1"].Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	recvs = fl.startReceivers(others, group, count, "3s")
	fl.awaitAll([]string{"vm1"}, "fanout 64 and 31 peers up wanting "+group, 30*time.Second, func(st relay.Status) bool {
		return st.Fanout == 64 && peersUpWanting(st, group, others)
	})
	before3 := map[string]uint64{}
	if st1, err = fl.fleetStatus("vm1"); err != nil {
		t.Fatal(err)
	}
	if g := fanoutReflectors(st1, group); len(g) != 0 {
		t.Errorf("with fanout 64 vm1 still sends %s through reflectors %v", group, g)
	}
	for _, p := range st1.Peers {
		before3[p.Name] = p.SentDatagrams[group]
	}
	s = fl.StartMcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(count), "--interval", "5ms", group)
	if r := s.Wait(); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	for _, node := range others {
		exactlyOnceJSON(t, node+" direct", recvs[node].Wait(), count, "10.0.1.10")
	}
	if st1, err = fl.fleetStatus("vm1"); err != nil {
		t.Fatal(err)
	}
	for _, node := range others {
		// The datagrams plus the end markers, each sent to the peer itself.
		if d := peerByName(st1, node).SentDatagrams[group] - before3[node]; d < count {
			t.Errorf("with fanout 64 vm1 sent %s %d datagrams of the stream's %d", node, d, count)
		}
	}
	phase("stream 3 (direct) done")
}

// fanoutReflectors are the reflectors st's relay sends group through
// (none: it sends directly).
func fanoutReflectors(st relay.Status, group string) []string {
	for _, g := range st.FanoutGroups {
		if g.Group == group {
			return g.Reflectors
		}
	}
	return nil
}

// st1Captured is how many datagrams of 239.1.1.1 vm1 captured so far.
func st1Captured(t *testing.T, fl *fleetLab) uint64 {
	st, err := fl.fleetStatus("vm1")
	if err != nil {
		t.Fatal(err)
	}
	return st.Captured["239.1.1.1"]
}
