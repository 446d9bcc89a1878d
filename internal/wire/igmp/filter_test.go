package igmp_test

import (
	"testing"

	"golang.org/x/net/bpf"

	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/packet"
)

// The capture filters, run on IP packets: MulticastFilter passes any
// multicast, QueryFilter only what can be IGMP or MLD.
func TestFilters(t *testing.T) {
	all, err := bpf.NewVM(packet.MulticastFilter(0))
	if err != nil {
		t.Fatal(err)
	}
	queries, err := bpf.NewVM(igmp.QueryFilter(0))
	if err != nil {
		t.Fatal(err)
	}
	v4 := func(proto byte, dst [4]byte) []byte {
		b := make([]byte, 28)
		b[0] = 0x45
		b[9] = proto
		copy(b[16:], dst[:])
		return b
	}
	v6 := func(next, first byte) []byte {
		b := make([]byte, 48)
		b[0] = 0x60
		b[6] = next
		b[24] = first
		return b
	}
	tests := []struct {
		name       string
		pkt        []byte
		all, query bool
	}{
		{"IGMP to 224.0.0.22", v4(2, [4]byte{224, 0, 0, 22}), true, true},
		{"IGMP query to 224.0.0.1", v4(2, [4]byte{224, 0, 0, 1}), true, true},
		{"UDP to 239.1.1.1", v4(17, [4]byte{239, 1, 1, 1}), true, false},
		{"IGMP to unicast 10.0.0.1", v4(2, [4]byte{10, 0, 0, 1}), false, false},
		{"unicast 10.0.0.1", v4(17, [4]byte{10, 0, 0, 1}), false, false},
		{"broadcast", v4(17, [4]byte{255, 255, 255, 255}), false, false},
		{"IPv6 hop-by-hop to ff02::16 (MLD)", v6(0, 0xff), true, true},
		{"IPv6 UDP to ff0e::1", v6(17, 0xff), true, false},
		{"IPv6 hop-by-hop unicast", v6(0, 0xfe), false, false},
		{"IPv6 unicast", v6(17, 0xfe), false, false},
		{"ARP-ish", []byte{0x00, 0x01, 0x08, 0x00}, false, false},
	}
	for _, tt := range tests {
		for _, f := range []struct {
			name string
			vm   *bpf.VM
			want bool
		}{{"Filter", all, tt.all}, {"QueryFilter", queries, tt.query}} {
			n, err := f.vm.Run(tt.pkt)
			if err != nil {
				t.Fatalf("%s %s: %v", f.name, tt.name, err)
			}
			if (n > 0) != f.want {
				t.Errorf("%s %s: accepted %d bytes, want accept=%v", f.name, tt.name, n, f.want)
			}
		}
	}
}
