package packet_test

import (
	"math/rand/v2"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/packet"
)

func TestSumMatchesWordSum(t *testing.T) {
	naive := func(b []byte) uint16 {
		var s uint32
		for i := 0; i+1 < len(b); i += 2 {
			s += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			s += uint32(b[len(b)-1]) << 8
		}
		return packet.Finish(s)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200; n++ {
		b := make([]byte, n*7)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if n%5 == 0 {
			for i := range b {
				b[i] = 0xff
			}
		}
		if got, want := packet.Checksum(b, 0), naive(b); got != want {
			t.Fatalf("%d bytes: %#x, want %#x", len(b), got, want)
		}
	}
}

// An IPv4 header from RFC 1071's usual example: its checksum field verifies.
func TestChecksumIPv4Header(t *testing.T) {
	h := []byte{0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7}
	if c := packet.Checksum(h, 0); c != 0 {
		t.Fatalf("checksum over a correct header = %#x, want 0", c)
	}
	h[10], h[11] = 0, 0
	if c := packet.Checksum(h, 0); c != 0xb861 {
		t.Fatalf("checksum = %#x, want 0xb861", c)
	}
}
