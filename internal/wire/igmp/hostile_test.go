package igmp_test

import (
	"errors"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// The packets of testdata/hostile.pcap, crafted with scapy by
// test/integration/testdata/hostile_igmp.py, are what no host sends: Decode
// rejects each, as the kernel would, with the reason, and still decodes the
// good report that ends the file.
func TestDecodeRejectsHostile(t *testing.T) {
	_, recs, err := pcap.ReadFile("testdata/hostile.pcap")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		err  error
	}{
		{"v2 report for 10.0.0.77", igmp.ErrGroup},
		{"v2 report for 0.0.0.0", igmp.ErrGroup},
		{"v3 report without records", igmp.ErrNoRecords},
		{"bad IPv4 header checksum", igmp.ErrHeaderChecksum},
		{"first of several fragments", igmp.ErrFragment},
		{"v3 record for 10.0.0.78", igmp.ErrGroup},
		{"record count beyond the packet", igmp.ErrTruncated},
		{"MLDv1 report for fd00::77", igmp.ErrGroup},
		{"good v2 report", nil},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d packets in the file, want %d", len(recs), len(want))
	}
	for i, w := range want {
		p, err := decodeEthernet(recs[i].Data)
		switch {
		case w.err == nil && (err != nil || p.Msg == nil || p.Msg.Group.String() != "239.9.9.9"):
			t.Errorf("%s: %+v, %v", w.name, p.Msg, err)
		case w.err != nil && (!errors.Is(err, w.err) || p.Msg != nil):
			t.Errorf("%s: message %+v, error %v; want %v", w.name, p.Msg, err, w.err)
		}
	}
}
