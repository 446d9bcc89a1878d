// Package stats holds the accumulators behind mcast recv's numbers: sequence
// accounting (loss, duplicates, reordering), a latency histogram with
// percentiles, RFC 3550 interarrival jitter, and a per-flow aggregate. It is
// pure: values in, numbers out, no clock and no I/O.
package stats

// windowBits is how far behind the highest sequence number a datagram may
// arrive and still be told apart as a duplicate or a late (reordered) one.
const windowBits = 1 << 16

// Kind says what Seq.Add made of a sequence number.
type Kind int

// Kinds of arrival.
const (
	// InOrder: the highest sequence number so far (possibly after a gap).
	InOrder Kind = iota
	// Reordered: a number below the highest that had not arrived yet.
	Reordered
	// Duplicate: a number that had arrived already.
	Duplicate
	// TooLate: so far behind the highest that it can no longer be told
	// apart; counted, but neither as received nor as duplicate.
	TooLate
)

// Seq accounts the sequence numbers of one sender. The zero value is ready.
type Seq struct {
	started   bool
	first     uint64 // lowest number seen
	highest   uint64
	unique    uint64
	dups      uint64
	reordered uint64
	late      uint64
	endKnown  bool
	endTotal  uint64
	seen      [windowBits / 64]uint64
}

func (s *Seq) bit(n uint64) (int, uint64) {
	i := n % windowBits
	return int(i / 64), 1 << (i % 64)
}

func (s *Seq) mark(n uint64) {
	w, m := s.bit(n)
	s.seen[w] |= m
}

func (s *Seq) has(n uint64) bool {
	w, m := s.bit(n)
	return s.seen[w]&m != 0
}

func (s *Seq) clearRange(from, to uint64) { // inclusive
	if to-from+1 >= windowBits {
		clear(s.seen[:])
		return
	}
	for n := from; ; n++ {
		w, m := s.bit(n)
		s.seen[w] &^= m
		if n == to {
			return
		}
	}
}

// Add records the arrival of sequence number n and says what it was.
func (s *Seq) Add(n uint64) Kind {
	switch {
	case !s.started:
		s.started, s.first, s.highest, s.unique = true, n, n, 1
		s.mark(n)
		return InOrder
	case n > s.highest:
		s.clearRange(s.highest+1, n)
		s.highest = n
		s.mark(n)
		s.unique++
		return InOrder
	case s.highest-n >= windowBits:
		s.late++
		return TooLate
	case n < s.first:
		s.first = n
	case s.has(n):
		s.dups++
		return Duplicate
	}
	s.mark(n)
	s.unique++
	s.reordered++
	return Reordered
}

// End records that the sender said it sent total datagrams, numbered from 0.
func (s *Seq) End(total uint64) { s.endKnown, s.endTotal = true, total }

// Received is how many distinct sequence numbers arrived.
func (s *Seq) Received() uint64 { return s.unique }

// Duplicates is how many datagrams arrived again.
func (s *Seq) Duplicates() uint64 { return s.dups }

// Reordered is how many datagrams arrived after one with a higher number.
func (s *Seq) Reordered() uint64 { return s.reordered }

// TooLate is how many arrived too far behind to be classified.
func (s *Seq) TooLate() uint64 { return s.late }

// Expected is how many datagrams should have arrived. Once the sender
// announced its total (numbered from 0), that total (or more, if higher
// numbers arrived); before, from the first number seen to the highest, so
// a receiver that started late is not charged for what came before it.
func (s *Seq) Expected() uint64 {
	if s.endKnown {
		if s.started && s.highest >= s.endTotal {
			return s.highest + 1
		}
		return s.endTotal
	}
	if !s.started {
		return 0
	}
	return s.highest - s.first + 1
}

// Lost is Expected minus Received (never negative).
func (s *Seq) Lost() uint64 {
	e := s.Expected()
	if s.unique >= e {
		return 0
	}
	return e - s.unique
}

// Highest is the highest sequence number that arrived (0 before any).
func (s *Seq) Highest() uint64 { return s.highest }

// EndKnown reports whether the sender announced its total, and the total.
func (s *Seq) EndKnown() (uint64, bool) { return s.endTotal, s.endKnown }
