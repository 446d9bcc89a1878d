package integration_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay"
)

// TestRelaySegmentedSenderIPv6: on Ethernet, a sender to an IPv6 group
// that uses UDP_SEGMENT reaches receivers on vm2 and vm3 through the
// relays, every datagram once: the relay's IPv6 packet capture sees each
// send before the kernel cuts it and carries its datagrams, none dropped
// as too big.
func TestRelaySegmentedSenderIPv6(t *testing.T) {
	st1 := carrySegmented(t, 2000, "ff15::1", "fd00:1::10")
	if d := st1.Drops[relay.DropTooBig]; d != 0 {
		t.Errorf("vm1 dropped %d datagrams as too big", d)
	}
}

// carrySegmented runs relays on three VMs of the cloud lab carrying group
// and sends n datagrams to it from vm1 (from) with UDP_SEGMENT (mcast
// send's rate mode): each arrives once at receivers on vm2 and vm3. It
// returns vm1's relay status after.
func carrySegmented(t *testing.T, n int, group, from string) relay.Status {
	t.Helper()
	rl := upRelayLab(t, 3)
	for _, node := range rl.nodes {
		rl.start(node, "group "+group)
	}
	r2 := rl.StartMcast("vm2", recvArgs(n, "4s", group)...)
	r3 := rl.StartMcast("vm3", recvArgs(n, "4s", group)...)
	rl.waitStatus("vm1", "vm2 and vm3 wanting "+group, func(st relay.Status) bool {
		return peerWants(st, "vm2", group) && peerWants(st, "vm3", group)
	})
	s := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--rate", "20000", "--size", "200", group)
	if s.Code != 0 {
		t.Fatalf("sender: %s", s)
	}
	if !strings.Contains(s.Stdout+s.Stderr, "UDP_SEGMENT") {
		t.Fatalf("the sender did not use UDP_SEGMENT, so this test shows nothing: %s", s)
	}
	exactlyOnceJSON(t, "vm2", r2.Wait(), n, from)
	exactlyOnceJSON(t, "vm3", r3.Wait(), n, from)
	st1, err := rl.status("vm1")
	if err != nil {
		t.Fatal(err)
	}
	return st1
}
