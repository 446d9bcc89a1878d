package relay

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/relay/members"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fleetRelay is a relay a with gossip on, a static peer b, logging to buf.
func fleetRelay(t *testing.T, buf *bytes.Buffer) *Relay {
	t.Helper()
	conf := "node a\nlisten 10.0.1.10:7474\ninterface eth0\npeer b 10.0.2.10:7474\ngroup 239.1.1.1\ngossip-key /g\njoin 10.0.2.10\n"
	conf = peerLine.ReplaceAllStringFunc(conf, func(l string) string {
		return l + " " + testPriv(peerLine.FindStringSubmatch(l)[1]).Public().String()
	})
	cfg, err := config.Parse(strings.NewReader(conf+"private-key /p\n"), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	cfg.GossipKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
	r, err := New(cfg, Options{PrivateKey: testPriv("a"), Logger: slog.New(slog.NewTextHandler(buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if r.fleet == nil {
		t.Fatal("no fleet with gossip-key")
	}
	r.fleetP.Store(r.fleet)
	return r
}

func memberNode(t *testing.T, name, addr, keyOf string) *memberlist.Node {
	t.Helper()
	ap := netip.MustParseAddrPort(addr)
	meta, err := (&members.Meta{Addr: ap, Key: testPriv(keyOf).Public()}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	return &memberlist.Node{Name: name, Addr: net.IP(ap.Addr().AsSlice()), Port: ap.Port() + 1, Meta: meta, State: memberlist.StateAlive}
}

// TestFleetMembersBecomePeers: an alive member is a peer beside the static
// ones; a member named as a static peer leaves the static line in force;
// a dead member is no peer; status and metrics show it all.
func TestFleetMembersBecomePeers(t *testing.T) {
	var buf bytes.Buffer
	r := fleetRelay(t, &buf)
	f := r.fleet
	f.NotifyJoin(memberNode(t, "c", "10.0.3.10:7474", "c"))
	f.NotifyJoin(memberNode(t, "b", "10.0.9.10:7474", "b9"))
	if p := r.peers[config.NodeID("c")]; p == nil || p.cfg.Addr != netip.MustParseAddrPort("10.0.3.10:7474") {
		t.Fatalf("member c is not a peer: %v", r.peers)
	}
	if p := r.peers[config.NodeID("b")]; p == nil || p.cfg.Addr != netip.MustParseAddrPort("10.0.2.10:7474") || p.cfg.Line == 0 {
		t.Errorf("the static line of b did not win over the member b: %+v", p)
	}
	if !strings.Contains(buf.String(), "a static peer line of this name wins") {
		t.Errorf("the name clash was not logged:\n%s", buf.String())
	}
	st := r.Status()
	if c := peerByName(st, "c"); !c.Member || peerByName(st, "b").Member {
		t.Errorf("status peers %+v", st.Peers)
	}
	dead := memberNode(t, "c", "10.0.3.10:7474", "c")
	dead.State = memberlist.StateDead
	f.NotifyLeave(dead)
	if r.peers[config.NodeID("c")] != nil {
		t.Error("a dead member is still a peer")
	}
	st = r.Status()
	if st.Fleet.ByState["dead"] != 1 || len(st.Fleet.Events) < 2 || st.Fleet.Events[len(st.Fleet.Events)-1].Event != "failed" {
		t.Errorf("fleet status %+v", st.Fleet)
	}
	// A member whose last metadata says it leaves is left, not failed.
	d := memberNode(t, "d", "10.0.4.10:7474", "d")
	f.NotifyJoin(d)
	g := &gossipLog{f: f}
	g.Write([]byte("[INFO] memberlist: Suspect d has failed, no acks received"))
	if st := r.Status(); memberStatus(st, "d") != "suspect" || peerByName(st, "d").Name == "" {
		t.Errorf("d after this relay's probes failed: %q (a suspect still gets data)", memberStatus(st, "d"))
	}
	if err := f.NotifyAlive(d); err != nil || memberStatus(r.Status(), "d") != "alive" {
		t.Errorf("d after refuting the suspicion: %q, %v", memberStatus(r.Status(), "d"), err)
	}
	meta, _ := members.Decode(d.Meta)
	meta.Leaving = true
	d.Meta, _ = meta.Encode()
	f.NotifyUpdate(d)
	f.NotifyLeave(d)
	if st := r.Status(); memberStatus(st, "d") != "left" || peerByName(st, "d").Name != "" {
		t.Errorf("d after it left: %q", memberStatus(st, "d"))
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.Collector())
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP mcast_relay_members Fleet members known, by state (alive, suspect, dead, left).
# TYPE mcast_relay_members gauge
mcast_relay_members{state="alive"} 1
mcast_relay_members{state="dead"} 1
mcast_relay_members{state="left"} 1
mcast_relay_members{state="suspect"} 0
`), "mcast_relay_members"); err != nil {
		t.Error(err)
	}
}

func peerByName(st Status, name string) PeerStatus {
	for _, p := range st.Peers {
		if p.Name == name {
			return p
		}
	}
	return PeerStatus{}
}

// TestFleetRefusals: a member with this relay's key, with another live
// member's key, with metadata that does not decode, or a push/pull state
// larger than a fleet is refused through the delegates and counted.
func TestFleetRefusals(t *testing.T) {
	var buf bytes.Buffer
	r := fleetRelay(t, &buf)
	f := r.fleet
	f.NotifyJoin(memberNode(t, "c", "10.0.3.10:7474", "c"))
	bad := memberNode(t, "junk", "10.0.4.10:7474", "d")
	bad.Meta = bad.Meta[:len(bad.Meta)-3]
	huge := memberNode(t, "huge", "10.0.4.10:7474", "d")
	huge.Meta = bytes.Repeat([]byte{1}, 4096)
	for _, n := range []*memberlist.Node{
		memberNode(t, "mirror", "10.0.5.10:7474", "a"), // this relay's key
		memberNode(t, "forger", "10.0.6.10:7474", "c"), // c's key under a new name
		bad, huge,
	} {
		if err := f.NotifyAlive(n); err == nil {
			t.Errorf("%s accepted", n.Name)
		}
	}
	if got := f.refused.Load(); got != 4 {
		t.Errorf("%d refusals counted, want 4", got)
	}
	if err := f.NotifyMerge(make([]*memberlist.Node, maxMerge+1)); err == nil {
		t.Error("a merge of more members than a fleet has accepted")
	}
	if len(r.peers) != 2 {
		t.Errorf("peers %v, want b and c", r.peers)
	}
}

// TestGossipLogBounded: memberlist's lines about gossip that failed
// decryption are counted, each one, and logged at most once per logEvery;
// debug lines are dropped.
func TestGossipLogBounded(t *testing.T) {
	var buf bytes.Buffer
	r := fleetRelay(t, &buf)
	g := &gossipLog{f: r.fleet}
	buf.Reset()
	for i := 0; i < 100_000; i++ {
		g.Write([]byte("[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message from=10.0.3.10:7475\n"))
		g.Write([]byte("[ERR] memberlist: Failed to read remote state: no installed keys could decrypt the message from=10.0.3.10:41234\n"))
		g.Write([]byte("[DEBUG] memberlist: Stream connection from=10.0.3.10:41234\n"))
	}
	if got := r.fleet.decryptFails.Load(); got != 200_000 {
		t.Errorf("%d decryption failures counted, want 200000", got)
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Errorf("%d log lines for 300000 memberlist lines, want 1:\n%s", n, buf.String())
	}
	for line, want := range map[string]int{
		"[ERR] memberlist: Decrypt packet failed: no installed keys could decrypt the message":            gossipDecrypt,
		"[ERR] memberlist: Failed to receive: encryption is configured but remote state is not encrypted": gossipDecrypt,
		"[WARN] memberlist: Refuting a suspect message (from: b)":                                         gossipWarn,
		"[ERR] memberlist: Conflicting address for b. Mine: 10.0.2.10:7475 Theirs: 10.0.4.10:7475":        gossipWarn,
		"[DEBUG] memberlist: Initiating push/pull sync with: b 10.0.2.10:7475":                            gossipDebug,
		"[INFO] memberlist: Suspect c has failed, no acks received":                                       gossipSuspect,
		"[INFO] memberlist: Marking c as failed, suspect timeout reached (0 peer confirmations)":          gossipDebug,
	} {
		if got, _ := classifyGossipLog(line); got != want {
			t.Errorf("classifyGossipLog(%q) = %d, want %d", line, got, want)
		}
	}
}

func memberStatus(st Status, name string) string {
	for _, m := range st.Fleet.Members {
		if m.Name == name {
			return m.State
		}
	}
	return ""
}

// BenchmarkMemberPeers measures what a fleet member costs a relay as a
// peer: the heap its peer, route table and member table entries take (no
// session yet: a session adds its ciphers and replay windows), and the
// time to apply one more member to a fleet of N.
func BenchmarkMemberPeers(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			var buf bytes.Buffer
			r := fleetRelay(&testing.T{}, &buf)
			nodes := make([]*memberlist.Node, n)
			for i := range nodes {
				name := "m" + strconv.Itoa(i)
				ap := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 7474)
				var k [32]byte
				copy(k[:], name)
				meta, _ := (&members.Meta{Addr: ap, Key: k, Allow: []netip.Prefix{netip.PrefixFrom(ap.Addr(), 24).Masked()}}).Encode()
				nodes[i] = &memberlist.Node{Name: name, Addr: net.IP(ap.Addr().AsSlice()), Port: 7475, Meta: meta}
			}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for _, nd := range nodes[:n-1] {
				r.fleet.NotifyJoin(nd)
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			heap := float64(after.HeapAlloc-before.HeapAlloc) / float64(n-1)
			last := nodes[n-1]
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.fleet.NotifyJoin(last)
				r.fleet.NotifyLeave(last)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N)/1e3, "µs/apply")
			b.ReportMetric(heap, "heap-B/member")
		})
	}
}

// BenchmarkSessionHeap measures the heap one established session with a
// peer adds: its two key sets (send, receive) and its state, replay
// window included.
func BenchmarkSessionHeap(b *testing.B) {
	const n = 10_000
	keep := make([]any, 0, 3*n)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		var k [32]byte
		k[0], k[1] = byte(i), byte(i>>8)
		send, err := crypto.NewKeys(k, config.Ciphers[0])
		if err != nil {
			b.Fatal(err)
		}
		recv, _ := crypto.NewKeys(k, config.Ciphers[0])
		keep = append(keep, send, recv, new(crypto.Session))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keep)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/session")
}
