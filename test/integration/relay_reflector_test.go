package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/relay/config"
)

// vlanLab is two VLANs, A (10.0.10.0/24) and B (10.0.20.0/24), each a
// bridge in a switch namespace, with host a (10.0.10.100) on A, host b
// (10.0.20.100) on B, and routers r1, r2... on both (10.0.10.N on ethA,
// 10.0.20.N on ethB), which do not route between them: only a relay joins
// the two.
type vlanLab struct {
	t   *testing.T
	pre string // namespace prefix
	bin string
	dir string
}

func upVLANs(t *testing.T, routers int) *vlanLab {
	t.Helper()
	labtest.RequireRoot(t)
	v := &vlanLab{t: t, pre: fmt.Sprintf("rfl%d", os.Getpid()%100000), bin: labtest.Binary(t), dir: t.TempDir()}
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	sw := v.ns("sw")
	addNS := func(ns string) {
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		ip("netns", "add", ns)
		ip("-n", ns, "link", "set", "lo", "up")
		// No duplicate address detection: the IPv6 link-local addresses
		// are usable at once (the relay binds one).
		if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0").CombinedOutput(); err != nil {
			t.Fatalf("disabling DAD in %s: %v\n%s", ns, err, out)
		}
	}
	addNS(sw)
	for _, br := range []string{"brA", "brB"} {
		ip("-n", sw, "link", "add", br, "type", "bridge", "mcast_snooping", "0")
		ip("-n", sw, "link", "set", br, "up")
	}
	// plug links ns's dev to bridge br through sw's port.
	plug := func(port, br, ns, dev, addr string) {
		ip("-n", sw, "link", "add", port, "type", "veth", "peer", "name", dev, "netns", ns)
		ip("-n", sw, "link", "set", port, "master", br, "up")
		ip("-n", ns, "addr", "add", addr, "dev", dev)
		ip("-n", ns, "link", "set", dev, "up")
	}
	for _, h := range []struct{ name, br, net string }{{"a", "brA", "10"}, {"b", "brB", "20"}} {
		ns := v.ns(h.name)
		addNS(ns)
		plug("h"+h.name, h.br, ns, "eth0", "10.0."+h.net+".100/24")
		ip("-n", ns, "route", "add", "default", "via", "10.0."+h.net+".1")
	}
	for i := 1; i <= routers; i++ {
		ns := v.ns(fmt.Sprintf("r%d", i))
		addNS(ns)
		plug(fmt.Sprintf("r%da", i), "brA", ns, "ethA", fmt.Sprintf("10.0.10.%d/24", i))
		plug(fmt.Sprintf("r%db", i), "brB", ns, "ethB", fmt.Sprintf("10.0.20.%d/24", i))
	}
	return v
}

func (v *vlanLab) ns(name string) string { return v.pre + "-" + name }

