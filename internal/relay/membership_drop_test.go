package relay

import (
	"testing"

	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// The scapy-crafted IGMP/MLD packets no host sends (the same file as
// wire/igmp's hostile test; made by test/integration/testdata/hostile_igmp.py)
// are refused before they can add LAN members, each counted under its
// reason; the good report among them is taken.
func TestMembershipDropReasons(t *testing.T) {
	_, recs, err := pcap.ReadFile("testdata/hostile.pcap")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		DropMembershipGroup,     // v2 report for 10.0.0.77
		DropMembershipGroup,     // v2 report for 0.0.0.0
		DropMembershipNoRecords, // v3 report without records
		DropMembershipChecksum,  // bad IPv4 header checksum
		DropMembershipFragment,  // first of several fragments
		DropMembershipGroup,     // v3 record for 10.0.0.78
		DropMembershipTruncated, // record count beyond the packet
		DropMembershipGroup,     // MLDv1 report for fd00::77
		"",                      // a good v2 report for 239.9.9.9
	}
	if len(recs) != len(want) {
		t.Fatalf("%d packets in the file, want %d", len(recs), len(want))
	}
	for i, w := range want {
		p, err := igmp.DecodeIP(recs[i].Data[14:]) // the relay's capture hands over the IP packet
		if w == "" {
			if err != nil || p.Msg == nil || p.Msg.Group.String() != "239.9.9.9" {
				t.Errorf("packet %d: %+v, %v; want the report for 239.9.9.9", i, p.Msg, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("packet %d: decoded %+v; want it refused as %s", i, p.Msg, w)
			continue
		}
		if got := membershipDrop(err); got != w {
			t.Errorf("packet %d (%v): reason %q, want %q", i, err, got, w)
		}
	}
	for _, r := range want[:len(want)-1] {
		found := false
		for _, d := range dropReasons {
			found = found || d == r
		}
		if !found {
			t.Errorf("reason %q is not exported with the other drop reasons", r)
		}
	}
}
