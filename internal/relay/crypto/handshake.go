package crypto

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/flynn/noise"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// prologue binds every handshake to this protocol and frame version.
var prologue = []byte("mcast relay v2")

// Static is this relay's side of every handshake: its identity, the mesh's
// optional pre-shared key (DerivePSK), the cipher, and the randomness of
// its ephemeral keys.
type Static struct {
	Key    PrivateKey
	PSK    []byte    // 32 bytes, or nil for none
	Cipher string    // one of Ciphers
	Rand   io.Reader // nil: crypto/rand
}

// Protocol is the Noise protocol name the handshakes of s use.
func (s *Static) Protocol() string {
	return string(s.suite().Name()) + pskName(s.PSK)
}

func pskName(psk []byte) string {
	if psk != nil {
		return " psk2"
	}
	return ""
}

func (s *Static) suite() noise.CipherSuite {
	c := noise.CipherAESGCM
	if s.Cipher == ChaCha20Poly1305 {
		c = noise.CipherChaChaPoly
	}
	return noise.NewCipherSuite(noise.DH25519, c, noise.HashSHA256)
}

func (s *Static) state(initiator bool, peer *PublicKey) (*noise.HandshakeState, error) {
	if err := checkCipher(s.Cipher); err != nil {
		return nil, err
	}
	rng := s.Rand
	if rng == nil {
		rng = rand.Reader
	}
	pub := s.Key.Public()
	c := noise.Config{
		CipherSuite:   s.suite(),
		Random:        rng,
		Pattern:       noise.HandshakeIK,
		Initiator:     initiator,
		Prologue:      prologue,
		StaticKeypair: noise.DHKey{Private: s.Key[:], Public: pub[:]},
	}
	if peer != nil {
		c.PeerStatic = peer[:]
	}
	if s.PSK != nil {
		if len(s.PSK) != 32 {
			return nil, fmt.Errorf("pre-shared key of %d bytes, want 32", len(s.PSK))
		}
		c.PresharedKey, c.PresharedKeyPlacement = s.PSK, 2
	}
	hs, err := noise.NewHandshakeState(c)
	if err != nil {
		return nil, fmt.Errorf("starting a handshake: %w", err)
	}
	return hs, nil
}

// Initiation is a handshake this relay started and awaits the response of.
type Initiation struct {
	Local uint32 // the index this relay chose for the session
	Peer  PublicKey
	hs    *noise.HandshakeState
	s     *Static
}

// Initiate starts a handshake to peer; local is the session index this
// relay chose (non-zero, unused). It returns the initiation message
// (relayframe.InitLen bytes) to send in a TypeInit frame.
func (s *Static) Initiate(peer PublicKey, local uint32) (*Initiation, []byte, error) {
	if local == 0 {
		return nil, nil, errors.New("session index 0 is reserved")
	}
	hs, err := s.state(true, &peer)
	if err != nil {
		return nil, nil, err
	}
	msg, _, _, err := hs.WriteMessage(make([]byte, 0, relayframe.InitLen), relayframe.AppendPayload(nil, local))
	if err != nil {
		return nil, nil, fmt.Errorf("writing a handshake initiation: %w", err)
	}
	return &Initiation{Local: local, Peer: peer, hs: hs, s: s}, msg, nil
}

// Finish reads the response msg and returns the session, created at now.
func (in *Initiation) Finish(msg []byte, now time.Time) (*Session, error) {
	payload, send, recv, err := in.hs.ReadMessage(nil, msg)
	if err != nil || send == nil {
		return nil, fmt.Errorf("handshake response: %w", ErrAuth)
	}
	remote, err := relayframe.ParsePayload(payload)
	if err != nil {
		return nil, fmt.Errorf("handshake response: %w", err)
	}
	return newSession(in.s.Cipher, in.Local, remote, true, in.Peer, send, recv, now)
}

// Request is a handshake initiation this relay received and authenticated:
// the initiator's identity is known, the response not yet written.
type Request struct {
	Peer   PublicKey // the initiator's static key, for the caller to authorise
	Remote uint32    // the initiator's session index
	hs     *noise.HandshakeState
	s      *Static
}

// ReadInit reads an initiation message. It fails with ErrAuth when the
// message does not authenticate (another cipher or pre-shared key, a key
// this relay is not, garbage).
func (s *Static) ReadInit(msg []byte) (*Request, error) {
	hs, err := s.state(false, nil)
	if err != nil {
		return nil, err
	}
	payload, _, _, err := hs.ReadMessage(nil, msg)
	if err != nil {
		return nil, fmt.Errorf("handshake initiation: %w", ErrAuth)
	}
	remote, err := relayframe.ParsePayload(payload)
	if err != nil {
		return nil, fmt.Errorf("handshake initiation: %w", err)
	}
	return &Request{Peer: PublicKey(hs.PeerStatic()), Remote: remote, hs: hs, s: s}, nil
}

// Accept writes the response (relayframe.ResponseLen bytes) with the
// session index local this relay chose, and returns the session, created
// at now.
func (r *Request) Accept(local uint32, now time.Time) (*Session, []byte, error) {
	if local == 0 {
		return nil, nil, errors.New("session index 0 is reserved")
	}
	msg, recv, send, err := r.hs.WriteMessage(make([]byte, 0, relayframe.ResponseLen), relayframe.AppendPayload(nil, local))
	if err != nil || send == nil {
		return nil, nil, fmt.Errorf("writing a handshake response: %v", err)
	}
	sess, err := newSession(r.s.Cipher, local, r.Remote, false, r.Peer, send, recv, now)
	return sess, msg, err
}

func newSession(cipherName string, local, remote uint32, initiator bool, peer PublicKey, send, recv *noise.CipherState, now time.Time) (*Session, error) {
	sk, err := NewKeys(send.UnsafeKey(), cipherName)
	if err != nil {
		return nil, err
	}
	rk, err := NewKeys(recv.UnsafeKey(), cipherName)
	if err != nil {
		return nil, err
	}
	return &Session{Local: local, Remote: remote, Initiator: initiator, Created: now, Peer: peer, send: sk, recv: rk}, nil
}
