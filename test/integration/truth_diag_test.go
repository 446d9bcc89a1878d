package integration_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// Two NICs of one host on one subnet with strict rp_filter on enX1, and the
// sender on ANOTHER host: enX1 hears nothing, because the route back to the
// sender leaves by enX0. recv's summary names strict rp_filter and its fix,
// as mcast doctor --source does, and blames no sender on this host.
func TestRecvSummaryStrictRPFilterRemoteSender(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "twonic")
	l.MustRun("host", "sysctl", "-qw", "net.ipv4.conf.enX1.rp_filter=1")
	r := l.StartMcast("host", "recv", "--iface", "enX1", "--timeout", "2s", "239.1.2.3:28100")
	r.WaitFor("use interface: enX1", 10*time.Second)
	l.MustRun("peer", l.Bin, "send", "--iface", "eth0", "--count", "5", "--interval", "20ms", "239.1.2.3:28100")
	out := r.Wait().Stdout
	for _, want := range []string{
		"enX1: 0 received; nothing crossed the wire to enX1: strict rp_filter on enX1",
		"Fix: sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.enX1.rp_filter=2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "A sender on this host") {
		t.Errorf("summary blames a sender on this host, but the sender is the peer:\n%s", out)
	}
}

// doctor's environment check gives one answer per host: in an mcast lab
// node, with the group routed or not. On a machine that is itself a Docker
// container (/.dockerenv), the lab's namespace is not the container's
// network, so there is no Docker network to warn about.
func TestDoctorEnvironmentInLabNamespace(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "2")
	routed := runDoctor(t, l, "n1").checks["environment"]
	sh(t, l, "n1", "ip route del 224.0.0.0/4")
	unrouted := runDoctor(t, l, "n1").checks["environment"]
	if routed.Status != unrouted.Status || routed.Summary != unrouted.Summary {
		t.Errorf("two answers on one node: with the group routed %s %q, without %s %q", routed.Status, routed.Summary, unrouted.Status, unrouted.Summary)
	}
	if _, err := os.Stat("/.dockerenv"); err == nil {
		if routed.Status != "ok" || !strings.Contains(routed.Summary, "in network namespace "+l.Name+"-n1") {
			t.Errorf("in a lab namespace of a Docker container: %s %q", routed.Status, routed.Summary)
		}
	}
}

// A receiver behind its own host's firewall (an nft rule dropping the
// group's port on input): recv names the rule and the command that removes
// it, instead of "no sender reached it".
func TestRecvSummaryNamesFirewallRule(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "2")
	l.MustRun("n2", "nft", "add", "table", "inet", "guard")
	l.MustRun("n2", "nft", "add", "chain", "inet", "guard", "in", "{ type filter hook input priority 0; policy accept; }")
	l.MustRun("n2", "nft", "add", "rule", "inet", "guard", "in", "udp", "dport", "28200", "drop")
	r := l.StartMcast("n2", "recv", "--timeout", "2s", "239.1.2.3:28200")
	r.WaitFor("use interface: eth0", 10*time.Second)
	l.MustRun("n1", l.Bin, "send", "--count", "5", "--interval", "20ms", "239.1.2.3:28200")
	out := r.Wait().Stdout
	for _, want := range []string{
		"eth0: 0 received; nothing crossed the wire to eth0: this host's firewall drops it",
		`nft: table inet guard chain in handle 2: "udp dport 28200 drop" drops UDP to 239.1.2.3:28200 arriving on eth0`,
		"Fix: nft delete rule inet guard in handle 2",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "no sender reached it") {
		t.Errorf("summary blames the sender:\n%s", out)
	}
}
