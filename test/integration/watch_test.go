package integration_test

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// bridge runs ip in the lab's switch namespace.
func bridge(t *testing.T, l *labtest.Lab, args ...string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.Name + "-lan", "ip"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// startWatch starts mcast watch on n1's eth0 and waits until it captures.
func startWatch(t *testing.T, l *labtest.Lab, args ...string) *labtest.Proc {
	t.Helper()
	w := l.StartMcast("n1", append([]string{"watch", "--iface", "eth0"}, args...)...)
	w.WaitFor("watching eth0", 20*time.Second)
	return w
}

// joinFor joins group on n2's eth0 for a few seconds with mcast recv, which
// joins on start and leaves on exit.
func joinFor(l *labtest.Lab, node, group string) {
	l.MustRun(node, l.Bin, "recv", "--iface", "eth0", "--timeout", "2s", group)
}

func mustMatch(t *testing.T, out, re string) {
	t.Helper()
	if !regexp.MustCompile("(?m)" + re).MatchString(out) {
		t.Errorf("no line matching %s in:\n%s", re, out)
	}
}

// A receiver on n2 joins and leaves; watch on n1 sees the IGMPv3 TO_EX join
// and TO_IN leave from 10.0.0.2, and the pcap it wrote reads back in tcpdump
// with the same IGMP packets.
func TestWatchJoinLeaveIGMPv3(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "3")
	pcapPath := filepath.Join(t.TempDir(), "watch.pcap")
	w := startWatch(t, l, "--write", pcapPath)
	joinFor(l, "n2", "239.1.2.3")
	w.WaitFor("leave  239.1.2.3 from 10.0.0.2", 20*time.Second)
	res := w.Stop()
	mustMatch(t, res.Stdout, `^\d\d:\d\d:\d\d\.\d{3} eth0 join   239\.1\.2\.3 from 10\.0\.0\.2 IGMPv3 TO_EX \{\} \(any source\)$`)
	mustMatch(t, res.Stdout, `^\d\d:\d\d:\d\d\.\d{3} eth0 leave  239\.1\.2\.3 from 10\.0\.0\.2 IGMPv3 TO_IN \{\} \(no source: leave\)$`)

	// tcpdump reads the file and sees the same reports from 10.0.0.2.
	out, err := exec.Command("tcpdump", "-n", "-v", "-r", pcapPath).CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
	dumped := countLines(string(out), `10\.0\.0\.2 > 224\.0\.0\.22: igmp v3 report, 1 group record\(s\) \[gaddr 239\.1\.2\.3 to_(ex|in), 0 source\(s\)\]`)
	watched := countLines(res.Stdout, ` 239\.1\.2\.3 from 10\.0\.0\.2 IGMPv3 TO_(EX|IN) `)
	if dumped == 0 || dumped != watched {
		t.Errorf("tcpdump shows %d IGMPv3 reports for 239.1.2.3, watch %d:\n%s\n%s", dumped, watched, out, res.Stdout)
	}

	// --read decodes the saved file the same way.
	again := l.Mcast("n1", "watch", "--read", pcapPath, "--group", "239.1.2.3")
	if again.Code != 0 || countLines(again.Stdout, ` 239\.1\.2\.3 from 10\.0\.0\.2 IGMPv3 TO_(EX|IN) `) != watched {
		t.Errorf("watch --read: %s", again)
	}
}

// With force_igmp_version=2 the receiver sends an IGMPv2 report and leave.
func TestWatchIGMPv2(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "3")
	l.MustRun("n2", "sysctl", "-w", "net.ipv4.conf.eth0.force_igmp_version=2")
	w := startWatch(t, l, "--group", "239.2.2.2")
	joinFor(l, "n2", "239.2.2.2")
	w.WaitFor("leave  239.2.2.2", 20*time.Second)
	res := w.Stop()
	mustMatch(t, res.Stdout, `eth0 join   239\.2\.2\.2 from 10\.0\.0\.2 IGMPv2 report$`)
	mustMatch(t, res.Stdout, `eth0 leave  239\.2\.2\.2 from 10\.0\.0\.2 IGMPv2 leave$`)
}