// relay starts a relay on router i (ethA and ethB) with the config lines
// extra, the other routers' relays as its LAN peers.
func (v *vlanLab) relay(i, routers int, extra ...string) *labtest.Proc {
	v.t.Helper()
	node := fmt.Sprintf("r%d", i)
	var b strings.Builder
	fmt.Fprintf(&b, "node %s\nlisten 10.0.10.%d:7474\ninterface ethA\ninterface ethB\nadmin %s\nkeepalive 300ms\npeer-timeout 1500ms\n",
		node, i, v.sock(i))
	for j := 1; j <= routers; j++ {
		if j != i {
			fmt.Fprintf(&b, "peer r%d 10.0.10.%d:7474 lan\n", j, j)
		}
	}
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	path := filepath.Join(v.dir, node+".conf")
	if err := os.WriteFile(path, []byte(withKeys(v.t, v.dir, b.String())), 0o600); err != nil {
		v.t.Fatal(err)
	}
	p := labtest.StartNS(v.t, v.ns(node), v.bin, "relay", "--config", path)
	deadline := time.Now().Add(15 * time.Second)
	for exec.Command(v.bin, "relay", "status", "--admin", v.sock(i), "--json").Run() != nil {
		select {
		case <-p.Done():
			v.t.Fatalf("relay %s ended: %s", node, p.Stderr())
		case <-time.After(150 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("relay %s never answered: %s", node, p.Stderr())
		}
	}
	return p
}

func (v *vlanLab) sock(i int) string { return filepath.Join(v.dir, fmt.Sprintf("r%d.sock", i)) }

func (v *vlanLab) waitStatus(i int, what string, ok func(relay.Status) bool) relay.Status {
	v.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command(v.bin, "relay", "status", "--admin", v.sock(i), "--json").Output()
		var st relay.Status
		if err == nil && jsonUnmarshal(string(out), &st) == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("relay r%d: never %s (%v): %s", i, what, err, out)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// mdns runs the zeroconf client (testdata/mdns_peer.py) with args on host.
func (v *vlanLab) mdns(host string, args ...string) *labtest.Proc {
	v.t.Helper()
	py, err := filepath.Abs(filepath.Join("testdata", "mdns_peer.py"))
	if err != nil {
		v.t.Fatal(err)
	}
	return labtest.StartNS(v.t, v.ns(host), append([]string{"/usr/bin/python3", py}, args...)...)
}

func requireZeroconf(t *testing.T) {
	t.Helper()
	requireRun(t, "python3-zeroconf", "/usr/bin/python3", "-c", "import zeroconf")
}

// tcpdumpTTL matches tcpdump -v's header line and the UDP line after it.
var tcpdumpTTL = regexp.MustCompile(`ttl (\d+),[^\n]*\n\s+(\S+) > (\S+):`)

// TestRelayReflectorMDNS: one relay, two interfaces, no peers: a service
// python3-zeroconf registers on VLAN A is found by a browser on VLAN B and
// the reverse, and the reflected mDNS datagrams reach B with TTL 255 and
// source port 5353, from their sender's address.
func TestRelayReflectorMDNS(t *testing.T) {
	requireZeroconf(t)
	v := upVLANs(t, 1)
	v.relay(1, 1, "service mdns")
	dump := labtest.StartNS(t, v.ns("b"), "tcpdump", "-i", "eth0", "-n", "-v", "-l", "-U", "udp", "port", "5353", "and", "src", "net", "10.0.10.0/24")
	time.Sleep(500 * time.Millisecond)
	for _, dir := range []struct{ reg, browse, name string }{{"a", "b", "printerA"}, {"b", "a", "printerB"}} {
		reg := v.mdns(dir.reg, "register", "_mcasttest._tcp", dir.name, "631", "30")
		reg.WaitFor("registered", 10*time.Second)
		br := v.mdns(dir.browse, "browse", "_mcasttest._tcp", "6")
		res := br.Wait()
		if !strings.Contains(res.Stdout, "found "+dir.name) {
			t.Errorf("browsing from %s: %q (stderr %q), want %s found", dir.browse, res.Stdout, res.Stderr, dir.name)
		}
		reg.Stop()
	}
	out := dump.Stop().Stdout
	n := 0
	for _, m := range tcpdumpTTL.FindAllStringSubmatch(out, -1) {
		if strings.HasPrefix(m[3], "10.0.20.100.") {
			// A unicast answer to a browse's first question (QU),
			// carried back with the TTL its sender gave it.
			if m[2] != "10.0.10.100.5353" {
				t.Errorf("unicast answer %s > %s, want from 10.0.10.100.5353", m[2], m[3])
			}
			continue
		}
		n++
		if m[1] != "255" || !strings.HasPrefix(m[2], "10.0.10.100.5353") || m[3] != "224.0.0.251.5353" {
			t.Errorf("reflected datagram ttl %s %s > %s, want ttl 255 10.0.10.100.5353 > 224.0.0.251.5353", m[1], m[2], m[3])
		}
	}
	if n == 0 {
		t.Errorf("tcpdump on B saw no mDNS from A:\n%s", out)
	}
	st := v.waitStatus(1, "status", func(relay.Status) bool { return true })
	t.Logf("reflected %d datagrams, %d mDNS datagrams from A seen on B", st.Reflected, n)
}

// TestRelayReflectorTwoRelays: two relays on the same two VLANs, each the
// other's LAN peer: each datagram of a stream from A arrives on B once;
// when the elected one is killed, the other carries within peer-timeout.
func TestRelayReflectorTwoRelays(t *testing.T) {
	v := upVLANs(t, 2)
	procs := []*labtest.Proc{v.relay(1, 2, "group 239.1.1.1"), v.relay(2, 2, "group 239.1.1.1")}
	for i := 1; i <= 2; i++ {
		v.waitStatus(i, "its peer up", func(st relay.Status) bool { return len(st.Peers) == 1 && st.Peers[0].Up })
	}
	df := 1
	if relay.Forwarder(mustAddr("239.1.1.1"), []uint32{config.NodeID("r1"), config.NodeID("r2")}) == config.NodeID("r2") {
		df = 2
	}
	recv := labtest.StartNS(t, v.ns("b"), v.bin, "recv", "--iface", "eth0", "--timeout", "60s", "239.1.1.1")
	time.Sleep(time.Second)
	send := labtest.StartNS(t, v.ns("a"), v.bin, "send", "--iface", "eth0", "--count", "0", "--interval", "10ms", "239.1.1.1")
	recv.WaitFor("received: message 50 ", 20*time.Second)
	procs[df-1].Stop()
	mark := strings.Count(recv.Stdout(), "received:")
	killed := time.Now()
	deadline := killed.Add(10 * time.Second)
	for strings.Count(recv.Stdout(), "received:") < mark+100 {
		if time.Now().After(deadline) {
			t.Fatalf("no takeover: %d datagrams in 10s after r%d was killed", strings.Count(recv.Stdout(), "received:")-mark, df)
		}
		time.Sleep(50 * time.Millisecond)
	}
	send.Stop()
	out := recv.Stop().Stdout
	seen := map[string]int{}
	dups := 0
	var ids []int
	for _, m := range receivedLine.FindAllStringSubmatch(out, -1) {
		if seen[m[1]]++; seen[m[1]] > 1 {
			dups++
		}
		var id int
		fmt.Sscan(m[1], &id)
		ids = append(ids, id)
		if !strings.HasPrefix(m[2], "10.0.10.100:") {
			t.Errorf("message %s from %s, want the sender on A", m[1], m[2])
		}
	}
	if dups > 0 {
		t.Errorf("%d duplicates with two relays on the same VLANs", dups)
	}
	// The gap: messages sent every 10 ms that never arrived around the kill.
	gap := 0
	for i := 1; i < len(ids); i++ {
		gap = max(gap, ids[i]-ids[i-1]-1)
	}
	if gap*10 > 1500+1000 {
		t.Errorf("takeover lost %d consecutive datagrams (%d ms), want within peer-timeout (1.5 s)", gap, gap*10)
	}
	t.Logf("r%d elected and killed; %d datagrams, none twice, longest gap %d datagrams", df, len(seen), gap)
}

// TestRelayReflectorMDNSType: with `mdns-type _mcastok._tcp`, a browser on
// B finds the service of that type registered on A, and not the one of
// another type registered beside it.
func TestRelayReflectorMDNSType(t *testing.T) {
	requireZeroconf(t)
	v := upVLANs(t, 1)
	v.relay(1, 1, "service mdns", "mdns-type _mcastok._tcp")
	ok := v.mdns("a", "register", "_mcastok._tcp", "allowed", "631", "30")
	no := v.mdns("a", "register", "_mcastno._tcp", "refused", "632", "30")
	ok.WaitFor("registered", 10*time.Second)
	no.WaitFor("registered", 10*time.Second)
	okB := v.mdns("b", "browse", "_mcastok._tcp", "6")
	noB := v.mdns("b", "browse", "_mcastno._tcp", "6")
	if out := okB.Wait().Stdout; !strings.Contains(out, "found allowed") {
		t.Errorf("the allowed type was not found from B: %q", out)
	}
	if out := noB.Wait().Stdout; strings.Contains(out, "found") {
		t.Errorf("the other type crossed: %q", out)
	}
	st := v.waitStatus(1, "status", func(relay.Status) bool { return true })
	if st.Drops[relay.DropServiceType] == 0 {
		t.Errorf("no service-type drops counted: %v", st.Drops)
	}
	t.Logf("reflected %d, dropped by service type %d", st.Reflected, st.Drops[relay.DropServiceType])
}

// TestRelayReflectorConfigErrors: an interface given twice, an allow line
// naming an interface no interface line configures, and a service and an
// explicit group that overlap each fail at start with one line naming the
// file and line, as every other configuration error does.
func TestRelayReflectorConfigErrors(t *testing.T) {
	bin := labtest.Binary(t)
	dir := t.TempDir()
	base := "node a\nlisten 10.0.0.1:7474\ninterface iot\ninterface lan\n"
	priv := "private-key " + writeNodeKey(t, dir, "a") + "\n"
	for _, tt := range []struct{ name, conf, want string }{
		{"interface twice", base + "interface iot\nservice mdns\n", ":5: interface iot given twice (first on line 3)"},
		{"unknown interface", base + "service mdns\nallow mdns from iot to wlan\n", ":6: allow names interface wlan, which no interface line configures"},
		{"service and group", base + "service mdns\ngroup 224.0.0.251\n", ":6: group 224.0.0.251/32 takes in 224.0.0.251, which service mdns (line 5) carries on port 5353 only: drop one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, "relay.conf")
			os.WriteFile(f, []byte(tt.conf+priv), 0o600)
			out, err := exec.Command(bin, "relay", "--config", f, "--check").CombinedOutput()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code == 0 || !strings.Contains(string(out), f+tt.want) || strings.Count(string(out), "\n") != 1 {
				t.Fatalf("exit %d, output %q; want a failure and one line with %q", code, out, f+tt.want)
			}
			t.Logf("exit %d: %s", code, strings.TrimSpace(string(out)))
		})
	}
}

// TestRelayReflectorIPv6AndBroadcast: mDNS to ff02::fb and a broadcast to
// a configured port, sent on VLAN A, reach a receiver on VLAN B, each
// datagram once, from its sender.
func TestRelayReflectorIPv6AndBroadcast(t *testing.T) {
	v := upVLANs(t, 1)
	v.relay(1, 1, "service mdns", "broadcast-port 9999")
	for _, tc := range []struct {
		name      string
		send, rcv []string
		from      string
	}{
		{"ipv6 mdns", []string{"--port", "5353", "--ttl", "255", "ff02::fb"}, []string{"--port", "5353", "ff02::fb"}, "fe80::"},
		{"broadcast", []string{"--port", "9999", "--broadcast", "10.0.10.255"}, []string{"--port", "9999", "--broadcast"}, "10.0.10.100:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recv := labtest.StartNS(t, v.ns("b"), append([]string{v.bin, "recv", "--iface", "eth0", "--timeout", "4s"}, tc.rcv...)...)
			time.Sleep(500 * time.Millisecond)
			send := labtest.StartNS(t, v.ns("a"), append([]string{v.bin, "send", "--iface", "eth0", "--count", "20", "--interval", "20ms"}, tc.send...)...)
			if res := send.Wait(); res.Code != 0 {
				t.Fatalf("send: %s", res)
			}
			out := recv.Wait().Stdout
			seen := map[string]int{}
			for _, m := range receivedLine.FindAllStringSubmatch(out, -1) {
				seen[m[1]]++
				if !strings.HasPrefix(m[2], tc.from) && !strings.HasPrefix(m[2], "["+tc.from) {
					t.Errorf("message %s from %s, want from %s...", m[1], m[2], tc.from)
				}
			}
			if len(seen) != 20 {
				t.Errorf("%d distinct datagrams of 20 arrived:\n%s", len(seen), out)
			}
			for id, n := range seen {
				if n > 1 {
					t.Errorf("message %s arrived %d times", id, n)
				}
			}
		})
	}
}

