package stats

// Sample is one datagram with an mcast header, as the receiver saw it.
type Sample struct {
	Seq       uint64
	SentNs    int64 // the sender's clock
	ArrivedNs int64 // the receiver's clock
	Bytes     int   // UDP payload length
	TTL       int   // TTL or hop limit seen; -1 when unknown
	SenderTTL int   // TTL or hop limit the sender set; 0 when unknown
}

// Flow aggregates what one sender sent to one group on one interface.
// The zero value is ready.
type Flow struct {
	Seq     Seq
	Latency Histogram // one-way: ArrivedNs - SentNs
	Jitter  Jitter
	Bytes   uint64 // payload bytes of every datagram that arrived, duplicates included
	Count   uint64 // datagrams that arrived, duplicates included
	FirstNs int64  // first arrival
	LastNs  int64  // last arrival
	TTLMin  int    // smallest TTL seen; -1 when unknown
	TTLMax  int    // largest TTL seen; -1 when unknown
	// SenderTTL is the TTL the sender set, as it said in its header.
	SenderTTL int
	// NegativeLatency counts datagrams that arrived before they were sent by
	// the clocks: the sender's and receiver's clocks disagree.
	NegativeLatency uint64
}

// Add records one datagram and says what its sequence number was.
func (f *Flow) Add(s Sample) Kind {
	if f.Count == 0 {
		f.FirstNs, f.TTLMin, f.TTLMax = s.ArrivedNs, -1, -1
	}
	f.Count++
	f.Bytes += uint64(s.Bytes)
	f.LastNs = max(f.LastNs, s.ArrivedNs)
	f.FirstNs = min(f.FirstNs, s.ArrivedNs)
	if s.TTL >= 0 {
		if f.TTLMin < 0 || s.TTL < f.TTLMin {
			f.TTLMin = s.TTL
		}
		f.TTLMax = max(f.TTLMax, s.TTL)
	}
	if s.SenderTTL > 0 {
		f.SenderTTL = s.SenderTTL
	}
	k := f.Seq.Add(s.Seq)
	if k == Duplicate || k == TooLate {
		return k
	}
	lat := s.ArrivedNs - s.SentNs
	if lat < 0 {
		f.NegativeLatency++
	}
	f.Latency.Add(lat)
	f.Jitter.Add(s.SentNs, s.ArrivedNs)
	return k
}

// Hops is how many routers the datagrams crossed (sender's TTL minus the
// largest TTL seen), or -1 when unknown.
func (f *Flow) Hops() int {
	if f.SenderTTL <= 0 || f.TTLMax < 0 || f.TTLMax > f.SenderTTL {
		return -1
	}
	return f.SenderTTL - f.TTLMax
}

// Seconds is the time from the first to the last arrival.
func (f *Flow) Seconds() float64 { return float64(f.LastNs-f.FirstNs) / 1e9 }

// Rate returns datagrams/s and bit/s of payload between the first and last
// arrival (0 with fewer than two datagrams).
func (f *Flow) Rate() (pps, bps float64) {
	s := f.Seconds()
	if f.Count < 2 || s <= 0 {
		return 0, 0
	}
	// n datagrams span n-1 intervals.
	n := float64(f.Count - 1)
	return n / s, float64(f.Bytes) * 8 * n / float64(f.Count) / s
}

// LossPercent is Lost as a share of Expected, in percent.
func (f *Flow) LossPercent() float64 {
	e := f.Seq.Expected()
	if e == 0 {
		return 0
	}
	return 100 * float64(f.Seq.Lost()) / float64(e)
}
