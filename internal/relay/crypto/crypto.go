// Package crypto is the relay's security layer. Each relay has a static
// X25519 identity (identity.go); two relays run a Noise_IK handshake
// (github.com/flynn/noise, handshake.go), optionally with the mesh's
// pre-shared key mixed in (psk2), which gives them a Session (session.go):
// fresh keys for each direction, a counter per direction as the nonce, and
// a replay window. Keys seals and opens one direction's frames: an AEAD
// (AES-256-GCM from the standard library, or ChaCha20-Poly1305 from
// golang.org/x/crypto) over each frame's body with its clear header
// (which names the receiver's session) as associated data. The package is
// pure: it takes keys' bytes, not files, and its clock and randomness are
// the caller's.
package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"golang.org/x/crypto/chacha20poly1305"
)

// MinKeyLen is the shortest key file accepted, in bytes.
const MinKeyLen = 32

// Overhead is what sealing adds to a body (the tag; 16 bytes for either
// cipher).
const Overhead = 16

// Ciphers.
const (
	AES256GCM        = "aes-256-gcm"       // fastest where the CPU has AES instructions
	ChaCha20Poly1305 = "chacha20-poly1305" // fast everywhere, constant time without them
)

// Ciphers lists the ciphers NewKeys takes, the default first.
var Ciphers = []string{AES256GCM, ChaCha20Poly1305}

// ErrAuth is returned by Open when a frame fails authentication.
var ErrAuth = errors.New("authentication failed")

// Keys seal and open frames. A Keys is safe for concurrent use.
type Keys struct {
	aead cipher.AEAD
}

// hkdfInfo binds the derived pre-shared key to this protocol and version;
// the cipher's name follows, so that relays configured with different
// ciphers fail each other's handshakes rather than misread them.
const hkdfInfo = "mcast relay v2 psk "

// DerivePSK derives the 32-byte Noise pre-shared key of cipher (one of
// Ciphers) from the mesh key file's content. It fails when the content is
// shorter than MinKeyLen.
func DerivePSK(keyFile []byte, cipherName string) ([]byte, error) {
	if len(keyFile) < MinKeyLen {
		return nil, fmt.Errorf("key of %d bytes is too short: need at least %d (make one with: head -c 32 /dev/urandom > FILE)", len(keyFile), MinKeyLen)
	}
	if err := checkCipher(cipherName); err != nil {
		return nil, err
	}
	k, err := hkdf.Key(sha256.New, keyFile, []byte("mcast-relay"), hkdfInfo+cipherName, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving the pre-shared key: %w", err)
	}
	return k, nil
}

func checkCipher(name string) error {
	if name != AES256GCM && name != ChaCha20Poly1305 {
		return fmt.Errorf("unknown cipher %q: want %s or %s", name, AES256GCM, ChaCha20Poly1305)
	}
	return nil
}

// NewKeys makes the frame sealer of cipher (one of Ciphers) under the
// 32-byte key k: one direction of a Session.
func NewKeys(k [32]byte, cipherName string) (*Keys, error) {
	if err := checkCipher(cipherName); err != nil {
		return nil, err
	}
	var aead cipher.AEAD
	var err error
	if cipherName == AES256GCM {
		var b cipher.Block
		if b, err = aes.NewCipher(k[:]); err == nil {
			aead, err = cipher.NewGCM(b)
		}
	} else {
		aead, err = chacha20poly1305.New(k[:])
	}
	if err != nil {
		return nil, fmt.Errorf("making the cipher: %w", err)
	}
	return &Keys{aead: aead}, nil
}

// Seal appends to dst the header of h followed by the sealed body. dst must
// not overlap body.
func (k *Keys) Seal(dst []byte, h relayframe.Header, body []byte) []byte {
	start := len(dst)
	dst = relayframe.AppendHeader(dst, h)
	// The header's last 12 bytes (session index, counter) are the nonce
	// (relayframe.Nonce); slicing them, rather than a local array, keeps
	// the nonce from escaping to the heap on every frame.
	hdr := dst[start:]
	return k.aead.Seal(dst, hdr[relayframe.HeaderLen-12:], body, hdr)
}

// Open checks and decrypts frame (header and sealed body), whose header
// was parsed as h, appending the clear body to dst.
func (k *Keys) Open(dst []byte, h relayframe.Header, frame []byte) ([]byte, error) {
	if len(frame) < relayframe.HeaderLen+Overhead {
		return dst, fmt.Errorf("frame of %d bytes: %w", len(frame), ErrAuth)
	}
	var nonce [12]byte
	relayframe.Nonce(&nonce, h)
	// Nonce as in Seal, from the header (already parsed as h, so equal).
	hdr := frame[:relayframe.HeaderLen]
	if string(hdr[relayframe.HeaderLen-12:]) != string(nonce[:]) {
		return dst, ErrAuth
	}
	out, err := k.aead.Open(dst, hdr[relayframe.HeaderLen-12:], frame[relayframe.HeaderLen:], hdr)
	if err != nil {
		return dst, ErrAuth
	}
	return out, nil
}