// TestRelayReflectorSSDP: minidlna (a real SSDP responder) on VLAN A is
// found by gssdp-discover on VLAN B although the router between them does
// not route: the M-SEARCH is reflected to A and minidlna's unicast answer
// to the searcher is carried back to B through the relay. minidlna starts
// first, so that its multicast announcements are over when the search
// begins: what B finds, it found through the answers.
func TestRelayReflectorSSDP(t *testing.T) {
	for _, bin := range []string{"minidlnad", "gssdp-discover"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (scripts/install-deps.sh)", bin)
		}
	}
	v := upVLANs(t, 1)
	if b, err := exec.Command("ip", "netns", "exec", v.ns("r1"), "cat", "/proc/sys/net/ipv4/conf/ethA/forwarding").Output(); err != nil || strings.TrimSpace(string(b)) != "0" {
		t.Fatalf("the router forwards (%q, %v): the answers would not need the relay", b, err)
	}
	v.relay(1, 1, "service ssdp")
	dir := filepath.Join(v.dir, "dlna")
	for _, d := range []string{"media", "db", "log"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	conf := filepath.Join(dir, "minidlna.conf")
	os.WriteFile(conf, []byte("media_dir="+filepath.Join(dir, "media")+"\ndb_dir="+filepath.Join(dir, "db")+"\nlog_dir="+filepath.Join(dir, "log")+
		"\nnetwork_interface=eth0\nport=8200\nfriendly_name=mcast-test\ninotify=no\nnotify_interval=900\n"), 0o644)
	labtest.StartNS(t, v.ns("a"), "minidlnad", "-S", "-f", conf, "-P", filepath.Join(dir, "minidlna.pid"))
	time.Sleep(3 * time.Second) // its announcements go by
	before := v.waitStatus(1, "status", func(relay.Status) bool { return true })
	res := labtest.StartNS(t, v.ns("b"), "gssdp-discover", "-i", "eth0", "-t", "urn:schemas-upnp-org:device:MediaServer:1", "-n", "5").Wait()
	if !strings.Contains(res.Stdout, "10.0.10.100:8200") {
		t.Errorf("gssdp-discover on B did not find minidlna on A: %s", res)
	}
	st := v.waitStatus(1, "status", func(relay.Status) bool { return true })
	if st.RepliesCarried == before.RepliesCarried {
		t.Errorf("no answers carried back (%d before the search, %d after)", before.RepliesCarried, st.RepliesCarried)
	}
	t.Logf("answers carried back: %d", st.RepliesCarried-before.RepliesCarried)
}
