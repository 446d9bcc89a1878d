package integration_test

import (
	"bufio"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/stream"
)

// summaryOf finds the summary object in recv's --json output.
func summaryOf(t *testing.T, r labtest.Result) stream.Report {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(r.Stdout))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var rep stream.Report
		if json.Unmarshal(sc.Bytes(), &rep) == nil && rep.Type == "recv.summary" {
			return rep
		}
	}
	t.Fatalf("no summary in recv output: %s", r)
	return stream.Report{}
}

// startRecv starts mcast recv --json on node and waits until it listens.
func startRecv(t *testing.T, l *labtest.Lab, node string, args ...string) *labtest.Proc {
	t.Helper()
	p := l.StartMcast(node, append([]string{"recv", "--json", "--timeout", "3s"}, args...)...)
	p.WaitFor(`"type":"recv.start"`, 30*time.Second)
	time.Sleep(200 * time.Millisecond) // let the IGMP join reach the bridge
	return p
}

func TestMeasureLoss(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	l.MustRun("n2", "nft", "add", "table", "inet", "t")
	l.MustRun("n2", "nft", "add", "chain", "inet", "t", "in", "{ type filter hook input priority 0; }")
	l.MustRun("n2", "nft", "add", "rule", "inet", "t", "in", "udp", "dport", "5000", "meta", "length", "> 60", "numgen", "random", "mod", "10", "0", "drop")
	p := startRecv(t, l, "n2", "239.1.1.1:5000")
	l.MustRun("n1", l.Bin, "send", "239.1.1.1:5000", "--rate", "2000", "--count", "4000", "--size", "100")
	rep := summaryOf(t, p.Wait())
	if len(rep.Flows) != 1 {
		t.Fatalf("want 1 flow, got %+v", rep.Flows)
	}
	f := rep.Flows[0]
	// 10 % dropped at random: 4000 datagrams give a standard deviation of
	// about 0.5 %; accept 6..14 %.
	if f.LossPct < 6 || f.LossPct > 14 || f.Expected != 4000 || f.Received+f.Lost != 4000 {
		t.Fatalf("loss %.2f%% (%d of %d), want about 10%% of 4000: %+v", f.LossPct, f.Lost, f.Expected, f)
	}
	if f.Sent == nil || *f.Sent != 4000 {
		t.Fatalf("sender's announced total missing: %+v", f)
	}
}

// handBuilt sends datagrams with the mcast header built by hand (Python,
// as a foreign program would), in the order given, then an end marker.
const handBuilt = `
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
def hdr(flags, seq):
    return b"MCST" + struct.pack(">BBBBIQQI", 1, flags, 32, 1, 0xabcd, seq, time.time_ns(), 0)
for seq in [int(x) for x in sys.argv[1].split(",")]:
    s.sendto(hdr(0, seq) + b"hand %d" % seq, ("239.1.1.1", 5000))
    time.sleep(0.01)
s.sendto(hdr(1, int(sys.argv[2])), ("239.1.1.1", 5000))
s.sendto(b"MCST\x01\x00", ("239.1.1.1", 5000))
`

func TestMeasureDuplicatesReordering(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	p := startRecv(t, l, "n2", "239.1.1.1:5000")
	l.MustRun("n1", "python3", "-c", handBuilt, "0,1,3,2,2,5,4,4,4,8", "10")
	rep := summaryOf(t, p.Wait())
	if len(rep.Flows) != 1 {
		t.Fatalf("want one flow: %+v", rep.Flows)
	}
	f := rep.Flows[0]
	// 0..9 sent (10 announced): 6 and 7 and 9 lost; 2 and 4 reordered;
	// one 2 and two 4s duplicated.
	if f.Received != 7 || f.Lost != 3 || f.Reordered != 2 || f.Duplicates != 3 || f.Expected != 10 {
		t.Fatalf("received/lost/reordered/duplicates/expected = %d/%d/%d/%d/%d, want 7/3/2/3/10: %+v", f.Received, f.Lost, f.Reordered, f.Duplicates, f.Expected, f)
	}
	if rep.Totals.Malformed != 1 {
		t.Fatalf("the truncated header was not counted as malformed: %+v", rep.Totals)
	}
}

