package crypto_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// BenchmarkSealFanout: the cost of sealing one frame body for n peers,
// each under its own session (n seals), against one seal for all (what a
// mesh-wide key or a sender key allows). docs/relay.md has the numbers
// and the choice they led to.
func BenchmarkSealFanout(b *testing.B) {
	for _, c := range crypto.Ciphers {
		for _, size := range []int{64, 1400} {
			for _, peers := range []int{1, 2, 4, 8, 16} {
				b.Run(fmt.Sprintf("%s/%dB/%dpeers", c, size, peers), func(b *testing.B) {
					a, _, _ := statics(c, nil)
					var sessions []*crypto.Session
					for i := range peers {
						other := &crypto.Static{Key: testKey(fmt.Sprint("peer", i)), Cipher: c}
						s, _ := handshakeB(b, a, other, uint32(i+1), uint32(i+100))
						sessions = append(sessions, s)
					}
					body := make([]byte, size)
					buf := make([]byte, 0, 2048)
					b.SetBytes(int64(size))
					b.ResetTimer()
					for range b.N {
						for _, s := range sessions {
							buf, _ = s.Seal(buf[:0], relayframe.TypeData, body)
						}
					}
				})
			}
		}
	}
}

// handshakeB is handshake for benchmarks.
func handshakeB(b *testing.B, x, y *crypto.Static, ix, iy uint32) (*crypto.Session, *crypto.Session) {
	in, m1, err := x.Initiate(y.Key.Public(), ix)
	if err != nil {
		b.Fatal(err)
	}
	req, err := y.ReadInit(m1)
	if err != nil {
		b.Fatal(err)
	}
	sy, m2, err := req.Accept(iy, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	sx, err := in.Finish(m2, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	return sx, sy
}
