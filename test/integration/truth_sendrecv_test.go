package integration_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
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