func TestMeasureDuplicatesNft(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	// The sender's node sends every datagram twice (nft dup).
	l.MustRun("n1", "nft", "add", "table", "ip", "t")
	l.MustRun("n1", "nft", "add", "chain", "ip", "t", "out", "{ type filter hook output priority 0; }")
	l.MustRun("n1", "nft", "add", "rule", "ip", "t", "out", "udp", "dport", "5000", "dup", "to", "239.1.1.1", "device", "eth0")
	p := startRecv(t, l, "n2", "239.1.1.1:5000")
	l.MustRun("n1", l.Bin, "send", "239.1.1.1:5000", "--count", "50", "--interval", "5ms")
	f := summaryOf(t, p.Wait()).Flows
	if len(f) != 1 || f[0].Received != 50 || f[0].Duplicates != 50 || f[0].Lost != 0 {
		t.Fatalf("want 50 received, 50 duplicates, 0 lost: %+v", f)
	}
}

func TestMeasureSSMIncludeExclude(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "3")
	in := startRecv(t, l, "n3", "232.1.1.1:5000", "--source", "10.0.0.1")
	ex := startRecv(t, l, "n3", "239.1.1.2:5001", "--exclude-source", "10.0.0.1")
	s1 := l.StartMcast("n1", "send", "232.1.1.1:5000", "--count", "20", "--interval", "10ms")
	s2 := l.StartMcast("n2", "send", "232.1.1.1:5000", "--count", "20", "--interval", "10ms")
	s3 := l.StartMcast("n1", "send", "239.1.1.2:5001", "--count", "20", "--interval", "10ms")
	s4 := l.StartMcast("n2", "send", "239.1.1.2:5001", "--count", "20", "--interval", "10ms")
	for _, s := range []*labtest.Proc{s1, s2, s3, s4} {
		if r := s.Wait(); r.Code != 0 {
			t.Fatalf("sender: %s", r)
		}
	}
	for _, c := range []struct {
		name string
		p    *labtest.Proc
		want string
	}{{"include", in, "10.0.0.1"}, {"exclude", ex, "10.0.0.2"}} {
		rep := summaryOf(t, c.p.Wait())
		if len(rep.Flows) != 1 || rep.Flows[0].Source != c.want || rep.Flows[0].Received != 20 || rep.Totals.Foreign != 0 {
			t.Errorf("%s: want only 20 from %s: %+v", c.name, c.want, rep.Flows)
		}
	}
}

func TestMeasureIPv6(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	for _, g := range []string{"[ff02::1:4242]:5000", "[ff0e::4242]:5002", "[ff3e::4242]:5004"} {
		args := []string{g, "--iface", "eth0"}
		if strings.HasPrefix(g, "[ff3") {
			args = append(args, "--source", "fd00::1")
		}
		p := startRecv(t, l, "n2", args...)
		send := []string{"send", g, "--iface", "eth0", "--count", "10", "--interval", "10ms"}
		if !strings.HasPrefix(g, "[ff02") {
			send = append(send, "--ttl", "5")
		}
		if r := l.Mcast("n1", send...); r.Code != 0 {
			t.Fatalf("%s: send: %s", g, r)
		}
		rep := summaryOf(t, p.Wait())
		if len(rep.Flows) != 1 || rep.Flows[0].Received != 10 || rep.Flows[0].Lost != 0 {
			t.Fatalf("%s: want 10 received: %+v", g, rep.Flows)
		}
	}
}

func TestMeasureBroadcast(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "3")
	p2 := startRecv(t, l, "n2", "--broadcast", "--port", "5000")
	p3 := startRecv(t, l, "n3", "--broadcast", "--port", "5000")
	for _, dst := range []string{"10.0.0.255:5000", "255.255.255.255:5000"} {
		if r := l.Mcast("n1", "send", "--broadcast", dst, "--iface", "eth0", "--count", "5", "--interval", "10ms"); r.Code != 0 {
			t.Fatalf("send %s: %s", dst, r)
		}
	}
	for _, p := range []*labtest.Proc{p2, p3} {
		rep := summaryOf(t, p.Wait())
		if rep.Totals.Received != 10 || len(rep.Flows) != 2 {
			t.Fatalf("want 2 flows of 5: %+v", rep.Flows)
		}
	}
}

func TestMeasureManyGroups(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	p := startRecv(t, l, "n2", "239.2.0.1+99:5000", "--quiet")
	l.MustRun("n1", l.Bin, "send", "239.2.0.1+99:5000", "--count", "20", "--interval", "10ms")
	rep := summaryOf(t, p.Wait())
	if len(rep.Flows) != 100 {
		t.Fatalf("want 100 flows, got %d", len(rep.Flows))
	}
	seen := map[string]bool{}
	for _, f := range rep.Flows {
		seen[f.Group] = true
		if f.Received != 20 {
			t.Errorf("group %s: %d received, want 20", f.Group, f.Received)
		}
	}
	if !seen["239.2.0.1"] || !seen["239.2.0.100"] {
		t.Fatalf("range ends missing: %v", seen)
	}
}

