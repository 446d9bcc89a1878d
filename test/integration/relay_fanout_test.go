package integration_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/stream"
)

// rankedNodes is the order in which origin ranks the other nodes of
// names as reflectors of group (every one of them wanting it).
func rankedNodes(origin string, names []string, group string) []string {
	var ids []uint32
	byID := map[uint32]string{}
	for _, n := range names {
		if n != origin {
			ids = append(ids, config.NodeID(n))
			byID[config.NodeID(n)] = n
		}
	}
	var out []string
	for _, id := range relay.RankReflectors(config.NodeID(origin), netip.MustParseAddr(group), ids) {
		out = append(out, byID[id])
	}
	return out
}

// allUpWanting waits until every relay of nodes sees every other up, and
// those of wanting wanting group.
func (rl *relayLab) allUpWanting(nodes, wanting []string, group string) {
	rl.t.Helper()
	for _, n := range nodes {
		rl.waitStatus(n, "every peer up and wanting "+group, func(st relay.Status) bool {
			for _, m := range nodes {
				if m == n {
					continue
				}
				if slices.Contains(wanting, m) && !peerWants(st, m, group) || !peerByName(st, m).Up {
					return false
				}
			}
			return true
		})
	}
}

// recvSummary is the JSON summary of a recv run.
func recvSummary(t *testing.T, who string, res labtest.Result) stream.Report {
	t.Helper()
	for _, line := range strings.Split(res.Stdout, "\n") {
		var r stream.Report
		if json.Unmarshal([]byte(line), &r) == nil && r.Type == "recv.summary" {
			return r
		}
	}
	t.Fatalf("%s: no JSON summary: %s", who, res)
	return stream.Report{}
}

