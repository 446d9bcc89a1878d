package integration_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/stream"
)

// The send banner names the source address the route picks, for IPv6 as
// for IPv4, not the wildcard the socket is bound to.
func TestSendBannerNamesSource(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"239.1.1.1:5000"}, "from 10.0.0.1:"},
		{[]string{"[ff0e::4242]:5002", "--iface", "eth0"}, "from [fd00::1]:"},
		{[]string{"[ff0e::4242]:5002"}, "from [fd00::1]:"},
	} {
		r := l.Mcast("n1", append([]string{"send", "--count", "1", "--ttl", "5"}, c.args...)...)
		if r.Code != 0 || !strings.Contains(r.Stdout, c.want) {
			t.Errorf("send %s: want the banner to say %q: %s", strings.Join(c.args, " "), c.want, r)
		}
	}
}

// A stream whose tail is lost, end markers included: the receiver's firewall
// lets only the first datagram through. The loss is unknown, recv says so,
// and --max-loss does not pass on it.
func TestRecvTailLostLossUnknown(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	l.MustRun("n2", "nft", "add", "table", "inet", "t")
	l.MustRun("n2", "nft", "add", "chain", "inet", "t", "in", "{ type filter hook input priority 0; }")
	l.MustRun("n2", "nft", "add", "rule", "inet", "t", "in", "udp", "dport", "5001", "limit", "rate", "over", "1/minute", "burst", "1", "packets", "drop")
	p := l.StartMcast("n2", "recv", "239.1.1.1:5001", "--timeout", "2s", "--quiet", "--max-loss", "1")
	p.WaitFor("use interface", 30*time.Second)
	time.Sleep(200 * time.Millisecond) // let the IGMP join reach the bridge
	l.MustRun("n1", l.Bin, "send", "239.1.1.1:5001", "--count", "5", "--interval", "10ms")
	r := p.Wait()
	if r.Code != 1 || !strings.Contains(r.Stdout, "1 received, loss unknown: no end marker arrived") ||
		!strings.Contains(r.Stderr, "loss unknown") || strings.Contains(r.Stdout, "0 lost (0.00%)") {
		t.Fatalf("want the loss called unknown and exit 1: %s", r)
	}
}

// Rate mode with datagrams larger than the interface's MTU (an overlay's
// 1370): UDP_SEGMENT refuses them, the send falls back to sendmmsg and the
// kernel fragments, and send says so once, naming the MTU.
func TestSendRateAboveMTUFragments(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	l.MustRun("n1", "ip", "link", "set", "eth0", "mtu", "1370")
	p := startRecv(t, l, "n2", "239.1.1.1:5000", "--quiet")
	r := l.Mcast("n1", "send", "239.1.1.1:5000", "--rate", "2000", "--count", "200", "--size", "1400")
	if r.Code != 0 || strings.Count(r.Stdout, "MTU 1370") != 1 || !strings.Contains(r.Stdout, "fragment") {
		t.Fatalf("want the send to go through and one note naming the MTU 1370: %s", r)
	}
	f := summaryOf(t, p.Wait()).Flows
	if len(f) != 1 || f[0].Received != 200 || !f[0].LossKnown {
		t.Fatalf("want 200 fragmented datagrams received: %+v", f)
	}
}

