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
	rl := upRelayLab(t, 3)
	for _, n := range rl.nodes {
		rl.start(n, "group ff15::1")
	}
	const n = 2000
	r2 := rl.StartMcast("vm2", recvArgs(n, "4s", "ff15::1")...)
	r3 := rl.StartMcast("vm3", recvArgs(n, "4s", "ff15::1")...)
	rl.waitStatus("vm1", "vm2 and vm3 wanting ff15::1", func(st relay.Status) bool {
		return peerWants(st, "vm2", "ff15::1") && peerWants(st, "vm3", "ff15::1")
	})
	s := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--rate", "20000", "--size", "200", "ff15::1")
	if s.Code != 0 {
		t.Fatalf("sender: %s", s)
	}
	if !strings.Contains(s.Stdout+s.Stderr, "UDP_SEGMENT") {
		t.Fatalf("the sender did not use UDP_SEGMENT, so this test shows nothing: %s", s)
	}
	exactlyOnceJSON(t, "vm2", r2.Wait(), n, "fd00:1::10")
	exactlyOnceJSON(t, "vm3", r3.Wait(), n, "fd00:1::10")
	st1, err := rl.status("vm1")
	if err != nil {
		t.Fatal(err)
	}
	if d := st1.Drops[relay.DropTooBig]; d != 0 {
		t.Errorf("vm1 dropped %d datagrams as too big", d)
	}
}
