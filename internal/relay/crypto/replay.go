package crypto

// windowWords is the replay window's size in 64-bit words: it remembers the
// last 64*windowWords sequence numbers below the highest seen.
const windowWords = 32

// WindowSize is how far behind the highest sequence number a frame may be
// and still be accepted (once).
const WindowSize = 64 * windowWords

// ReplayWindow remembers which sequence numbers of one sender were accepted
// (RFC 6479 style). The zero value accepts any first number. It is not safe
// for concurrent use.
type ReplayWindow struct {
	top    uint64 // highest accepted sequence number
	seen   bool
	bitmap [windowWords]uint64
}

// Check reports whether seq would be accepted: never seen and not too old.
// It does not record seq: call Accept once the frame has been authenticated.
func (w *ReplayWindow) Check(seq uint64) bool {
	if !w.seen || seq > w.top {
		return true
	}
	if w.top-seq >= WindowSize {
		return false
	}
	bit := seq % WindowSize
	return w.bitmap[bit/64]&(1<<(bit%64)) == 0
}

// Accept records seq, which Check accepted and which authenticated, and
// reports false if it was a replay after all.
func (w *ReplayWindow) Accept(seq uint64) bool {
	if !w.Check(seq) {
		return false
	}
	if !w.seen || seq > w.top {
		var from uint64
		if w.seen {
			from = w.top + 1
		} else {
			from = seq
		}
		// Clear the bits of the numbers skipped over (at most the window).
		if seq-from >= WindowSize {
			w.bitmap = [windowWords]uint64{}
		} else {
			for s := from; s <= seq; s++ {
				b := s % WindowSize
				w.bitmap[b/64] &^= 1 << (b % 64)
			}
		}
		w.top, w.seen = seq, true
	}
	bit := seq % WindowSize
	w.bitmap[bit/64] |= 1 << (bit % 64)
	return true
}
