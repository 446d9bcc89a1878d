package crypto

import (
	"crypto/ecdh"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// KeyLen is the length of an X25519 private or public key.
const KeyLen = 32

// PrivateKey is a relay's static X25519 private key (its identity).
type PrivateKey [KeyLen]byte

// PublicKey is a relay's static X25519 public key, which its peers list.
type PublicKey [KeyLen]byte

// GenerateKey makes a private key from 32 bytes of rng (crypto/rand.Reader
// in use; the tests pass their own).
func GenerateKey(rng io.Reader) (PrivateKey, error) {
	var k PrivateKey
	if _, err := io.ReadFull(rng, k[:]); err != nil {
		return k, fmt.Errorf("reading randomness for a private key: %w", err)
	}
	// Clamped as X25519 uses it (RFC 7748), so that the stored key is the
	// one in use.
	k[0] &= 248
	k[31] = k[31]&127 | 64
	return k, nil
}

// Public returns the public key of k.
func (k PrivateKey) Public() PublicKey {
	priv, err := ecdh.X25519().NewPrivateKey(k[:])
	if err != nil {
		panic("crypto: X25519 refused a 32-byte key: " + err.Error()) // cannot happen: every 32-byte string is a key
	}
	return PublicKey(priv.PublicKey().Bytes())
}

// String is k in standard base64, as `mcast relay genkey` prints it.
func (k PrivateKey) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// String is k in standard base64, as `mcast relay pubkey` prints it and
// peer lines name it.
func (k PublicKey) String() string { return base64.StdEncoding.EncodeToString(k[:]) }

// parseKey decodes a base64 key of 32 bytes; what says which kind.
func parseKey(s, what string) ([KeyLen]byte, error) {
	var k [KeyLen]byte
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return k, fmt.Errorf("%s %q is not base64: %w", what, abbrev(s), err)
	}
	if len(b) != KeyLen {
		return k, fmt.Errorf("%s %q is %d bytes, want %d", what, abbrev(s), len(b), KeyLen)
	}
	return [KeyLen]byte(b), nil
}

// abbrev shortens s for an error message (a private key is never quoted
// whole).
func abbrev(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 8 {
		return s[:4] + "…"
	}
	return s
}

// ParsePrivateKey decodes a private key file's content (base64, surrounding
// white space ignored).
func ParsePrivateKey(s string) (PrivateKey, error) {
	k, err := parseKey(s, "private key")
	if err == nil && k == ([KeyLen]byte{}) {
		err = fmt.Errorf("private key is all zeros")
	}
	return PrivateKey(k), err
}

// ParsePublicKey decodes a public key as peer lines give it.
func ParsePublicKey(s string) (PublicKey, error) {
	k, err := parseKey(s, "public key")
	if err == nil && k == ([KeyLen]byte{}) {
		err = fmt.Errorf("public key is all zeros")
	}
	return PublicKey(k), err
}
