package crypto

// Handshake MACs and cookies, after WireGuard's design (whitepaper §5.4):
// every handshake message ends with mac1, a keyed BLAKE2s-128 over the
// Noise message whose key is a hash of the receiver's public key, so a
// relay drops, before any X25519, a message from whoever does not know
// its key; and mac2, keyed by a cookie the receiver handed the sender
// (zero without one). A relay under load answers an initiation without a
// valid mac2 with a cookie reply instead of doing public-key work: the
// cookie is a MAC of the sender's address and port under a secret that
// changes every two minutes, sealed (XChaCha20-Poly1305, keyed by a hash
// of the responder's public key, the initiation's mac1 as associated
// data) so that only the initiator that knows the key can read it, and
// only in answer to the message it sent. A flood from forged addresses
// never receives its cookies.

import (
	"crypto/hmac"
	"crypto/rand"
	"fmt"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"golang.org/x/crypto/blake2s"
	"golang.org/x/crypto/chacha20poly1305"
)

// CookieSecretLife is how long a cookie secret is used, and so how long
// a cookie is good for.
const CookieSecretLife = 2 * time.Minute

// Labels of the two keys derived from a public key.
const (
	labelMAC1   = "mcast relay mac1"
	labelCookie = "mcast relay cookie"
)

func derive(label string, pub PublicKey) [32]byte {
	return blake2s.Sum256(append([]byte(label), pub[:]...))
}

func mac(key, a, b []byte) [relayframe.MACLen]byte {
	h, err := blake2s.New128(key)
	if err != nil {
		panic("crypto: mac key of " + fmt.Sprint(len(key)) + " bytes")
	}
	h.Write(a)
	h.Write(b)
	var out [relayframe.MACLen]byte
	h.Sum(out[:0])
	return out
}

// AppendMACs appends mac1 and mac2 to frame, whose bytes from msgStart on
// are the Noise message of a handshake to the relay whose public key is
// receiver; cookie is the one that relay handed this one, nil for none
// (mac2 is then zero).
func AppendMACs(frame []byte, msgStart int, receiver PublicKey, cookie []byte) []byte {
	k := derive(labelMAC1, receiver)
	m1 := mac(k[:], frame[msgStart:], nil)
	frame = append(frame, m1[:]...)
	if len(cookie) != relayframe.CookieLen {
		var zero [relayframe.MACLen]byte
		return append(frame, zero[:]...)
	}
	m2 := mac(cookie, frame[msgStart:], nil)
	return append(frame, m2[:]...)
}

// CheckMAC1 reports whether hs carries the mac1 of a message to the
// relay whose public key is self. It costs a hash, no public-key work.
func CheckMAC1(hs relayframe.Handshake, self PublicKey) bool {
	k := derive(labelMAC1, self)
	m := mac(k[:], hs.Msg, nil)
	return hmac.Equal(m[:], hs.MAC1)
}

// Cookies makes and checks the cookies of a responder under load. It is
// safe for concurrent use.
type Cookies struct {
	rng    io.Reader
	seal   [32]byte // key of the replies: derived from the responder's key
	mu     sync.Mutex
	secret [32]byte
	born   time.Time
}

// NewCookies makes the cookie maker of the relay whose public key is
// self, drawing its secrets and nonces from rng (nil: crypto/rand).
func NewCookies(self PublicKey, rng io.Reader) *Cookies {
	if rng == nil {
		rng = rand.Reader
	}
	return &Cookies{rng: rng, seal: derive(labelCookie, self)}
}

// cookieLocked is the cookie of src at now. Caller holds mu.
func (c *Cookies) cookieLocked(src netip.AddrPort, now time.Time) ([relayframe.MACLen]byte, error) {
	if c.born.IsZero() || now.Sub(c.born) >= CookieSecretLife || now.Before(c.born) {
		if _, err := io.ReadFull(c.rng, c.secret[:]); err != nil {
			return [relayframe.MACLen]byte{}, fmt.Errorf("making a cookie secret: %w", err)
		}
		c.born = now
	}
	a := src.Addr().Unmap().As16()
	p := [2]byte{byte(src.Port() >> 8), byte(src.Port())}
	return mac(c.secret[:], a[:], p[:]), nil
}

// CheckMAC2 reports whether hs, received from src at now, carries a valid
// mac2: one made with the cookie of src under the current secret.
func (c *Cookies) CheckMAC2(hs relayframe.Handshake, src netip.AddrPort, now time.Time) bool {
	c.mu.Lock()
	ck, err := c.cookieLocked(src, now)
	c.mu.Unlock()
	if err != nil {
		return false
	}
	m := mac(ck[:], hs.Signed, nil)
	return hmac.Equal(m[:], hs.MAC2)
}

// Reply makes the body of a cookie reply to hs, received from src at now:
// a fresh nonce and the cookie of src sealed with hs's mac1 as associated
// data.
func (c *Cookies) Reply(hs relayframe.Handshake, src netip.AddrPort, now time.Time) (nonce, sealed []byte, err error) {
	c.mu.Lock()
	ck, err := c.cookieLocked(src, now)
	c.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	nonce = make([]byte, relayframe.CookieNonceLen)
	if _, err := io.ReadFull(c.rng, nonce); err != nil {
		return nil, nil, fmt.Errorf("making a cookie nonce: %w", err)
	}
	aead, err := chacha20poly1305.NewX(c.seal[:])
	if err != nil {
		return nil, nil, fmt.Errorf("making the cookie cipher: %w", err)
	}
	return nonce, aead.Seal(nil, nonce, ck[:], hs.MAC1), nil
}

// OpenCookieReply reads the cookie of a reply (nonce, sealed) from the
// relay whose public key is responder to the initiation that carried
// mac1. It fails with ErrAuth for a forged reply or one to another
// initiation.
func OpenCookieReply(responder PublicKey, mac1, nonce, sealed []byte) ([]byte, error) {
	k := derive(labelCookie, responder)
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		return nil, fmt.Errorf("making the cookie cipher: %w", err)
	}
	if len(nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("cookie reply nonce of %d bytes: %w", len(nonce), ErrAuth)
	}
	ck, err := aead.Open(nil, nonce, sealed, mac1)
	if err != nil || len(ck) != relayframe.CookieLen {
		return nil, fmt.Errorf("cookie reply: %w", ErrAuth)
	}
	return ck, nil
}