// TestRelayFanoutReflectors: 8 relays with `fanout 2`. A stream of
// 1400-byte datagrams (fragments beside the target lists) from vm1's LAN
// reaches the 7 other LANs whole and once, while vm1 sends each
// datagram to its 2 reflectors only and they pass it on. Then the first
// reflector is killed (SIGKILL) mid-stream: the next in hash order takes
// over within peer-timeout, and the loss its targets see in that window
// is measured and bounded.
func TestRelayFanoutReflectors(t *testing.T) {
	rl := upRelayLab(t, 8)
	const group = "239.1.1.1"
	for _, n := range rl.nodes {
		rl.startSecure(n, "group "+group, "fanout 2")
	}
	others := rl.nodes[1:]
	var recvs []*labtest.Proc
	const n = 300
	for _, v := range others {
		recvs = append(recvs, rl.StartMcast(v, recvArgs(n, "6s", group)...))
	}
	rl.allUpWanting(rl.nodes, others, group)
	ranked := rankedNodes("vm1", rl.nodes, group)
	st := rl.waitStatus("vm1", "fan-out through 2 reflectors", func(st relay.Status) bool {
		return len(st.FanoutGroups) == 1 && st.FanoutGroups[0].Frames == 2 && st.FanoutGroups[0].Wanting == 7
	})
	if got := st.FanoutGroups[0].Reflectors; !slices.Equal(got, ranked[:2]) {
		t.Errorf("vm1's reflectors %v, want %v (the rendezvous ranking)", got, ranked[:2])
	}
	// 1400-byte datagrams: too big to share a frame with a target list,
	// they travel as fragments through the reflectors.
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", fmt.Sprint(n), "--interval", "2ms", "--size", "1400", group); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	for i, rc := range recvs {
		exactlyOnceJSON(t, others[i], rc.Wait(), n, "10.0.1.10")
	}
	// Each datagram (and the sender's end markers) went to the two
	// reflectors, and to no one else.
	st, _ = rl.status("vm1")
	var total, each uint64
	for _, p := range st.Peers {
		sent := p.SentDatagrams[group]
		total += sent
		if slices.Contains(ranked[:2], p.Name) {
			if each == 0 {
				each = sent
			}
			if sent < n || sent != each {
				t.Errorf("vm1 sent %d datagrams to reflector %s, want %d or more, as many as to the other", sent, p.Name, n)
			}
		} else if sent != 0 {
			t.Errorf("vm1 sent %d datagrams to %s, not a reflector", sent, p.Name)
		}
	}
	if total != 2*each {
		t.Errorf("vm1 sent %d datagrams in all, want %d (2 frames per datagram)", total, 2*each)
	}
	var passed uint64
	for _, r := range ranked[:2] {
		rs, _ := rl.status(r)
		if rs.ReflectorFrames == 0 || peerByName(rs, "vm1").ReflectedFor == 0 {
			t.Errorf("reflector %s passed on nothing: %d frames", r, rs.ReflectorFrames)
		}
		for _, p := range rs.Peers {
			passed += p.ReflectedTo
		}
	}
	if st.Fragmented < n {
		t.Errorf("vm1 fragmented %d datagrams, want all %d", st.Fragmented, n)
	}
	t.Logf("reflectors %v passed on %d frames for %d datagrams", ranked[:2], passed, n)

	// The first reflector dies mid-stream.
	const rate, count = 200, 1400 // datagrams/s; 7 s
	var live []string
	recvs = recvs[:0]
	for _, v := range others {
		// The dying reflector's LAN keeps its receiver, so that it is
		// chosen until it dies; what that receiver sees is not checked.
		r := rl.StartMcast(v, "recv", "--iface", "eth0", "--json", "--timeout", "5s", group)
		if v != ranked[0] {
			live = append(live, v)
			recvs = append(recvs, r)
		}
	}
	rl.waitStatus("vm1", "the 7 wanting again, through "+strings.Join(ranked[:2], " "), func(st relay.Status) bool {
		return len(st.FanoutGroups) == 1 && st.FanoutGroups[0].Wanting == 7 && slices.Equal(st.FanoutGroups[0].Reflectors, ranked[:2])
	})
	for _, v := range live {
		rl.waitStatus(v, "vm1 and its reflectors up, wanting", func(st relay.Status) bool {
			return peerByName(st, "vm1").Up && (v == ranked[1] || peerWants(st, ranked[1], group)) && (v == ranked[0] || peerWants(st, ranked[0], group))
		})
	}
	send := rl.StartMcast("vm1", "send", "--iface", "eth0", "--count", fmt.Sprint(count), "--interval", "5ms", group)
	base := st.Captured[group]
	rl.waitStatus("vm1", "a second of the stream captured", func(st relay.Status) bool { return st.Captured[group] >= base+rate })
	pid := relayPID(t, filepath.Join(rl.dir, ranked[0]+".conf"))
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	st = rl.waitStatus("vm1", "the next in hash order replacing "+ranked[0], func(st relay.Status) bool {
		return len(st.FanoutGroups) == 1 && slices.Equal(st.FanoutGroups[0].Reflectors, []string{ranked[1], ranked[2]})
	})
	took := time.Since(killed)
	if took > 1500*time.Millisecond+time.Second {
		t.Errorf("replacement after %v, want within peer-timeout 1.5s and a tick", took)
	}
	if r := send.Wait(); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	bound := uint64((1500*time.Millisecond + time.Second).Seconds() * rate)
	var worst uint64
	for i, rc := range recvs {
		sum := recvSummary(t, live[i], rc.Wait())
		tot := sum.Totals
		if tot.Duplicates != 0 || tot.Foreign != 0 {
			t.Errorf("%s: %d duplicates, %d foreign", live[i], tot.Duplicates, tot.Foreign)
		}
		if tot.Lost > bound {
			t.Errorf("%s lost %d datagrams of %d while %s died, want at most %d (peer-timeout and a tick at %d/s)", live[i], tot.Lost, tot.Expected, ranked[0], bound, rate)
		}
		worst = max(worst, tot.Lost)
		t.Logf("%s: received %d, lost %d of %d", live[i], tot.Received, tot.Lost, tot.Expected)
	}
	t.Logf("reflector %s killed; vm1 replaced it after %v; worst loss %d datagrams (%.0f ms at %d/s)", ranked[0], took.Round(time.Millisecond), worst, float64(worst)*1000/rate, rate)
}
