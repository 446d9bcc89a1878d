package stats

import (
	"math"
	"math/bits"
)

// subBits sets the histogram's precision: 2^subBits buckets per power of
// two, so a percentile is within about 3 % of the true value.
const subBits = 5

const nBuckets = 64 << subBits

// Histogram accumulates non-negative durations in nanoseconds and answers
// min, mean, max and percentiles. The zero value is ready.
type Histogram struct {
	n       uint64
	sum     float64
	min     int64
	max     int64
	buckets []uint64
}

func bucketOf(v uint64) int {
	shift := max(0, bits.Len64(v)-(subBits+1))
	return shift<<subBits + int(v>>shift)
}

// bucketRange is the inclusive range of values bucket i holds.
func bucketRange(i int) (lo, hi uint64) {
	shift := max(0, i>>subBits-1)
	if i < 2<<subBits {
		return uint64(i), uint64(i)
	}
	m := uint64(i - shift<<subBits)
	return m << shift, m<<shift + (1<<shift - 1)
}

// Add records one value; negative values count as 0.
func (h *Histogram) Add(ns int64) {
	ns = max(ns, 0)
	if h.buckets == nil {
		h.buckets = make([]uint64, nBuckets)
	}
	if h.n == 0 || ns < h.min {
		h.min = ns
	}
	if ns > h.max {
		h.max = ns
	}
	h.n++
	h.sum += float64(ns)
	h.buckets[bucketOf(uint64(ns))]++
}

// Count is how many values were added.
func (h *Histogram) Count() uint64 { return h.n }

// Min is the smallest value (0 when empty).
func (h *Histogram) Min() int64 { return h.min }

// Max is the largest value (0 when empty).
func (h *Histogram) Max() int64 { return h.max }

// Mean is the average value (0 when empty).
func (h *Histogram) Mean() float64 {
	if h.n == 0 {
		return 0
	}
	return h.sum / float64(h.n)
}

// Percentile returns the value below which a share q (0..1) of the values
// lie, within the histogram's precision and never outside [Min, Max].
func (h *Histogram) Percentile(q float64) int64 {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var cum uint64
	for i, c := range h.buckets {
		cum += c
		if cum >= rank {
			lo, hi := bucketRange(i)
			v := int64(lo + (hi-lo)/2)
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// Jitter is the RFC 3550 interarrival jitter: a running mean of how much the
// transit time changes from one datagram to the next, in arrival order,
// smoothed with gain 1/16. The zero value is ready.
type Jitter struct {
	have bool
	last int64
	j    float64
}

// Add records a datagram sent at sentNs that arrived at arrivedNs (both in
// nanoseconds; only their difference matters, so clocks need not agree).
func (j *Jitter) Add(sentNs, arrivedNs int64) {
	transit := arrivedNs - sentNs
	if j.have {
		d := transit - j.last
		if d < 0 {
			d = -d
		}
		j.j += (float64(d) - j.j) / 16
	}
	j.last, j.have = transit, true
}

// Nanoseconds is the current jitter estimate.
func (j *Jitter) Nanoseconds() float64 { return j.j }

// Bin is one non-empty bucket of a Histogram: Count values between Lo and
// Hi nanoseconds, both inclusive.
type Bin struct {
	Lo, Hi int64
	Count  uint64
}

// Bins returns the non-empty buckets in ascending order, clipped to
// [Min, Max]; nil when the histogram is empty.
func (h *Histogram) Bins() []Bin {
	if h.n == 0 {
		return nil
	}
	var out []Bin
	for i, c := range h.buckets {
		if c == 0 {
			continue
		}
		lo, hi := bucketRange(i)
		out = append(out, Bin{Lo: max(int64(lo), h.min), Hi: min(int64(hi), h.max), Count: c})
	}
	return out
}