// Without a querier watch warns; with mcast_querier=1 on the bridge it shows
// the queries and the querier's address: 0.0.0.0 by default, the bridge's
// address with mcast_query_use_ifaddr. A host forced to IGMPv2 answering an
// IGMPv3 querier is a version mismatch.
func TestWatchQuerier(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "3")
	w := startWatch(t, l, "--query-interval", "3s")
	joinFor(l, "n2", "239.3.3.3")
	w.WaitFor("warning no IGMP querier seen", 20*time.Second)

	// The bridge queries, without an address of its own.
	// Intervals are in centiseconds; set them before the querier starts,
	// which schedules its next query with the interval in force then.
	bridge(t, l, "link", "set", "br0", "type", "bridge", "mcast_igmp_version", "3", "mcast_query_interval", "200", "mcast_startup_query_interval", "100")
	bridge(t, l, "link", "set", "br0", "type", "bridge", "mcast_querier", "1")
	w.WaitFor("query  general from 0.0.0.0 IGMPv3", 30*time.Second)

	// n3 holds a group with IGMPv2 and answers the queries.
	l.MustRun("n3", "sysctl", "-w", "net.ipv4.conf.eth0.force_igmp_version=2")
	n3 := l.StartMcast("n3", "recv", "--iface", "eth0", "--timeout", "60s", "239.4.4.4")
	w.WaitFor("warning IGMP version mismatch: host 10.0.0.3 reports IGMPv2 but querier 0.0.0.0 queries IGMPv3", 30*time.Second)
	n3.Stop()

	// With an address and mcast_query_use_ifaddr, queries come from it; the
	// address-less querier was heard recently, so there are two.
	bridge(t, l, "addr", "add", "10.0.0.254/24", "dev", "br0")
	bridge(t, l, "link", "set", "br0", "type", "bridge", "mcast_query_use_ifaddr", "1")
	w.WaitFor("query  general from 10.0.0.254 IGMPv3 max resp 10s", 30*time.Second)
	res := w.Stop()
	mustMatch(t, res.Stdout, `warning two IGMP queriers on this segment: 0\.0\.0\.0 and 10\.0\.0\.254`)
	mustMatch(t, res.Stdout, `query  general from 0\.0\.0\.0 IGMPv3 max resp 10s, qqi 2s, qrv 2 \(querier without an address`)
}

// joinV6Script joins ff0e::1:2 on eth0 (MLDv2 TO_EX) for two seconds.
const joinV6Script = `
import socket, struct, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, socket.inet_pton(socket.AF_INET6, "ff0e::1:2") + struct.pack("@I", socket.if_nametoindex("eth0")))
time.sleep(2)
`

// An IPv6 receiver joins and leaves: MLDv2 TO_EX and TO_IN, also in --json.
func TestWatchMLDv2(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "3")
	w := l.StartMcast("n1", "watch", "--iface", "eth0", "--json", "--group", "ff0e::1:2")
	w.WaitFor(`"type":"watch.start"`, 20*time.Second)
	l.MustRun("n2", "python3", "-c", joinV6Script)
	w.WaitFor(`"record":"TO_IN"`, 20*time.Second)
	res := w.Stop()
	var kinds []string
	for _, line := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		var e struct {
			Kind                 string `json:"type"`
			Host                 string `json:"source"`
			Proto, Record, Group string
			Version              int
		}
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if e.Kind == "watch.summary" || e.Kind == "watch.start" {
			continue
		}
		if e.Proto != "mld" || e.Version != 2 || e.Group != "ff0e::1:2" || !strings.HasPrefix(e.Host, "fe80:") && e.Host != "::" {
			t.Errorf("event %+v", e)
		}
		kinds = append(kinds, strings.TrimPrefix(e.Kind, "watch.")+" "+e.Record)
	}
	got := strings.Join(kinds, ", ")
	if !strings.HasPrefix(got, "join TO_EX") || !strings.Contains(got, "leave TO_IN") {
		t.Errorf("events %s, want join TO_EX ... leave TO_IN", got)
	}
}