func TestMeasureJSONFields(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	p := startRecv(t, l, "n2", "239.1.1.1:5000", "--json-events")
	l.MustRun("n1", l.Bin, "send", "239.1.1.1:5000", "--count", "3", "--interval", "10ms")
	r := p.Wait()
	var sawDatagram, sawSummary bool
	for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		switch m["type"] {
		case "recv.datagram":
			sawDatagram = true
			for _, k := range []string{"time", "iface", "group", "source", "source_port", "seq", "sender_id", "bytes", "ttl", "latency_ms", "class"} {
				if _, ok := m[k]; !ok {
					t.Errorf("datagram event lacks %q: %s", k, line)
				}
			}
		case "recv.summary":
			sawSummary = true
			fl := m["flows"].([]any)[0].(map[string]any)
			for _, k := range []string{"iface", "group", "source", "received", "lost", "loss_pct", "duplicates", "reordered", "rate_pps", "rate_bps", "latency_ms", "jitter_ms", "ttl", "hops", "sent"} {
				if _, ok := fl[k]; !ok {
					t.Errorf("flow lacks %q: %s", k, line)
				}
			}
		}
	}
	if !sawDatagram || !sawSummary {
		t.Fatalf("datagram %v summary %v: %s", sawDatagram, sawSummary, r)
	}
}

func TestMeasureExitCodes(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	l.MustRun("n2", "nft", "add", "table", "inet", "t")
	l.MustRun("n2", "nft", "add", "chain", "inet", "t", "in", "{ type filter hook input priority 0; }")
	l.MustRun("n2", "nft", "add", "rule", "inet", "t", "in", "udp", "dport", "5000", "meta", "length", "> 60", "numgen", "inc", "mod", "2", "0", "drop")
	p := l.StartMcast("n2", "recv", "239.1.1.1:5000", "--timeout", "3s", "--quiet", "--max-loss", "10")
	p.WaitFor("use interface", 30*time.Second)
	q := l.StartMcast("n2", "recv", "239.1.1.1:5000", "--timeout", "3s", "--quiet", "--expect", "100")
	q.WaitFor("use interface", 30*time.Second)
	time.Sleep(200 * time.Millisecond)
	l.MustRun("n1", l.Bin, "send", "239.1.1.1:5000", "--count", "100", "--interval", "2ms")
	r := p.Wait()
	if r.Code != 1 || !strings.Contains(r.Stderr, "above --max-loss 10%") || strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
		t.Errorf("--max-loss: want exit 1 with one line: %s", r)
	}
	r = q.Wait()
	if r.Code != 1 || !strings.Contains(r.Stderr, "expected 100 datagrams, received 50") {
		t.Errorf("--expect: want exit 1 with a reason: %s", r)
	}
}

func TestMeasureForeignSenders(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "3")
	p := startRecv(t, l, "n3", "239.1.1.1:5001", "--json-events")
	l.MustRun("n1", "iperf", "-c", "239.1.1.1", "-p", "5001", "-u", "-T", "1", "-t", "1", "-b", "100K")
	l.MustRun("n2", "sh", "-c", "for i in 1 2 3; do echo hello socat $i; done | socat -u - UDP4-DATAGRAM:239.1.1.1:5001,ip-multicast-ttl=1")
	rep := summaryOf(t, p.Wait())
	if len(rep.Flows) != 0 {
		t.Fatalf("foreign senders counted as flows: %+v", rep.Flows)
	}
	bySrc := map[string]uint64{}
	for _, f := range rep.Foreign {
		bySrc[f.Source] += f.Received
	}
	if bySrc["10.0.0.1"] < 5 || bySrc["10.0.0.2"] < 1 {
		t.Fatalf("want iperf2 (10.0.0.1) and socat (10.0.0.2) counted as foreign: %+v", rep.Foreign)
	}
}

func TestMeasureInteropSendToSocat(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	p := l.Start("n2", "timeout", "10", "socat", "-u", "UDP4-RECVFROM:5000,ip-add-membership=239.1.1.1:eth0,reuseaddr,fork", "-")
	time.Sleep(time.Second)
	l.MustRun("n1", l.Bin, "send", "239.1.1.1:5000", "--count", "3", "--interval", "100ms", "--raw", "--message", "hello %d")
	time.Sleep(500 * time.Millisecond)
	r := p.Stop()
	if !strings.Contains(r.Stdout, "hello 0") || !strings.Contains(r.Stdout, "hello 2") {
		t.Fatalf("socat did not print our text: %s", r)
	}
}
