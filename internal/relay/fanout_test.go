package relay

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

var fanGroup = relayframe.Interest{Group: netip.MustParseAddr("239.1.1.1")}

func ids(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(1000 + 7*i)
	}
	return out
}

// TestRendezvousStableAndBalanced: the choice is the same every time and
// whatever order the peers come in; over many groups every peer is a
// reflector about as often as the others; and when a reflector leaves,
// the others stay and the next in hash order takes its place.
func TestRendezvousStableAndBalanced(t *testing.T) {
	peers := ids(32)
	const n, groups = 4, 4000
	count := map[uint32]int{}
	for i := 0; i < groups; i++ {
		in := relayframe.Interest{Group: netip.AddrFrom4([4]byte{239, 2, byte(i >> 8), byte(i)})}
		k, ranked := chooseReflectors(1, in, peers, n)
		if k != n {
			t.Fatalf("%d reflectors, want %d", k, n)
		}
		rev := slices.Clone(peers)
		slices.Reverse(rev)
		if _, again := chooseReflectors(1, in, rev, n); !slices.Equal(again, ranked) {
			t.Fatalf("group %v: ranking depends on the order of the peers", in.Group)
		}
		for _, id := range ranked[:n] {
			count[id]++
		}
		// The first reflector leaves: the other three stay, the fifth joins.
		left := slices.DeleteFunc(slices.Clone(peers), func(id uint32) bool { return id == ranked[0] })
		_, after := chooseReflectors(1, in, left, n)
		if !slices.Equal(after[:n], ranked[1:n+1]) {
			t.Fatalf("group %v: reflectors %v after %d left, want %v", in.Group, after[:n], ranked[0], ranked[1:n+1])
		}
	}
	mean := float64(groups*n) / float64(len(peers))
	for _, id := range peers {
		if c := float64(count[id]); c < 0.8*mean || c > 1.2*mean {
			t.Errorf("peer %d a reflector of %.0f groups, mean %.0f: unbalanced", id, c, mean)
		}
	}
	// Another origin ranks the same peers otherwise: its load spreads too.
	_, a := chooseReflectors(1, fanGroup, peers, n)
	_, b := chooseReflectors(2, fanGroup, peers, n)
	if slices.Equal(a[:n], b[:n]) {
		t.Errorf("two origins chose the same reflectors %v", a[:n])
	}
	if k, r := chooseReflectors(1, fanGroup, peers[:n], n); k != 0 || r != nil {
		t.Errorf("%d peers with fan-out %d: %d reflectors, want direct", n, n, k)
	}
}

// TestAssignTargets: every peer that is not a reflector is the target of
// exactly one reflector, no list is over the frame's bound, and when the
// bound would be exceeded there are more reflectors than the fan-out.
func TestAssignTargets(t *testing.T) {
	for _, tt := range []struct{ m, n, wantK int }{{8, 2, 2}, {32, 4, 4}, {200, 2, 4}, {1000, 16, 16}, {2000, 16, 31}} {
		peers := ids(tt.m)
		k, ranked := chooseReflectors(9, fanGroup, peers, tt.n)
		if k != tt.wantK {
			t.Errorf("%d peers, fan-out %d: %d reflectors, want %d", tt.m, tt.n, k, tt.wantK)
			continue
		}
		seen := map[uint32]int{}
		for i, list := range assignTargets(fanGroup, ranked, k) {
			if len(list) > relayframe.MaxTargets {
				t.Errorf("%d peers: reflector %d has %d targets", tt.m, i, len(list))
			}
			for _, id := range list {
				seen[id]++
			}
		}
		for _, id := range ranked[k:] {
			if seen[id] != 1 {
				t.Errorf("%d peers: target %d listed %d times", tt.m, id, seen[id])
			}
		}
		for _, id := range ranked[:k] {
			if seen[id] != 0 {
				t.Errorf("%d peers: reflector %d is also a target", tt.m, id)
			}
		}
	}
}

// TestPlausibleReflector: from every target's view, the reflectors the
// origin chose pass (also while one of them is down for the origin and
// not yet for the target), and the peers ranked last do not, nor the
// origin, nor a relay that does not want the group.
func TestPlausibleReflector(t *testing.T) {
	all := ids(12)
	origin, rest := all[0], all[1:]
	const n = 2
	k, ranked := chooseReflectors(origin, fanGroup, rest, n)
	set := func(without ...uint32) *peerSet {
		s := &peerSet{}
		for _, id := range all {
			if !slices.Contains(without, id) {
				s.peers = append(s.peers, &peer{cfg: peerCfg(id)})
			}
		}
		return s
	}
	target := ranked[len(ranked)-1]
	for _, r := range ranked[:k] {
		if !plausibleReflector(target, origin, r, fanGroup, set(target), n) {
			t.Errorf("reflector %d refused by target %d", r, target)
		}
	}
	// The origin marked ranked[0] down and uses ranked[2]; the target
	// still sees ranked[0] up.
	if !plausibleReflector(target, origin, ranked[2], fanGroup, set(target), n) {
		t.Errorf("the replacement reflector %d refused", ranked[2])
	}
	for _, r := range ranked[2*k : len(ranked)-1] {
		if plausibleReflector(target, origin, r, fanGroup, set(target), n) {
			t.Errorf("peer %d, ranked past twice the reflectors, accepted", r)
		}
	}
	if plausibleReflector(target, origin, origin, fanGroup, set(target), n) {
		t.Error("the origin accepted as its own reflector")
	}
	if plausibleReflector(target, origin, ranked[0], fanGroup, set(target, ranked[0]), n) {
		t.Error("a reflector that does not want the group accepted")
	}
	if plausibleReflector(target, origin, ranked[0], fanGroup, nil, n) {
		t.Error("accepted with no peer wanting the group")
	}
	// A reflector checks itself the same way.
	if !plausibleReflector(ranked[0], origin, ranked[0], fanGroup, set(ranked[0]), n) {
		t.Error("the first reflector refuses its own role")
	}
	if plausibleReflector(target, origin, target, fanGroup, set(target), n) {
		t.Errorf("the last ranked %d would pass on", target)
	}
}

