package ping

import (
	"math"
	"time"
)

// dupWindow is how many recent sequence numbers are remembered per cast to
// spot duplicates (omping's MIN_DUP_BUF_ITEMS).
const dupWindow = 1024

// Counter accumulates the answers of one kind (unicast or multicast) from
// one peer: received, duplicates, round-trip times, hops and the first
// multicast sequence. It is pure and its zero value is ready.
type Counter struct {
	Received   uint64
	Duplicates uint64
	FirstSeq   uint32 // sequence of the first answer; 0 when none
	Dist       int    // hops of the last answer; -1 when unknown
	n          uint64
	mean, m2   float64 // Welford's running mean and sum of squares, in ms
	min, max   float64
	seen       [dupWindow]uint32
}

// Add records an answer with sequence seq, round-trip rtt and hop distance
// dist (-1 when unknown). It reports whether the answer was a duplicate;
// duplicates count only as such.
func (c *Counter) Add(seq uint32, rtt time.Duration, dist int) (dup bool) {
	if seq != 0 && c.seen[seq%dupWindow] == seq {
		c.Duplicates++
		return true
	}
	c.seen[seq%dupWindow] = seq
	c.Received++
	if c.FirstSeq == 0 || seq < c.FirstSeq {
		c.FirstSeq = seq
	}
	c.Dist = dist
	ms := float64(rtt) / float64(time.Millisecond)
	c.n++
	d := ms - c.mean
	c.mean += d / float64(c.n)
	c.m2 += d * (ms - c.mean)
	if c.n == 1 || ms < c.min {
		c.min = ms
	}
	if c.n == 1 || ms > c.max {
		c.max = ms
	}
	return false
}

// RTT returns min, average, max and standard deviation in milliseconds.
func (c *Counter) RTT() (min, avg, max, stddev float64) {
	if c.n == 0 {
		return 0, 0, 0, 0
	}
	if c.n > 1 {
		stddev = math.Sqrt(c.m2 / float64(c.n-1))
	}
	return c.min, c.mean, c.max, stddev
}

// LossPct is the loss in percent of received out of sent (0 when nothing
// was sent).
func LossPct(sent, received uint64) float64 {
	if sent == 0 || received >= sent {
		return 0
	}
	return 100 * float64(sent-received) / float64(sent)
}

// LossFromFirstPct is the multicast loss counted from the first answer on
// (omping's "seq>=N" figure): a multicast tree may take a moment to form.
// With no answer at all it is 100 when anything was sent.
func LossFromFirstPct(sent uint64, received uint64, first uint32) float64 {
	if sent == 0 {
		return 0
	}
	if received == 0 || first == 0 {
		return 100
	}
	if uint64(first) > sent {
		return 0
	}
	return LossPct(sent-uint64(first)+1, received)
}

// ledger remembers, per query sent, when it left and which answers came
// back, so that a snapshot can count only queries old enough to have been
// answered (no in-flight query shows as lost in a peer's view).
type ledger struct {
	sentAt                    [dupWindow]time.Time
	got                       [dupWindow]uint8 // bit 0 unicast, bit 1 multicast
	last                      uint32           // highest sequence sent
	settled                   uint32           // queries up to this sequence are settled
	sent, uni, multi, mcFirst uint32
}

func (l *ledger) sentQuery(seq uint32, at time.Time) {
	l.sentAt[seq%dupWindow] = at
	l.got[seq%dupWindow] = 0
	l.last = seq
}

func (l *ledger) answered(seq uint32, multicast bool) {
	if seq == 0 || seq > l.last || l.last-seq >= dupWindow {
		return
	}
	bit := uint8(1)
	if multicast {
		bit = 2
	}
	if l.got[seq%dupWindow]&bit != 0 {
		return
	}
	l.got[seq%dupWindow] |= bit
	if seq <= l.settled {
		// A late answer to a query already counted as lost: count it now,
		// so that the next view does not report a loss that did not happen.
		if multicast {
			l.multi++
			// mcFirst counts settled queries, as settle does.
			if at := l.sent - (l.settled - seq); l.mcFirst == 0 || at < l.mcFirst {
				l.mcFirst = at
			}
		} else {
			l.uni++
		}
	}
}

// settle counts every query sent at or before cutoff (and any about to be
// overwritten in the window).
func (l *ledger) settle(cutoff time.Time) {
	for l.settled < l.last {
		next := l.settled + 1
		if l.last-next < dupWindow-1 && l.sentAt[next%dupWindow].After(cutoff) {
			break
		}
		l.settled = next
		l.sent++
		g := l.got[next%dupWindow]
		if g&1 != 0 {
			l.uni++
		}
		if g&2 != 0 {
			l.multi++
			if l.mcFirst == 0 {
				l.mcFirst = l.sent
			}
		}
	}
}
