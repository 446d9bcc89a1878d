package integration_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/stream"
)

// relayLab is a cloud lab with a relay configuration per VM.
type relayLab struct {
	*labtest.Lab
	t     *testing.T
	dir   string
	nodes []string
	procs map[string]*labtest.Proc
}

// relayConf writes vmN's configuration: every other VM is a peer.
func (rl *relayLab) writeConf(node string, extra ...string) string {
	i, _ := strconv.Atoi(strings.TrimPrefix(node, "vm"))
	var b strings.Builder
	fmt.Fprintf(&b, "node %s\nlisten 10.0.%d.10:7474\ninterface eth0\nkey %s\nadmin %s\n",
		node, i, filepath.Join(rl.dir, "key"), filepath.Join(rl.dir, node+".sock"))
	for _, p := range rl.nodes {
		if p != node {
			j, _ := strconv.Atoi(strings.TrimPrefix(p, "vm"))
			fmt.Fprintf(&b, "peer %s 10.0.%d.10:7474\n", p, j)
		}
	}
	fmt.Fprintf(&b, "keepalive 300ms\npeer-timeout 1500ms\n")
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	path := filepath.Join(rl.dir, node+".conf")
	if err := os.WriteFile(path, []byte(withKeys(rl.t, rl.dir, b.String())), 0o600); err != nil {
		rl.t.Fatal(err)
	}
	return path
}

