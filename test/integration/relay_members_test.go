package integration_test

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
)

// TestRelayLearnsLANMembers: a receiver on another host of vm2's LAN (no
// relay there, the relay configured with the default `interest members`)
// gets the group: vm2's relay hears the receiver's IGMP report, asks vm1
// for the group, and stops asking when the receiver leaves.
func TestRelayLearnsLANMembers(t *testing.T) {
	rl := upRelayLab(t, 2)
	ns := extraNode(t, rl.Lab, "vm2r", "net2", "10.0.2.20/24", "10.0.2.1")
	for _, n := range rl.nodes {
		rl.start(n, "group 239.1.1.1")
	}
	rl.waitStatus("vm1", "vm2 up", func(st relay.Status) bool { return peerWants(st, "vm2") })
	const n = 200
	recv := labtest.StartNS(t, ns, append([]string{rl.Bin}, recvArgs(n, "8s", "239.1.1.1")...)...)
	st2 := rl.waitStatus("vm2", "the receiver's report", func(st relay.Status) bool { return st.LANMembers["239.1.1.1"] == 1 })
	if st2.Members["239.1.1.1"] != 0 {
		t.Errorf("vm2 counts %d members on its own host, want 0 (the receiver is on another host)", st2.Members["239.1.1.1"])
	}
	rl.waitStatus("vm1", "vm2 wanting 239.1.1.1", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", "239.1.1.1"); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	select {
	case <-recv.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the receiver never finished")
	}
	exactlyOnceJSON(t, "vm2r", recv.Wait(), n, "10.0.1.10")
	// The receiver left the group when it exited.
	rl.waitStatus("vm2", "the receiver's leave", func(st relay.Status) bool { return st.LANMembers["239.1.1.1"] == 0 })
	rl.waitStatus("vm1", "vm2 no longer wanting 239.1.1.1", func(st relay.Status) bool {
		return peerWants(st, "vm2") && !peerWants(st, "vm2", "239.1.1.1")
	})
}

// TestRelayLearnsIPv6LANMembers: a receiver of ff15::1 on another host of
// vm2's LAN joins with an MLDv2 report (Linux's default); vm2's relay
// learns the member and asks vm1 for the group.
func TestRelayLearnsIPv6LANMembers(t *testing.T) {
	rl := upRelayLab(t, 2)
	ns := extraNode(t, rl.Lab, "vm2r", "net2", "10.0.2.20/24", "10.0.2.1")
	for _, n := range rl.nodes {
		rl.start(n, "group ff15::1")
	}
	rl.waitStatus("vm1", "vm2 up", func(st relay.Status) bool { return peerWants(st, "vm2") })
	recv := labtest.StartNS(t, ns, rl.Bin, "recv", "--iface", "eth0", "--timeout", "20s", "ff15::1")
	defer recv.Stop()
	st2 := rl.waitStatus("vm2", "the receiver's MLDv2 report", func(st relay.Status) bool { return st.LANMembers["ff15::1"] == 1 })
	if st2.Members["ff15::1"] != 0 {
		t.Errorf("vm2 counts %d members on its own host, want 0 (the receiver is on another host)", st2.Members["ff15::1"])
	}
	rl.waitStatus("vm1", "vm2 wanting ff15::1", func(st relay.Status) bool { return peerWants(st, "vm2", "ff15::1") })
}

// TestRelayRefusesHostileMembership: IGMP/MLD messages no host sends
// (reports for unicast groups and 0.0.0.0, a v3 report without records, a
// bad IPv4 header checksum, a fragment, a record count beyond the packet,
// an MLD report for a unicast address), sent by another host of vm2's LAN,
// add no LAN member and are counted by reason; the good report after them
// is learnt. (The lab's snooping bridge itself drops two of them.)
func TestRelayRefusesHostileMembership(t *testing.T) {
	script, err := filepath.Abs("testdata/hostile_igmp.py")
	if err != nil {
		t.Fatal(err)
	}
	rl := upRelayLab(t, 2)
	ns := extraNode(t, rl.Lab, "vm2r", "net2", "10.0.2.20/24", "10.0.2.1")
	for _, n := range rl.nodes {
		rl.start(n, "group 239.9.9.9")
	}
	rl.waitStatus("vm1", "vm2 up", func(st relay.Status) bool { return peerWants(st, "vm2") })
	if out, err := exec.Command("ip", "netns", "exec", ns, "/usr/bin/python3", script, "send", "eth0").CombinedOutput(); err != nil {
		t.Fatalf("sending the hostile packets: %v\n%s", err, out)
	}
	st := rl.waitStatus("vm2", "the good report", func(st relay.Status) bool { return st.LANMembers["239.9.9.9"] == 1 })
	for g := range st.LANMembers {
		if g != "239.9.9.9" {
			t.Errorf("vm2 took %s as a LAN member from a hostile report: %v", g, st.LANMembers)
		}
	}
	var refused uint64
	for _, r := range []string{relay.DropMembershipChecksum, relay.DropMembershipFragment, relay.DropMembershipGroup,
		relay.DropMembershipNoRecords, relay.DropMembershipTruncated, relay.DropMembershipType} {
		refused += st.Drops[r]
	}
	if st.Drops[relay.DropMembershipGroup] < 3 || refused < 6 {
		t.Errorf("vm2 counted %d refused membership messages (%d for their group), want at least 6 (3): %v", refused, st.Drops[relay.DropMembershipGroup], st.Drops)
	}
	t.Logf("vm2 drops %v", st.Drops)
}