func TestReflectorCount(t *testing.T) {
	for _, tt := range []struct{ m, n, want int }{{10, 16, 16}, {65 * 16, 16, 16}, {65*16 + 1, 16, 17}, {5000, 4, 77}} {
		if got := reflectorCount(tt.m, tt.n); got != tt.want {
			t.Errorf("reflectorCount(%d, %d) = %d, want %d", tt.m, tt.n, got, tt.want)
		}
	}
}

func peerCfg(id uint32) config.Peer { return config.Peer{Name: fmt.Sprint(id), ID: id} }

// The relays vm1 sends 239.1.1.1 to when more of them want it than its
// fan-out: the first two with `fanout 2`; the third replaces either.
func ExampleRankReflectors() {
	names := map[uint32]string{}
	var ids []uint32
	for _, n := range []string{"vm2", "vm3", "vm4", "vm5", "vm6"} {
		names[config.NodeID(n)] = n
		ids = append(ids, config.NodeID(n))
	}
	for _, id := range RankReflectors(config.NodeID("vm1"), netip.MustParseAddr("239.1.1.1"), ids) {
		fmt.Print(names[id], " ")
	}
	fmt.Println()
	// Output: vm2 vm5 vm3 vm4 vm6
}

// TestFanoutMetrics: the fan-out per group, its reflectors, the reflector
// role and the per-peer fan-out counters are exported.
func TestFanoutMetrics(t *testing.T) {
	r, _ := fanRelay(t, "p1", 8, 2)
	r.stats.reflectorFrames.Add(3)
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
	refl := r.Status().FanoutGroups[0].Reflectors
	for _, want := range []string{
		`mcast_relay_fanout_frames{group="239.1.1.1"} 2`,
		`mcast_relay_fanout_reflector{group="239.1.1.1",peer="` + refl[0] + `"} 1`,
		`mcast_relay_reflector_frames_total 3`,
		`mcast_relay_peer_reflected_total{peer="p2",role="via"} 0`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %s in\n%s", want, b.String())
		}
	}
}

// BenchmarkFanoutOrigin: the origin relay's own work per captured
// 1400-byte datagram (packing, sealing for each frame's peer, queueing the
// sends; each datagram flushed alone, as at low rates), with n peers
// wanting the group, sent directly (fanout 1024) or through 2 reflectors.
// The kernel's send is not in it: see bench/fanout.sh for the whole.
func BenchmarkFanoutOrigin(b *testing.B) {
	for _, n := range []int{4, 8, 16, 32, 64} {
		for _, mode := range []struct {
			name string
			fan  int
		}{{"direct", 1024}, {"reflect", 2}} {
			b.Run(fmt.Sprintf("%s/%d", mode.name, n), func(b *testing.B) {
				r, f := fanRelay(b, "p1", n+1, mode.fan)
				f.discard = true
				src, dst := netip.MustParseAddrPort("10.0.1.20:40000"), netip.MustParseAddrPort("239.1.1.1:5001")
				payload := make([]byte, 1400)
				w := newSendWork()
				now := time.Now()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					r.onCaptured(w, src, dst, uint16(i), 1, false, payload, now)
					r.flush(w)
				}
			})
		}
	}
}

// TestFanoutReload: a reload that raises `fanout` past the wanting peers
// sends directly again, one that lowers it goes back to reflectors.
func TestFanoutReload(t *testing.T) {
	r, _ := fanRelay(t, "p1", 8, 2)
	for _, tt := range []struct{ fan, frames int }{{8, 0}, {3, 3}} {
		cfg := *r.config()
		cfg.Fanout = tt.fan
		if err := r.Reload(&cfg); err != nil {
			t.Fatal(err)
		}
		gs := r.Status().FanoutGroups
		if tt.frames == 0 && len(gs) != 0 || tt.frames > 0 && (len(gs) != 1 || gs[0].Frames != tt.frames) {
			t.Errorf("fanout %d: fan-out groups %+v, want %d frames", tt.fan, gs, tt.frames)
		}
	}
}
