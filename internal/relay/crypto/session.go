package crypto

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// Session limits, after WireGuard's: a session is replaced after
// RekeyAfter or RekeyAfterFrames frames, and refused for sending and
// receiving after RejectAfter or RejectAfterFrames.
const (
	RekeyAfter        = 120 * time.Second
	RejectAfter       = 180 * time.Second
	RekeyAfterFrames  = 1 << 60
	RejectAfterFrames = 1<<64 - 1<<13 - 1
	// ResponderSlack is how much longer than RekeyAfter the responder of
	// a session waits for its initiator to rekey before doing it itself,
	// so that the two rarely rekey at once.
	ResponderSlack = 10 * time.Second
)

// ErrReplay is returned by Session.Open for a frame counter seen before,
// too old, or past RejectAfterFrames.
var ErrReplay = errors.New("replayed frame")

// Session is what a handshake gives two relays: a key and counter per
// direction, the two session indexes, and the replay window of the
// receiving direction. Seal may be called concurrently; Open by one
// goroutine (the underlay reader) at a time.
type Session struct {
	Local     uint32    // the index frames to this relay carry
	Remote    uint32    // the index frames from this relay carry
	Initiator bool      // this relay started the handshake
	Created   time.Time // by the caller's clock, when the handshake completed
	Peer      PublicKey

	send, recv *Keys
	next       atomic.Uint64 // the next counter to send
	replay     ReplayWindow
}

// Seal appends a frame of type typ with body to dst, under the next
// counter. It returns false (and dst as it was) once the counter reached
// RejectAfterFrames: the session must not send any more.
func (s *Session) Seal(dst []byte, typ uint8, body []byte) ([]byte, bool) {
	n := s.next.Add(1) - 1
	if n >= RejectAfterFrames {
		return dst, false
	}
	return s.send.Seal(dst, relayframe.Header{Type: typ, Index: s.Remote, Seq: n}, body), true
}

// Open checks and decrypts frame, whose header h names this session,
// appending the clear body to dst. It returns ErrReplay for a counter
// seen before or out of the window, ErrAuth for a frame that does not
// authenticate under the session's key.
func (s *Session) Open(dst []byte, h relayframe.Header, frame []byte) ([]byte, error) {
	if h.Seq >= RejectAfterFrames || !s.replay.Check(h.Seq) {
		return dst, ErrReplay
	}
	out, err := s.recv.Open(dst, h, frame)
	if err != nil {
		return dst, err
	}
	if !s.replay.Accept(h.Seq) {
		return dst, ErrReplay
	}
	return out, nil
}

// Sent is how many counters the session has used.
func (s *Session) Sent() uint64 { return s.next.Load() }

// Expired reports whether the session may no longer be used at now.
func (s *Session) Expired(now time.Time) bool {
	return now.Sub(s.Created) >= RejectAfter || s.next.Load() >= RejectAfterFrames
}

// NeedsRekey reports whether this relay should start a new handshake to
// replace the session: its initiator after RekeyAfter, its responder
// ResponderSlack later, either after RekeyAfterFrames frames.
func (s *Session) NeedsRekey(now time.Time) bool {
	age := now.Sub(s.Created)
	if s.next.Load() >= RekeyAfterFrames {
		return true
	}
	if s.Initiator {
		return age >= RekeyAfter
	}
	return age >= RekeyAfter+ResponderSlack
}
