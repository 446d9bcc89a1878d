package integration_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay"
)

// requireRun skips the test, naming the Debian package, when argv does not
// run; in CI (CI=true) it fails instead, because CI installs them all
// (scripts/install-deps.sh).
func requireRun(t *testing.T, pkg string, argv ...string) {
	t.Helper()
	if err := exec.Command(argv[0], argv[1:]...).Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v; CI must have Debian's %s (scripts/install-deps.sh)", strings.Join(argv, " "), err, pkg)
		}
		t.Skipf("%s: %v (Debian's %s, scripts/install-deps.sh)", strings.Join(argv, " "), err, pkg)
	}
}

// upUnicastAnswers is the lab for the unicast answers: a zeroconf service
// on VLAN A, one relay whose allow line lets mDNS cross from B to A only,
// so that the responder's multicast answers never reach B and only the
// unicast answers the relay carries back can.
func upUnicastAnswers(t *testing.T) *vlanLab {
	v := upVLANs(t, 1)
	if b, err := exec.Command("ip", "netns", "exec", v.ns("r1"), "cat", "/proc/sys/net/ipv4/conf/ethA/forwarding").Output(); err != nil || strings.TrimSpace(string(b)) != "0" {
		t.Fatalf("the router forwards (%q, %v): the answers would not need the relay", b, err)
	}
	v.relay(1, 1, "service mdns", "allow mdns from ethB to ethA")
	v.mdns("a", "register", "_mcasttest._tcp", "printerA", "631", "60").WaitFor("registered", 10*time.Second)
	return v
}

// TestRelayReflectorMDNSQU: python3-zeroconf on VLAN B resolves a service
// registered on VLAN A with a question carrying the unicast-response bit.
// zeroconf on A answers it by unicast to B's address, port 5353, through
// its route to the router, which does not forward: the answer arrives
// because the relay carries it back.
func TestRelayReflectorMDNSQU(t *testing.T) {
	requireZeroconf(t)
	v := upUnicastAnswers(t)
	res := v.mdns("b", "resolve", "_mcasttest._tcp", "printerA", "5").Wait()
	if !strings.Contains(res.Stdout, "resolved printerA 10.0.10.100:631") {
		t.Errorf("resolving from B: %s; want printerA at 10.0.10.100:631", res)
	}
	st := v.waitStatus(1, "an answer carried back", func(st relay.Status) bool { return st.RepliesCarried > 0 })
	t.Logf("answers carried back %d, reflected %d", st.RepliesCarried, st.Reflected)
}

// TestRelayReflectorMDNSOneShot: python3-zeroconf in its unicast mode on
// VLAN B asks from a port of its own, not 5353 (a one-shot query, RFC 6762
// section 6.7); zeroconf on A answers by unicast to that address and port,
// and the relay carries the answer back.
func TestRelayReflectorMDNSOneShot(t *testing.T) {
	requireZeroconf(t)
	v := upUnicastAnswers(t)
	res := v.mdns("b", "resolve", "_mcasttest._tcp", "printerA", "5", "oneshot").Wait()
	if !strings.Contains(res.Stdout, "resolved printerA 10.0.10.100:631") {
		t.Errorf("resolving from B: %s; want printerA at 10.0.10.100:631", res)
	}
	st := v.waitStatus(1, "an answer carried back", func(st relay.Status) bool { return st.RepliesCarried > 0 })
	t.Logf("answers carried back %d", st.RepliesCarried)
}