// ssmScript joins 232.1.1.1 from source 10.0.0.1 on eth0 (10.0.0.2) and
// holds it.
const ssmScript = `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 39, socket.inet_aton("232.1.1.1") + socket.inet_aton("10.0.0.2") + socket.inet_aton("10.0.0.1"))
print("joined", flush=True)
time.sleep(30)
`

// mcast groups on a node that joined an any-source and a source-specific
// group lists both on eth0 with their source filters.
func TestGroups(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "3")
	asm := l.StartMcast("n2", "recv", "--iface", "eth0", "--timeout", "30s", "239.0.0.100")
	asm.WaitFor("use interface: eth0", 10*time.Second)
	ssm := l.Start("n2", "python3", "-c", ssmScript)
	ssm.WaitFor("joined", 10*time.Second)

	res := l.Mcast("n2", "groups", "--iface", "eth0")
	if res.Code != 0 {
		t.Fatalf("groups: %s", res)
	}
	mustMatch(t, res.Stdout, `^\d+: eth0  \(IGMPv3, MLDv2\)$`)
	mustMatch(t, res.Stdout, `^    inet  239\.0\.0\.100 +users 1  exclude \{\}  mac 01:00:5e:00:00:64$`)
	mustMatch(t, res.Stdout, `^    inet  232\.1\.1\.1 +users 1  include \{10\.0\.0\.1\}  mac 01:00:5e:01:01:01$`)
	mustMatch(t, res.Stdout, `^    link  01:00:5e:00:00:64 +users 1$`)

	js := l.Mcast("n2", "groups", "--json")
	var groups struct {
		Interfaces []struct {
			Name        string `json:"name"`
			IGMPVersion int    `json:"igmp_version"`
			IPv4        []struct {
				Group   string `json:"group"`
				Mode    string `json:"mode"`
				Sources []struct {
					Addr    string `json:"source"`
					Include int    `json:"include"`
				} `json:"sources"`
			} `json:"ipv4"`
		} `json:"interfaces"`
	}
	if err := json.Unmarshal([]byte(js.Stdout), &groups); err != nil {
		t.Fatalf("groups --json: %v\n%s", err, js)
	}
	found := map[string]string{}
	for _, i := range groups.Interfaces {
		for _, g := range i.IPv4 {
			desc := i.Name + " " + g.Mode
			for _, s := range g.Sources {
				desc += " " + s.Addr
			}
			found[g.Group] = desc
		}
	}
	if found["239.0.0.100"] != "eth0 exclude" || found["232.1.1.1"] != "eth0 include 10.0.0.1" {
		t.Errorf("groups --json: %v", found)
	}
	if r := l.Mcast("n2", "groups", "--iface", "wlan7"); r.Code != 2 || !strings.Contains(r.Stderr, `unknown interface "wlan7"`) {
		t.Errorf("groups --iface wlan7: %s", r)
	}
}

