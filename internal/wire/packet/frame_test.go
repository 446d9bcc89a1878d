package packet_test

import (
	"testing"

	"github.com/mcasttools/mcast/internal/wire/packet"
)

func TestOutgoing(t *testing.T) {
	sll := func(pkttype byte) []byte { return append([]byte{0, pkttype}, make([]byte, 30)...) }
	for _, tt := range []struct {
		name string
		f    packet.Frame
		want bool
	}{
		{"SLL outgoing", packet.Frame{LinkType: 113, Data: sll(4)}, true},
		{"SLL multicast in", packet.Frame{LinkType: 113, Data: sll(2)}, false},
		{"Ethernet", packet.Frame{LinkType: 1, Data: sll(4)}, false},
		{"short", packet.Frame{LinkType: 113, Data: []byte{0}}, false},
	} {
		if got := tt.f.Outgoing(); got != tt.want {
			t.Errorf("%s: Outgoing = %v, want %v", tt.name, got, tt.want)
		}
	}
}