func upRelayLab(t *testing.T, n int) *relayLab {
	t.Helper()
	l := labtest.Up(t, "cloud", "--nodes", strconv.Itoa(n))
	rl := &relayLab{Lab: l, t: t, dir: t.TempDir(), procs: map[string]*labtest.Proc{}}
	for i := 1; i <= n; i++ {
		rl.nodes = append(rl.nodes, fmt.Sprintf("vm%d", i))
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(filepath.Join(rl.dir, "key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	return rl
}

func (rl *relayLab) start(node string, extra ...string) {
	rl.t.Helper()
	conf := rl.writeConf(node, extra...)
	rl.procs[node] = rl.StartMcast(node, "relay", "--config", conf, "--log-level", "debug")
}

func (rl *relayLab) stop(node string) labtest.Result {
	return rl.procs[node].Stop()
}

// status asks node's relay for its status.
func (rl *relayLab) status(node string) (relay.Status, error) {
	r := rl.Mcast(node, "relay", "status", "--admin", filepath.Join(rl.dir, node+".sock"), "--json")
	if r.Code != 0 {
		return relay.Status{}, fmt.Errorf("relay status on %s: %s", node, r)
	}
	var st relay.Status
	err := json.Unmarshal([]byte(r.Stdout), &st)
	return st, err
}

// waitStatus polls node's status until ok accepts it.
func (rl *relayLab) waitStatus(node, what string, ok func(relay.Status) bool) relay.Status {
	rl.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last relay.Status
	var err error
	for time.Now().Before(deadline) {
		last, err = rl.status(node)
		if err == nil && ok(last) {
			return last
		}
		time.Sleep(150 * time.Millisecond)
	}
	b, _ := json.Marshal(last)
	rl.t.Fatalf("%s: never saw %s (last error %v); last status:\n%s\nrelay log:\n%s", node, what, err, b, rl.logs())
	return last
}

func (rl *relayLab) logs() string {
	var b strings.Builder
	for _, n := range rl.nodes {
		if p, ok := rl.procs[n]; ok {
			fmt.Fprintf(&b, "--- %s stdout:\n%s\n--- %s stderr:\n%s\n", n, p.Stdout(), n, p.Stderr())
		}
	}
	return b.String()
}

// peerWants reports whether peer is up in st and wants every item.
func peerWants(st relay.Status, peer string, items ...string) bool {
	for _, p := range st.Peers {
		if p.Name != peer {
			continue
		}
		if !p.Up {
			return false
		}
		for _, it := range items {
			found := false
			for _, w := range p.Wants {
				found = found || w == it
			}
			if !found {
				return false
			}
		}
		return true
	}
	return false
}

func peerByName(st relay.Status, name string) relay.PeerStatus {
	for _, p := range st.Peers {
		if p.Name == name {
			return p
		}
	}
	return relay.PeerStatus{}
}

var receivedLine = regexp.MustCompile(`(?m)^received: message (\d+)\b.*? from (\S+)`)

// recvArgs is a receiver for exactlyOnceJSON: the JSON summary, --expect n,
// and no --count, so that it also counts duplicates arriving after the
// last datagram (it exits once nothing arrived for idle).
func recvArgs(n int, idle string, args ...string) []string {
	return append([]string{"recv", "--iface", "eth0", "--json", "--expect", strconv.Itoa(n), "--timeout", idle}, args...)
}

// exactlyOnceJSON checks a receiver's recv --json output: it exited 0 (so
// --expect was met), and its summary counts n datagrams from n sent
// (the sender's end marker says how many), none lost, none twice, nothing
// foreign, every flow from the original sender from.
func exactlyOnceJSON(t *testing.T, who string, res labtest.Result, n int, from string) {
	t.Helper()
	var sum *stream.Report
	for _, line := range strings.Split(res.Stdout, "\n") {
		var r stream.Report
		if json.Unmarshal([]byte(line), &r) == nil && r.Type == "recv.summary" {
			sum = &r
		}
	}
	if sum == nil {
		t.Errorf("%s: no JSON summary: %s", who, res)
		return
	}
	tot := sum.Totals
	if res.Code != 0 || tot.Received != uint64(n) || tot.Expected != uint64(n) || tot.Lost != 0 || tot.Duplicates != 0 || tot.Foreign != 0 || tot.Malformed != 0 {
		t.Errorf("%s: exit %d, received %d of %d expected (want %d), lost %d, duplicates %d, foreign %d, malformed %d; stderr %s",
			who, res.Code, tot.Received, tot.Expected, n, tot.Lost, tot.Duplicates, tot.Foreign, tot.Malformed, res.Stderr)
	}
	for _, f := range sum.Flows {
		if f.Source != from {
			t.Errorf("%s: a flow from %s, want the original sender %s", who, f.Source, from)
		}
		if f.Sent == nil || *f.Sent != uint64(n) {
			t.Errorf("%s: the sender's end marker did not arrive (sent %v, want %d)", who, f.Sent, n)
		}
	}
}

// TestRelayCarriesGroupsExactlyOnce: a sender on vm1 reaches receivers on
// vm2 and vm3 through the relays, every datagram once, with the original
// source address; a group vm3 has no member for never goes to vm3.
func TestRelayCarriesGroupsExactlyOnce(t *testing.T) {
	rl := upRelayLab(t, 3)
	for _, n := range rl.nodes {
		rl.start(n, "group 239.1.1.1 239.1.1.2")
	}
	const n = 300
	r2 := rl.StartMcast("vm2", recvArgs(n, "4s", "239.1.1.1")...)
	r3 := rl.StartMcast("vm3", recvArgs(n, "4s", "239.1.1.1")...)
	r2b := rl.StartMcast("vm2", recvArgs(n, "4s", "239.1.1.2")...)
	rl.waitStatus("vm1", "vm2 and vm3 wanting 239.1.1.1, vm2 wanting 239.1.1.2", func(st relay.Status) bool {
		return peerWants(st, "vm2", "239.1.1.1", "239.1.1.2") && peerWants(st, "vm3", "239.1.1.1")
	})
	s1 := rl.StartMcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", "239.1.1.1")
	s2 := rl.StartMcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", "239.1.1.2")
	for _, s := range []*labtest.Proc{s1, s2} {
		if r := s.Wait(); r.Code != 0 {
			t.Fatalf("sender: %s", r)
		}
	}
	exactlyOnceJSON(t, "vm2 239.1.1.1", r2.Wait(), n, "10.0.1.10")
	exactlyOnceJSON(t, "vm3 239.1.1.1", r3.Wait(), n, "10.0.1.10")
	exactlyOnceJSON(t, "vm2 239.1.1.2", r2b.Wait(), n, "10.0.1.10")

	st1, err := rl.status("vm1")
	if err != nil {
		t.Fatal(err)
	}
	if got := peerByName(st1, "vm3").SentDatagrams["239.1.1.2"]; got != 0 {
		t.Errorf("vm1 sent %d datagrams of 239.1.1.2 to vm3, which has no member", got)
	}
	// The sender ends its stream with end markers, which the relay carries too.
	if got := peerByName(st1, "vm2").SentDatagrams["239.1.1.2"]; got != n+stream.EndMarkers {
		t.Errorf("vm1 sent %d datagrams of 239.1.1.2 to vm2, want %d", got, n+stream.EndMarkers)
	}
	st3, err := rl.status("vm3")
	if err != nil {
		t.Fatal(err)
	}
	if got := peerByName(st3, "vm1").RecvDatagrams["239.1.1.2"]; got != 0 || st3.Emitted["239.1.1.2"] != 0 {
		t.Errorf("vm3 received %d and emitted %d datagrams of 239.1.1.2", got, st3.Emitted["239.1.1.2"])
	}
	st2, _ := rl.status("vm2")
	// Its own re-emissions carry the relay's mark, which the capture
	// socket's filter drops in the kernel: not seen, not captured.
	if st2.OwnSeen != 0 || st2.Captured["239.1.1.1"] != 0 {
		t.Errorf("vm2 saw %d of its own re-emissions come back and captured %d datagrams of 239.1.1.1, want none", st2.OwnSeen, st2.Captured["239.1.1.1"])
	}
	for _, st := range []relay.Status{st1, st2, st3} {
		for reason, v := range st.Drops {
			if v != 0 {
				t.Errorf("%s dropped %d for %s", st.Node, v, reason)
			}
		}
	}
}

// TestRelayBroadcastAndIPv6: a broadcast to a configured port and an IPv6
// group cross the relays.
// TestRelayBroadcastAndIPv6: a broadcast to a configured port and an IPv6
// group each reach the other VMs exactly once; these relays use the other
// cipher, ChaCha20-Poly1305.
func TestRelayBroadcastAndIPv6(t *testing.T) {
	rl := upRelayLab(t, 3)
	for _, n := range rl.nodes {
		rl.start(n, "group ff15::1", "broadcast-port 5000", "cipher chacha20-poly1305")
	}
	const n = 50
	b2 := rl.StartMcast("vm2", recvArgs(n, "4s", "--broadcast", "--port", "5000")...)
	v3 := rl.StartMcast("vm3", recvArgs(n, "4s", "--port", "6000", "ff15::1")...)
	rl.waitStatus("vm1", "vm3 wanting ff15::1", func(st relay.Status) bool {
		return peerWants(st, "vm3", "ff15::1", "broadcast:5000") && peerWants(st, "vm2", "broadcast:5000")
	})
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--broadcast", "--port", "5000", "--count", strconv.Itoa(n), "--interval", "5ms", "255.255.255.255"); r.Code != 0 {
		t.Fatalf("broadcast sender: %s", r)
	}
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--port", "6000", "--count", strconv.Itoa(n), "--interval", "5ms", "ff15::1"); r.Code != 0 {
		t.Fatalf("IPv6 sender: %s", r)
	}
	exactlyOnceJSON(t, "vm2 broadcast", b2.Wait(), n, "10.0.1.10")
	exactlyOnceJSON(t, "vm3 ff15::1", v3.Wait(), n, "fd00:1::10")
}

// TestRelayCipherMismatch: relays with different ciphers (one key file)
// reject each other's frames, count them as auth drops, never see each
// other up, and say why in the log.
func TestRelayCipherMismatch(t *testing.T) {
	rl := upRelayLab(t, 2)
	rl.start("vm1", "group 239.1.1.1")
	rl.start("vm2", "group 239.1.1.1", "cipher chacha20-poly1305")
	st := rl.waitStatus("vm1", "auth drops", func(st relay.Status) bool { return st.Drops["auth"] >= 2 })
	for _, p := range st.Peers {
		if p.Up {
			t.Errorf("vm1 sees %s up across a cipher mismatch", p.Name)
		}
	}
	if logs := rl.logs(); !strings.Contains(logs, "failed authentication") {
		t.Errorf("no authentication warning in the logs:\n%s", logs)
	}
}

func testdataDir(t *testing.T) string {
	d, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRelayRejectsAttacks: replayed, forged and garbage frames sent to a
// relay from the underlay are counted and dropped, never delivered, and
// the relays go on carrying real traffic.
func TestRelayRejectsAttacks(t *testing.T) {
	rl := upRelayLab(t, 3)
	for _, n := range rl.nodes {
		rl.start(n, "group 239.1.1.1")
	}
	rl.waitStatus("vm1", "vm2 up", func(st relay.Status) bool { return peerWants(st, "vm2") })
	const n = 100
	r2 := rl.StartMcast("vm2", recvArgs(n, "8s", "239.1.1.1")...)
	rl.waitStatus("vm1", "vm2 wanting 239.1.1.1", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })

	// The attacker records frames to vm2 while real traffic flows.
	attack := exec.Command("ip", "netns", "exec", rl.Name+"-vpc", "python3", filepath.Join(testdataDir(t), "relay_attack.py"),
		"10.0.2.10", "7474", "10.0.1.10", strconv.FormatUint(uint64(config.NodeID("vm1")), 10), "3")
	var out strings.Builder
	attack.Stdout, attack.Stderr = &out, &out
	if err := attack.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", "239.1.1.1"); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	if err := attack.Wait(); err != nil {
		t.Fatalf("attacker: %v\n%s", err, out.String())
	}
	t.Logf("attacker: %s", out.String())
	if !strings.Contains(out.String(), "replayed") || strings.Contains(out.String(), "recorded 0 frames") {
		t.Fatalf("attacker recorded nothing to replay:\n%s", out.String())
	}
	exactlyOnceJSON(t, "vm2 under attack", r2.Wait(), n, "10.0.1.10")

	st := rl.waitStatus("vm2", "the attack counted", func(st relay.Status) bool {
		return st.Drops[relay.DropReplay] > 0 && st.Drops[relay.DropAuth] > 0 && st.Drops[relay.DropMalformed]+st.Drops[relay.DropWrongSource] > 0
	})
	t.Logf("vm2 drops: %v", st.Drops)
	// The relays still carry traffic after the attack.
	r2 = rl.StartMcast("vm2", recvArgs(20, "4s", "239.1.1.1")...)
	rl.waitStatus("vm1", "vm2 wanting 239.1.1.1 again", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	rl.Mcast("vm1", "send", "--iface", "eth0", "--count", "20", "--interval", "5ms", "239.1.1.1")
	exactlyOnceJSON(t, "vm2 after the attack", r2.Wait(), 20, "10.0.1.10")
}

// TestRelayPeerFailure: with vm2's relay killed, vm3 keeps receiving; when
// vm2's relay comes back, vm2 receives again.
func TestRelayPeerFailure(t *testing.T) {
	rl := upRelayLab(t, 3)
	for _, n := range rl.nodes {
		rl.start(n, "group 239.1.1.1")
	}
	r2 := rl.StartMcast("vm2", "recv", "--iface", "eth0", "--timeout", "60s", "239.1.1.1")
	r3 := rl.StartMcast("vm3", "recv", "--iface", "eth0", "--timeout", "60s", "239.1.1.1")
	rl.waitStatus("vm1", "both wanting", func(st relay.Status) bool {
		return peerWants(st, "vm2", "239.1.1.1") && peerWants(st, "vm3", "239.1.1.1")
	})
	send := rl.StartMcast("vm1", "send", "--iface", "eth0", "--count", "0", "--interval", "10ms", "239.1.1.1")
	r2.WaitFor("received: message 10 ", 20*time.Second)
	rl.stop("vm2")
	rl.waitStatus("vm1", "vm2 down", func(st relay.Status) bool { return !peerByName(st, "vm2").Up })
	before := strings.Count(r3.Stdout(), "received:")
	time.Sleep(time.Second)
	if after := strings.Count(r3.Stdout(), "received:"); after <= before {
		t.Fatalf("vm3 stopped receiving when vm2's relay died (%d then %d)", before, after)
	}
	mark := strings.Count(r2.Stdout(), "received:")
	rl.start("vm2", "group 239.1.1.1")
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(r2.Stdout(), "received:") < mark+20 {
		if time.Now().After(deadline) {
			t.Fatalf("vm2 did not resume after its relay restarted; logs:\n%s", rl.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	send.Stop()
	out2, out3 := r2.Stop().Stdout, r3.Stop().Stdout
	for who, out := range map[string]string{"vm2": out2, "vm3": out3} {
		seen := map[string]int{}
		for _, m := range receivedLine.FindAllStringSubmatch(out, -1) {
			if seen[m[1]]++; seen[m[1]] == 2 {
				t.Errorf("%s: message %s received twice", who, m[1])
			}
		}
	}
}

// TestRelayReloadAddsGroup: SIGHUP with a group added to every config
// starts carrying it without restarting any relay.
func TestRelayReloadAddsGroup(t *testing.T) {
	rl := upRelayLab(t, 3)
	for _, n := range rl.nodes {
		rl.start(n, "group 239.1.1.1")
	}
	rl.waitStatus("vm1", "peers up", func(st relay.Status) bool { return peerWants(st, "vm2") && peerWants(st, "vm3") })
	before := map[string]float64{}
	for _, n := range rl.nodes {
		st, _ := rl.status(n)
		before[n] = st.UptimeSeconds
	}
	for _, n := range rl.nodes {
		rl.writeConf(n, "group 239.1.1.1 239.1.1.9")
		hup(t, rl.Name+"-"+n)
	}
	for _, n := range rl.nodes {
		rl.waitStatus(n, "the reload applied", func(st relay.Status) bool { return st.Reloads == 1 })
	}
	r3 := rl.StartMcast("vm3", recvArgs(50, "4s", "239.1.1.9")...)
	rl.waitStatus("vm1", "vm3 wanting 239.1.1.9", func(st relay.Status) bool { return peerWants(st, "vm3", "239.1.1.9") })
	rl.Mcast("vm1", "send", "--iface", "eth0", "--count", "50", "--interval", "5ms", "239.1.1.9")
	exactlyOnceJSON(t, "vm3 239.1.1.9", r3.Wait(), 50, "10.0.1.10")
	for _, n := range rl.nodes {
		if st, _ := rl.status(n); st.UptimeSeconds < before[n] {
			t.Errorf("%s restarted (up %.1fs, was up %.1fs before the reload)", n, st.UptimeSeconds, before[n])
		}
	}
}

// hup sends SIGHUP to the relay running in namespace ns (started by this test).
func hup(t *testing.T, ns string) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		t.Fatalf("ip netns pids %s: %v", ns, err)
	}
	n := 0
	for _, f := range strings.Fields(string(out)) {
		cmd, _ := os.ReadFile("/proc/" + f + "/cmdline")
		if strings.Contains(string(cmd), "relay\x00--config") {
			pid, _ := strconv.Atoi(f)
			if p, err := os.FindProcess(pid); err == nil && p.Signal(sighup) == nil {
				n++
			}
		}
	}
	if n == 0 {
		t.Fatalf("no relay running in %s", ns)
	}
}

// TestRelayFragments: datagrams larger than the underlay MTU allows are
// split by the relay and rejoined, never IP-fragmented.
func TestRelayFragments(t *testing.T) {
	rl := upRelayLab(t, 2)
	for _, n := range rl.nodes {
		rl.start(n, "group 239.1.1.1", "mtu 600")
	}
	r2 := rl.StartMcast("vm2", recvArgs(30, "4s", "239.1.1.1")...)
	rl.waitStatus("vm1", "vm2 wanting", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	msg := "message %d " + strings.Repeat("x", 1380)
	rl.Mcast("vm1", "send", "--iface", "eth0", "--count", "30", "--interval", "5ms", "--message", msg, "239.1.1.1")
	exactlyOnceJSON(t, "vm2", r2.Wait(), 30, "10.0.1.10")
	st1, _ := rl.status("vm1")
	st2, _ := rl.status("vm2")
	if st1.Fragmented != 30 || st2.Reassembled != 30 {
		t.Errorf("fragmented %d, reassembled %d, want 30 each", st1.Fragmented, st2.Reassembled)
	}
	if mx := peerByName(st1, "vm2"); mx.SentFrames > 0 && mx.SentBytes/mx.SentFrames > 600 {
		t.Errorf("frames average %d bytes, over the 600-byte MTU", mx.SentBytes/mx.SentFrames)
	}
}

// TestRelaySegmentedSender: a sender that uses UDP_SEGMENT (mcast send's
// rate mode) hands the kernel many datagrams in one send; the relay's
// capture sees that send before the kernel cuts it and carries every
// datagram of it, exactly once.
func TestRelaySegmentedSender(t *testing.T) {
	const n = 2000
	st1 := carrySegmented(t, n, "239.1.1.1", "10.0.1.10")
	if got := st1.Captured["239.1.1.1"]; got != n+stream.EndMarkers {
		t.Errorf("vm1 captured %d datagrams, want %d", got, n+stream.EndMarkers)
	}
}