func TestMac(t *testing.T) {
	t.Parallel()
	labtest.RequireRoot(t)
	bin := labtest.Binary(t)
	run := func(args ...string) labtest.Result {
		cmd := exec.Command(bin, args...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Run()
		return labtest.Result{Stdout: out.String(), Stderr: errb.String(), Code: cmd.ProcessState.ExitCode()}
	}
	res := run("mac", "239.0.0.100", "224.10.1.1", "224.128.1.1", "225.0.1.1")
	want := "239.0.0.100      01:00:5e:00:00:64\n224.10.1.1       01:00:5e:0a:01:01\n224.128.1.1      01:00:5e:00:01:01\n225.0.1.1        01:00:5e:00:01:01\n"
	if res.Code != 0 || res.Stdout != want {
		t.Errorf("mcast mac: %s", res)
	}
	res = run("mac", "--check", "224.128.1.1", "225.0.1.1", "239.0.0.100")
	if res.Code != 0 || !strings.HasPrefix(res.Stdout, "01:00:5e:00:01:01 is shared by 224.128.1.1, 225.0.1.1") {
		t.Errorf("mcast mac --check: %s", res)
	}
	res = run("mac", "01:00:5e:00:01:01")
	if res.Code != 0 || !strings.Contains(res.Stdout, "224.128.1.1") || !strings.Contains(res.Stdout, "239.128.1.1") {
		t.Errorf("mcast mac MAC: %s", res)
	}
	for _, bad := range []struct{ arg, err string }{
		{"10.0.0.1", "mcast mac: 10.0.0.1 is not a multicast address"},
		{"01:00:5e:zz:00:01", `mcast mac: "01:00:5e:zz:00:01" is neither an IP address nor a MAC address`},
		{"00:11:22:33:44:55", "mcast mac: 00:11:22:33:44:55 is not an IP multicast MAC"},
	} {
		res := run("mac", bad.arg)
		if res.Code != 2 || !strings.HasPrefix(res.Stderr, bad.err) || strings.Count(res.Stderr, "\n") != 1 {
			t.Errorf("mcast mac %s: %s", bad.arg, res)
		}
	}
}

// Bad input for watch: garbage and truncated captures, an unknown interface,
// one that vanishes while watching, and no CAP_NET_RAW.
func TestWatchBadInput(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "2")
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pcap")
	os.WriteFile(garbage, []byte(strings.Repeat("not a pcap file ", 8)), 0o644)
	good := filepath.Join(dir, "good.pcap")
	w := startWatch(t, l, "--write", good)
	joinFor(l, "n2", "239.5.5.5")
	w.WaitFor("leave  239.5.5.5", 20*time.Second)
	w.Stop()
	b, err := os.ReadFile(good)
	if err != nil || len(b) < 100 {
		t.Fatalf("pcap %d bytes: %v", len(b), err)
	}
	truncated := filepath.Join(dir, "truncated.pcap")
	os.WriteFile(truncated, b[:len(b)-7], 0o644)

	l.MustRun("n1", "ip", "link", "add", "vx0", "type", "veth", "peer", "name", "vx1")
	l.MustRun("n1", "ip", "link", "set", "vx0", "up")
	vanish := l.StartMcast("n1", "watch", "--iface", "vx0")
	vanish.WaitFor("watching vx0", 20*time.Second)
	l.MustRun("n1", "ip", "link", "del", "vx0")
	vres := vanish.Wait()

	tests := []struct {
		name string
		res  labtest.Result
		code int
		err  string
	}{
		{"garbage", l.Mcast("n1", "watch", "--read", garbage), 1, "mcast watch: reading " + garbage + ": reading pcap header: magic number"},
		{"truncated", l.Mcast("n1", "watch", "--read", truncated), 1, "mcast watch: reading " + truncated + ": pcap record at offset"},
		{"unknown iface", l.Mcast("n1", "watch", "--iface", "wlan7"), 2, `mcast watch: unknown interface "wlan7"`},
		{"bad group", l.Mcast("n1", "watch", "--group", "10.1.1.1"), 2, `mcast watch: invalid group "10.1.1.1"`},
		{"vanished", vres, 1, "mcast watch: capturing on vx0: the interface went down or vanished"},
		{"no CAP_NET_RAW", l.Run("n1", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", l.Bin, "watch", "--iface", "eth0"), 1,
			"mcast watch: opening an AF_PACKET socket: operation not permitted (capturing needs CAP_NET_RAW"},
	}
	for _, tt := range tests {
		if tt.res.Code != tt.code || !strings.Contains(tt.res.Stderr, tt.err) || strings.Count(tt.res.Stderr, "\n") != 1 {
			t.Errorf("%s: want exit %d and one line with %q, got %s", tt.name, tt.code, tt.err, tt.res)
		}
	}
	// The truncated file still shows the packets before the cut.
	if r := l.Mcast("n1", "watch", "--read", truncated); !strings.Contains(r.Stdout, "join   239.5.5.5 from 10.0.0.2") {
		t.Errorf("truncated file: %s", r)
	}
}

// rateEvent is a `"type":"watch.rate"` object of watch --json.
type rateEvent struct {
	Kind     string  `json:"type"`
	Iface    string  `json:"iface"`
	Group    string  `json:"group"`
	Interval float64 `json:"interval_seconds"`
	Packets  int     `json:"packets"`
	Bytes    int     `json:"bytes"`
	PPS      float64 `json:"rate_pps"`
	BPS      float64 `json:"rate_bps"`
	Senders  []struct {
		Source     string `json:"source"`
		SourcePort int    `json:"source_port"`
		Packets    int    `json:"packets"`
		Bytes      int    `json:"bytes"`
	} `json:"senders"`
}

// rateEvents decodes the rate objects of watch --json output.
func rateEvents(t *testing.T, out string) []rateEvent {
	t.Helper()
	var evs []rateEvent
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var e rateEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		if e.Kind == "watch.rate" {
			evs = append(evs, e)
		}
	}
	return evs
}

