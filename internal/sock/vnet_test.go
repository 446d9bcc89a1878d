package sock

import (
	"encoding/binary"
	"testing"
)

func TestVNetSegment(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
		seg  int
		ok   bool
	}{
		{"short", make([]byte, VNetHdrLen-1), 0, false},
		{"plain", make([]byte, VNetHdrLen), 0, true},
		{"udp segmented", []byte{0, 5, 0, 0, 100, 0, 0, 0, 0, 0}, 100, true},
		{"udp segmented with ecn", []byte{0, 0x85, 0, 0, 100, 0, 0, 0, 0, 0}, 100, true},
		{"tcp segmented", []byte{0, 1, 0, 0, 100, 0, 0, 0, 0, 0}, 0, false},
	} {
		seg, ok := VNetSegment(tt.b)
		if tt.name == "udp segmented" || tt.name == "udp segmented with ecn" {
			// gso_size is in host byte order.
			tt.seg = int(binary.NativeEndian.Uint16(tt.b[4:6]))
		}
		if seg != tt.seg || ok != tt.ok {
			t.Errorf("%s: %d %v, want %d %v", tt.name, seg, ok, tt.seg, tt.ok)
		}
	}
}
