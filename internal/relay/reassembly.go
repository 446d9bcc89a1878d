package relay

import (
	"time"

	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// reassembler rejoins datagrams the sending relay split into fragment
// records. It holds at most max datagrams in progress, each for at most
// timeout. Not safe for concurrent use.
type reassembler struct {
	timeout time.Duration
	max     int
	parts   map[fragKey]*partial
}

type fragKey struct {
	origin uint32
	id     uint64
}

type partial struct {
	first  relayframe.Record
	pieces [][]byte
	have   int
	start  time.Time
}

func newReassembler(timeout time.Duration, max int) *reassembler {
	return &reassembler{timeout: timeout, max: max, parts: map[fragKey]*partial{}}
}

// add files fragment r from origin. When the datagram is complete it
// returns it (Kind KindDatagram) and true. full reports that the fragment was
// dropped because too many datagrams are in progress.
func (a *reassembler) add(origin uint32, r *relayframe.Record, now time.Time) (whole relayframe.Record, done, full bool) {
	k := fragKey{origin, r.ID}
	p := a.parts[k]
	if p == nil {
		if len(a.parts) >= a.max {
			return whole, false, true
		}
		p = &partial{first: *r, pieces: make([][]byte, r.FragCount), start: now}
		p.first.Payload = nil
		a.parts[k] = p
	}
	if r.FragCount != p.first.FragCount || r.Src != p.first.Src || r.Dst != p.first.Dst {
		delete(a.parts, k) // inconsistent pieces: give up on the datagram
		return whole, false, false
	}
	if p.pieces[r.FragIndex] == nil {
		p.pieces[r.FragIndex] = append([]byte(nil), r.Payload...)
		p.have++
	}
	if p.have < len(p.pieces) {
		return whole, false, false
	}
	delete(a.parts, k)
	n := 0
	for _, x := range p.pieces {
		n += len(x)
	}
	buf := make([]byte, 0, n)
	for _, x := range p.pieces {
		buf = append(buf, x...)
	}
	whole = p.first
	whole.Kind, whole.FragIndex, whole.FragCount, whole.Payload = relayframe.KindDatagram, 0, 0, buf
	return whole, true, false
}

// expire drops datagrams in progress for longer than the timeout and
// returns how many.
func (a *reassembler) expire(now time.Time) int {
	n := 0
	for k, p := range a.parts {
		if now.Sub(p.start) > a.timeout {
			delete(a.parts, k)
			n++
		}
	}
	return n
}

// split cuts r into fragment records whose encoding fits in max bytes each,
// appending them to out. It returns out unchanged and false when that would
// take more than 255 pieces.
func split(out []relayframe.Record, r relayframe.Record, max int) ([]relayframe.Record, bool) {
	chunk := max - relayframe.RecordOverhead(r.Src.Addr().Is6(), true)
	if chunk < 1 {
		return out, false
	}
	n := (len(r.Payload) + chunk - 1) / chunk
	if n < 2 || n > 255 {
		return out, false
	}
	for i := 0; i < n; i++ {
		f := r
		f.Kind, f.FragIndex, f.FragCount = relayframe.KindFragment, uint8(i), uint8(n)
		end := min((i+1)*chunk, len(r.Payload))
		f.Payload = r.Payload[i*chunk : end]
		out = append(out, f)
	}
	return out, true
}