// checkRates asserts that the rate lines describe n3's 200/s stream of
// 100-byte datagrams (and its three 32-byte end markers): every line from
// 10.0.0.3 alone, rates that are the counts over the interval, and a line
// whose interval the stream filled at about 200/s.
func checkRates(t *testing.T, what string, evs []rateEvent, out string) {
	t.Helper()
	if len(evs) < 2 {
		t.Fatalf("%s: %d rate lines, want at least 2:\n%s", what, len(evs), out)
	}
	steady := false
	for _, e := range evs {
		if e.Group != "239.6.6.6" || e.Iface != "eth0" || len(e.Senders) != 1 || e.Senders[0].Source != "10.0.0.3" || e.Senders[0].SourcePort == 0 ||
			e.Senders[0].Packets != e.Packets || e.Senders[0].Bytes != e.Bytes || e.Interval < 1 || e.PPS <= 0 ||
			(100*e.Packets-e.Bytes)%68 != 0 || (100*e.Packets-e.Bytes)/68 > 3 || (100*e.Packets-e.Bytes) < 0 ||
			math.Abs(e.BPS*e.Interval-8*float64(e.Bytes)) > 0.01 || math.Abs(e.PPS*e.Interval-float64(e.Packets)) > 0.01 {
			t.Errorf("%s: rate line %+v", what, e)
		}
		// Pacing on a loaded machine wobbles; the rate seen must still
		// be the stream's, not a multiple or a fraction of it.
		if e.PPS >= 160 && e.PPS <= 240 {
			steady = true
		}
	}
	if !steady {
		t.Errorf("%s: no rate line near 200 datagrams/s:\n%s", what, out)
	}
}

