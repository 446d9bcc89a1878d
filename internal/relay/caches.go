package relay

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"time"
)

// contentKey hashes what identifies one transmission of a datagram: source,
// group (broadcasts as 255.255.255.255, as every LAN has its own broadcast
// address), ports, IPv4 identification and payload. Relays re-emit with the
// original source and identification, so every copy of one transmission
// has the same key, and a new transmission of the same payload another.
func contentKey(seed maphash.Seed, src, dst netip.AddrPort, ipid uint16, broadcast bool, payload []byte) uint64 {
	var b [40]byte
	s, d := src.Addr().As16(), dst.Addr().As16()
	if broadcast {
		d = netip.AddrFrom4([4]byte{255, 255, 255, 255}).As16()
	}
	copy(b[0:16], s[:])
	copy(b[16:32], d[:])
	binary.BigEndian.PutUint16(b[32:], src.Port())
	binary.BigEndian.PutUint16(b[34:], dst.Port())
	binary.BigEndian.PutUint16(b[36:], ipid)
	var h maphash.Hash
	h.SetSeed(seed)
	h.Write(b[:38])
	h.Write(payload)
	return h.Sum64()
}

// keyCache counts keys over a sliding time span: a key added lives between
// span and 2*span. It holds at most max keys per generation; past that Add
// reports false. It is not safe for concurrent use.
type keyCache struct {
	span      time.Duration
	max       int
	rotated   time.Time
	cur, prev map[uint64]int32
}

func newKeyCache(span time.Duration, max int, now time.Time) *keyCache {
	return &keyCache{span: span, max: max, rotated: now, cur: map[uint64]int32{}, prev: map[uint64]int32{}}
}

func (c *keyCache) age(now time.Time) {
	if now.Sub(c.rotated) < c.span {
		return
	}
	if now.Sub(c.rotated) >= 2*c.span {
		clear(c.prev)
	} else {
		c.prev, c.cur = c.cur, c.prev
	}
	clear(c.cur)
	c.rotated = now
}

// Add counts k once more.
func (c *keyCache) Add(k uint64, now time.Time) bool {
	c.age(now)
	if len(c.cur) >= c.max {
		return false
	}
	c.cur[k]++
	return true
}

// Has reports whether k was added within the span.
func (c *keyCache) Has(k uint64, now time.Time) bool {
	c.age(now)
	return c.cur[k] > 0 || c.prev[k] > 0
}

// Take removes one count of k and reports whether there was one.
func (c *keyCache) Take(k uint64, now time.Time) bool {
	c.age(now)
	for _, m := range []map[uint64]int32{c.prev, c.cur} {
		if n := m[k]; n > 0 {
			if n == 1 {
				delete(m, k)
			} else {
				m[k] = n - 1
			}
			return true
		}
	}
	return false
}

// Len is how many distinct keys are held.
func (c *keyCache) Len() int { return len(c.cur) + len(c.prev) }

// bucket is a token bucket: rate tokens a second, burst at most. A zero
// rate never limits. Not safe for concurrent use.
type bucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

// Allow takes one token if there is one.
func (b *bucket) Allow(rate int, now time.Time) bool {
	if rate <= 0 {
		return true
	}
	r := float64(rate)
	if b.rate != r {
		b.rate, b.tokens, b.last = r, r/10+1, now // burst: a tenth of a second
	}
	b.tokens += now.Sub(b.last).Seconds() * r
	if max := r/10 + 1; b.tokens > max {
		b.tokens = max
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
