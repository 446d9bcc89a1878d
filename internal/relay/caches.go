package relay

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"runtime"
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

// seenSet remembers keys for a span of time in a fixed table: buckets of
// seenWays slots (one cache line each), a key in the bucket its high bits
// name. Looking a key up touches one cache line and nothing is allocated or
// rehashed however many keys come and go, where a map of the same keys
// cost a relay more than its cipher. A key lives span; a bucket whose
// slots are all live gives up its oldest key (counted in evicted). It is
// not safe for concurrent use.
type seenSet struct {
	span    int64 // nanoseconds
	shift   uint
	slots   []seenSlot
	evicted uint64
}

type seenSlot struct {
	key uint64
	// at is when the key was added, in unix nanoseconds, its low
	// markBits bits replaced by the slot's marks; 0: empty.
	at int64
}

// The marks of a slot say who put the key there, for IPv6, where the key
// cannot tell one transmission from the next (no identification).
const (
	markBits = 16
	markMask = 1<<markBits - 1
	// markCaptured: the content was captured on this relay's LAN (a
	// host's transmission, or another relay's re-emission there).
	markCaptured = 1 << 15
	// markOrigin holds originMark of the peer whose record this relay
	// re-emitted last (0: none).
	markOrigin = markCaptured - 1
)

// originMark is the mark a re-emission of a record carried by the peer
// of node ID id leaves: a 15-bit fold of it, never 0.
func originMark(id uint32) uint16 {
	m := uint16(id^id>>15^id>>30) & markOrigin
	if m == 0 {
		m = 1
	}
	return m
}

// seenWays is the slots per bucket: 4 of 16 bytes fill a 64-byte line.
const seenWays = 4

// slotAlloc allocates n slots and returns them with a function that frees
// them (nil when the collector does).
type slotAlloc func(n int) (slots []seenSlot, free func())

// newSeenSet makes a table of 2^bits buckets, its slots from alloc (nil:
// the Go heap), freed when the table is collected.
func newSeenSet(span time.Duration, bits uint, alloc slotAlloc) *seenSet {
	if alloc == nil {
		alloc = func(n int) ([]seenSlot, func()) { return make([]seenSlot, n), nil }
	}
	slots, free := alloc(seenWays << bits)
	c := &seenSet{span: int64(span), shift: 64 - bits, slots: slots}
	if free != nil {
		runtime.AddCleanup(c, func(free func()) { free() }, free)
	}
	return c
}

func (c *seenSet) bucket(k uint64) []seenSlot {
	i := int(k>>c.shift) * seenWays
	return c.slots[i : i+seenWays : i+seenWays]
}

// Has reports whether k was added less than span before now.
func (c *seenSet) Has(k uint64, now time.Time) bool {
	t := now.UnixNano()
	for _, s := range c.bucket(k) {
		if s.key == k && s.at != 0 && t-s.at < c.span {
			return true
		}
	}
	return false
}

// Add remembers k from now on (again, if it was there).
func (c *seenSet) Add(k uint64, now time.Time) { c.Mark(k, now, 0) }

// Lookup returns the marks of k and whether it was added less than span
// before now.
func (c *seenSet) Lookup(k uint64, now time.Time) (marks uint16, ok bool) {
	t := now.UnixNano()
	for _, s := range c.bucket(k) {
		if s.key == k && s.at != 0 && t-s.at < c.span {
			return uint16(s.at & markMask), true
		}
	}
	return 0, false
}

// Mark remembers k from now on with marks: a key still there keeps its
// markCaptured, and its origin unless marks names one.
func (c *seenSet) Mark(k uint64, now time.Time, marks uint16) {
	t := now.UnixNano()
	b := c.bucket(k)
	old := 0
	for i := range b {
		live := b[i].at != 0 && t-b[i].at < c.span
		if b[i].key == k || !live {
			if b[i].key == k && live {
				was := uint16(b[i].at & markMask)
				if marks&markOrigin == 0 {
					marks |= was & markOrigin
				}
				marks |= was & markCaptured
			}
			b[i] = seenSlot{key: k, at: t&^markMask | int64(marks)}
			return
		}
		if b[i].at < b[old].at {
			old = i
		}
	}
	b[old] = seenSlot{key: k, at: t&^markMask | int64(marks)}
	c.evicted++
}

// TestAndAdd reports whether k was there, and remembers it from now on.
func (c *seenSet) TestAndAdd(k uint64, now time.Time) bool {
	if c.Has(k, now) {
		return true
	}
	c.Add(k, now)
	return false
}

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