// n3 sends 200 datagrams/s; watch on n1 prints the group's rate and sender
// every report interval while it flows (text and JSON), and --read of the
// capture it wrote gives the same rates from the capture's timestamps.
func TestWatchDataRate(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "3")
	pcapPath := filepath.Join(t.TempDir(), "rate.pcap")
	w := l.StartMcast("n1", "watch", "--iface", "eth0", "--json", "--group", "239.6.6.6", "--report-interval", "2s", "--write", pcapPath)
	w.WaitFor(`"type":"watch.start"`, 20*time.Second)
	txt := startWatch(t, l, "--group", "239.6.6.6", "--report-interval", "2s")
	l.MustRun("n3", l.Bin, "send", "--iface", "eth0", "--rate", "200", "--size", "100", "--duration", "7s", "239.6.6.6:5000")
	time.Sleep(2500 * time.Millisecond) // one more report interval, silent
	res := w.Stop()
	checkRates(t, "watch --json", rateEvents(t, res.Stdout), res.Stdout)

	tres := txt.Stop()
	mustMatch(t, tres.Stdout, `^\d\d:\d\d:\d\d\.\d{3} eth0 rate   239\.6\.6\.6 (1[6-9]\d|2[0-3]\d)\.\d datagrams/s, 1\d\d\.\d kbit/s payload over \d\.\ds from 10\.0\.0\.3:\d+ \(\d+\)$`)
	mustMatch(t, tres.Stdout, `^total 239\.6\.6\.6 on eth0: \d+ datagrams, \d+ payload bytes, \d+\.\d datagrams/s from 10\.0\.0\.3:\d+ \(\d+\)$`)

	again := l.Mcast("n1", "watch", "--read", pcapPath, "--json", "--report-interval", "2s", "--iface", "eth0")
	if again.Code != 0 {
		t.Fatalf("watch --read: %s", again)
	}
	checkRates(t, "watch --read", rateEvents(t, again.Stdout), again.Stdout)
}

// Packets no host sends, crafted with scapy on n2 (reports for 10.0.0.77
// and 0.0.0.0, a v3 report without records, a bad IPv4 header checksum, a
// fragment, a record count beyond the packet, an MLD report for a unicast
// address), are no joins: watch shows only the good report sent after them
// and counts the others by reason. Watch runs on n2 itself, as the lab's
// bridge (multicast snooping) drops two of them before they reach n1.
func TestWatchRejectsHostileIGMP(t *testing.T) {
	t.Parallel()
	script, err := filepath.Abs("testdata/hostile_igmp.py")
	if err != nil {
		t.Fatal(err)
	}
	l := labtest.Up(t, "lan", "--nodes", "2")
	w := l.StartMcast("n2", "watch", "--iface", "eth0")
	w.WaitFor("watching eth0", 20*time.Second)
	l.MustRun("n2", "/usr/bin/python3", script, "send", "eth0")
	w.WaitFor("239.9.9.9", 20*time.Second)
	res := w.Stop()
	mustMatch(t, res.Stdout, `eth0 join   239\.9\.9\.9 from 10\.0\.0\.2 IGMPv2 report$`)
	for _, bad := range []string{"10.0.0.77", "0.0.0.0", "invalid IP", "239.1.1.1", "239.2.2.2", "10.0.0.78", "239.3.3.3", "fd00::77"} {
		if countLines(res.Stdout, `eth0 (join|report|leave) +`+regexp.QuoteMeta(bad)+` `) != 0 {
			t.Errorf("watch shows %s:\n%s", bad, res.Stdout)
		}
	}
	mustMatch(t, res.Stdout, `^dropped 8 invalid packets: 1 bad IPv4 header checksum, 1 fragmented IGMP/MLD, 1 report without records, 1 truncated, 4 not a multicast group$`)
}

// The kernel sends an SSM join's ALLOW record again (robustness variable
// 2), as mcjoin's host does: watch shows one join and then a report, as it
// does for a repeated TO_EX.
func TestWatchSSMAllowRetransmitIsReport(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "2")
	w := startWatch(t, l)
	r := l.StartMcast("n2", "recv", "--iface", "eth0", "--source", "10.0.0.1", "--timeout", "5s", "232.1.1.1")
	w.WaitFor("report 232.1.1.1 from 10.0.0.2 IGMPv3 ALLOW {10.0.0.1}", 20*time.Second)
	r.Stop()
	res := w.Stop()
	if n := countLines(res.Stdout, `eth0 join   232\.1\.1\.1 from 10\.0\.0\.2 IGMPv3 ALLOW \{10\.0\.0\.1\} \(source-specific\)$`); n != 1 {
		t.Errorf("%d joins of 232.1.1.1, want 1:\n%s", n, res.Stdout)
	}
}