// A group configured as an interface address (`ip addr add ... autojoin`):
// send says the address is local to this host, so the kernel routes the
// group to lo, and how to fix it, with or without --iface.
func TestSendToAutojoinAddress(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	l.MustRun("n1", "ip", "addr", "add", "239.0.0.1/32", "dev", "eth0", "autojoin")
	for _, args := range [][]string{{"239.0.0.1:8080"}, {"239.0.0.1:8080", "--iface", "eth0"}} {
		r := l.Mcast("n1", append([]string{"send", "--count", "1"}, args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, "239.0.0.1 is an address of this host (on eth0") ||
			!strings.Contains(r.Stderr, "to lo") || !strings.Contains(r.Stderr, "ip addr del 239.0.0.1/32 dev eth0") ||
			strings.Count(strings.TrimSpace(r.Stderr), "\n") != 0 {
			t.Errorf("send %s: want one line naming the local address and the fix, exit 1: %s", strings.Join(args, " "), r)
		}
	}
}

// startRecvPID starts mcast recv --json on node through a shell that prints
// its PID and execs recv, so that the test can signal that very process,
// and waits until it listens.
func startRecvPID(t *testing.T, l *labtest.Lab, node string, args ...string) (*labtest.Proc, int) {
	t.Helper()
	cmd := "echo pid $$; exec " + l.Bin + " recv --json " + strings.Join(args, " ")
	p := l.Start(node, "sh", "-c", cmd)
	p.WaitFor(`"type":"recv.start"`, 30*time.Second)
	var pid int
	if _, err := fmt.Sscanf(p.Stdout(), "pid %d", &pid); err != nil || pid <= 1 {
		t.Fatalf("no pid from the shell: %q", p.Stdout())
	}
	time.Sleep(200 * time.Millisecond) // let the IGMP join reach the bridge
	return p, pid
}

// recvReport is recv's JSON summary after the line with the PID.
func recvReport(t *testing.T, r labtest.Result) stream.Report {
	t.Helper()
	_, rest, _ := strings.Cut(r.Stdout, "\n")
	r.Stdout = rest
	return summaryOf(t, r)
}

// A stall longer than --timeout (recv stopped with SIGSTOP while the stream
// goes on): recv reads what waits in its buffer before it ends, so the end
// markers arrive and the loss is known, and it says how many datagrams the
// kernel dropped because the buffer was full.
func TestRecvStallLongerThanTimeout(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	p, pid := startRecvPID(t, l, "n2", "239.1.1.1:5000", "--timeout", "1s", "--rcvbuf", "262144")
	s := l.StartMcast("n1", "send", "239.1.1.1:5000", "--rate", "20000", "--count", "40000", "--size", "100")
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // longer than --timeout
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if r := s.Wait(); r.Code != 0 {
		t.Fatalf("send: %s", r)
	}
	rep := recvReport(t, p.Wait())
	if len(rep.Flows) != 1 {
		t.Fatalf("want one flow: %+v", rep)
	}
	f := rep.Flows[0]
	if f.Sent == nil || *f.Sent != 40000 || f.Received+f.Lost != 40000 {
		t.Fatalf("want the end marker read and every datagram accounted: %+v", f)
	}
	if rep.KernelDrops == 0 || f.Lost < rep.KernelDrops || len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "receive buffer was full") {
		t.Fatalf("want the kernel's drops counted and explained: drops %d, lost %d, notes %q", rep.KernelDrops, f.Lost, rep.Notes)
	}
}

// The interface recv listens on is deleted mid-stream: recv notices, ends,
// and says what happened instead of "0 lost".
func TestRecvInterfaceDeleted(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	p, _ := startRecvPID(t, l, "n2", "239.1.1.1:5000", "--iface", "eth0", "--timeout", "20s", "--max-loss", "1")
	s := l.StartMcast("n1", "send", "239.1.1.1:5000", "--rate", "2000", "--count", "6000", "--size", "100")
	time.Sleep(time.Second)
	l.MustRun("n2", "ip", "link", "del", "eth0")
	start := time.Now()
	r := p.Wait()
	s.Stop()
	if time.Since(start) > 5*time.Second {
		t.Errorf("recv waited %s after its only interface was deleted", time.Since(start))
	}
	rep := recvReport(t, r)
	if r.Code != 1 || len(rep.Flows) != 1 || rep.Flows[0].LossKnown || len(rep.Notes) == 0 || !strings.Contains(rep.Notes[0], "eth0 was deleted") {
		t.Fatalf("want the deletion told, the loss unknown and exit 1: %s", r)
	}
}

// A raw rate-mode send with %d in the text puts the sequence number on the
// wire, and recv shows text padded with zero bytes (--size) as the text and
// the padding's length.
func TestSendRawRateSequenceAndPadding(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	p := l.StartMcast("n2", "recv", "239.1.1.1:5000", "--iface", "eth0", "--count", "5", "--timeout", "10s")
	p.WaitFor("use interface", 30*time.Second)
	time.Sleep(200 * time.Millisecond) // let the IGMP join reach the bridge
	l.MustRun("n1", l.Bin, "send", "239.1.1.1:5000", "--raw", "--message", "count: %d", "--rate", "100", "--count", "5", "--size", "64")
	r := p.Wait()
	for i := range 5 {
		want := fmt.Sprintf("received: count: %d (then %d zero bytes of padding) from 10.0.0.1:", i, 64-len(fmt.Sprint("count: ", i)))
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("recv lacks %q: %s", want, r)
		}
	}
}
