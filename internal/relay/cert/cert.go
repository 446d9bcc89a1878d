// Package cert is the relay mesh's certificates: a mesh CA (an Ed25519 key)
// signs, for one relay, its name, its X25519 public key, the underlay
// addresses it may send from, the LAN source prefixes it may carry and an
// expiry. A relay that trusts the CA takes a peer's key and prefixes from
// its certificate instead of its peer line. The encoding is compact binary
// (base64 in files); Decode never panics and checks every length. The
// package is pure: it takes bytes and times, never files or the clock.
//
//	"MCRT" | version 1 (1) | name length (1) | name | public key (32)
//	| underlay count (1) | count × { family 4|6 (1) | address (4|16) | port (2) }
//	| prefix count (1) | count × { family 4|6 (1) | address (4|16) | bits (1) }
//	| not before (8, unix seconds) | not after (8) | Ed25519 signature (64) of all before it
package cert

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Errors of Decode and Verify (wrapped with detail).
var (
	ErrFormat    = errors.New("malformed certificate")
	ErrSignature = errors.New("not signed by this CA")
	ErrExpired   = errors.New("expired or not yet valid")
	ErrRevoked   = errors.New("revoked")
)

// Limits of a certificate's lists and name.
const (
	MaxName     = 64
	MaxUnderlay = 8
	MaxPrefixes = 32
)

var magic = []byte("MCRT\x01")

// Cert is a relay's certificate.
type Cert struct {
	Name      string
	Key       [32]byte         // the relay's X25519 public key
	Underlay  []netip.AddrPort // where its frames may come from
	Allow     []netip.Prefix   // the sources of the datagrams it may carry
	NotBefore time.Time
	NotAfter  time.Time
	Signature [ed25519.SignatureSize]byte
}

// body appends the signed part of c's encoding to dst.
func (c *Cert) body(dst []byte) ([]byte, error) {
	if c.Name == "" || len(c.Name) > MaxName {
		return dst, fmt.Errorf("name %q: %w: 1 to %d bytes", c.Name, ErrFormat, MaxName)
	}
	if len(c.Underlay) > MaxUnderlay || len(c.Allow) > MaxPrefixes {
		return dst, fmt.Errorf("%d underlay addresses, %d prefixes: %w: at most %d and %d", len(c.Underlay), len(c.Allow), ErrFormat, MaxUnderlay, MaxPrefixes)
	}
	dst = append(dst, magic...)
	dst = append(dst, byte(len(c.Name)))
	dst = append(dst, c.Name...)
	dst = append(dst, c.Key[:]...)
	dst = append(dst, byte(len(c.Underlay)))
	for _, u := range c.Underlay {
		if !u.Addr().IsValid() || u.Addr().Zone() != "" {
			return dst, fmt.Errorf("underlay address %s: %w", u, ErrFormat)
		}
		dst = appendAddr(dst, u.Addr().Unmap())
		dst = binary.BigEndian.AppendUint16(dst, u.Port())
	}
	dst = append(dst, byte(len(c.Allow)))
	for _, p := range c.Allow {
		if !p.IsValid() || p != p.Masked() || p.Addr().Is4In6() {
			return dst, fmt.Errorf("prefix %s: %w", p, ErrFormat)
		}
		dst = appendAddr(dst, p.Addr())
		dst = append(dst, byte(p.Bits()))
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.NotBefore.Unix()))
	return binary.BigEndian.AppendUint64(dst, uint64(c.NotAfter.Unix())), nil
}

func appendAddr(dst []byte, a netip.Addr) []byte {
	if a.Is4() {
		b := a.As4()
		return append(append(dst, 4), b[:]...)
	}
	b := a.As16()
	return append(append(dst, 6), b[:]...)
}

// Sign sets c's signature by the CA key ca and returns c's encoding.
func Sign(c *Cert, ca ed25519.PrivateKey) ([]byte, error) {
	b, err := c.body(nil)
	if err != nil {
		return nil, err
	}
	copy(c.Signature[:], ed25519.Sign(ca, b))
	return append(b, c.Signature[:]...), nil
}

// Encode returns c's encoding with the signature it has.
func (c *Cert) Encode() ([]byte, error) {
	b, err := c.body(nil)
	if err != nil {
		return nil, err
	}
	return append(b, c.Signature[:]...), nil
}

// reader decodes with bounds checks.
type reader struct {
	b   []byte
	err bool
}

func (r *reader) take(n int) []byte {
	if r.err || len(r.b) < n {
		r.err = true
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) addr() netip.Addr {
	switch r.take(1)[0] {
	case 4:
		return netip.AddrFrom4([4]byte(r.take(4)))
	case 6:
		return netip.AddrFrom16([16]byte(r.take(16)))
	}
	r.err = true
	return netip.Addr{}
}

// Decode reads a certificate's encoding. It checks the format, not the
// signature (Verify does).
func Decode(b []byte) (*Cert, error) {
	r := &reader{b: b}
	if string(r.take(len(magic))) != string(magic) {
		return nil, fmt.Errorf("bad magic or version: %w", ErrFormat)
	}
	c := &Cert{}
	n := int(r.take(1)[0])
	c.Name = string(r.take(n))
	copy(c.Key[:], r.take(32))
	nu := int(r.take(1)[0])
	if nu > MaxUnderlay {
		return nil, fmt.Errorf("%d underlay addresses: %w", nu, ErrFormat)
	}
	for i := 0; i < nu && !r.err; i++ {
		a := r.addr()
		c.Underlay = append(c.Underlay, netip.AddrPortFrom(a, binary.BigEndian.Uint16(r.take(2))))
	}
	np := int(r.take(1)[0])
	if np > MaxPrefixes {
		return nil, fmt.Errorf("%d prefixes: %w", np, ErrFormat)
	}
	for i := 0; i < np && !r.err; i++ {
		a := r.addr()
		p, err := a.Prefix(int(r.take(1)[0]))
		if err != nil {
			r.err = true
			break
		}
		c.Allow = append(c.Allow, p)
	}
	c.NotBefore = time.Unix(int64(binary.BigEndian.Uint64(r.take(8))), 0)
	c.NotAfter = time.Unix(int64(binary.BigEndian.Uint64(r.take(8))), 0)
	copy(c.Signature[:], r.take(ed25519.SignatureSize))
	if r.err || len(r.b) != 0 || n == 0 {
		return nil, fmt.Errorf("certificate of %d bytes: %w", len(b), ErrFormat)
	}
	// Canonical: it encodes back to itself (no host bits, no mapped
	// addresses), so that the fingerprint names one certificate.
	if again, err := c.Encode(); err != nil || string(again) != string(b) {
		return nil, fmt.Errorf("not in canonical form: %w", ErrFormat)
	}
	return c, nil
}

// Verify checks that c is signed by the CA public key ca and valid at now.
func (c *Cert) Verify(ca ed25519.PublicKey, now time.Time) error {
	b, err := c.body(nil)
	if err != nil {
		return err
	}
	if !ed25519.Verify(ca, b, c.Signature[:]) {
		return fmt.Errorf("certificate of %s: %w", c.Name, ErrSignature)
	}
	if now.Before(c.NotBefore) || !now.Before(c.NotAfter) {
		return fmt.Errorf("certificate of %s valid %s to %s, now %s: %w", c.Name,
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrExpired)
	}
	return nil
}

// Fingerprint is the hex SHA-256 of c's encoding: what a revocation list
// names.
func (c *Cert) Fingerprint() string {
	b, _ := c.Encode()
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Admit checks that c may speak for the relay called name: signed by ca
// and valid at now, not in revoked (fingerprints), and for that name. The
// caller checks the underlay address it came from against c.Underlay.
func (c *Cert) Admit(ca ed25519.PublicKey, revoked map[string]bool, name string, now time.Time) error {
	if err := c.Verify(ca, now); err != nil {
		return err
	}
	if revoked[c.Fingerprint()] {
		return fmt.Errorf("certificate %s: %w", c.Fingerprint(), ErrRevoked)
	}
	if c.Name != name {
		return fmt.Errorf("certificate is for %q, not %q", c.Name, name)
	}
	return nil
}

// Carried is the source prefixes c lets its relay carry, never nil: a
// certificate without prefixes carries nothing.
func (c *Cert) Carried() []netip.Prefix {
	if c.Allow == nil {
		return []netip.Prefix{}
	}
	return c.Allow
}

// String is c's encoding in base64, as certificate files hold it.
func (c *Cert) String() string {
	b, _ := c.Encode()
	return base64.StdEncoding.EncodeToString(b)
}

// Parse reads a certificate file's content (base64, white space ignored).
func Parse(text string) (*Cert, error) {
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
	if err != nil {
		return nil, fmt.Errorf("certificate is not base64: %w", ErrFormat)
	}
	return Decode(b)
}

// ParseRevoked reads a revocation list: one fingerprint (hex SHA-256) a
// line, "#" comments. It names the first bad line.
func ParseRevoked(text string) (map[string]bool, error) {
	out := map[string]bool{}
	for i, l := range strings.Split(text, "\n") {
		if j := strings.IndexByte(l, '#'); j >= 0 {
			l = l[:j]
		}
		l = strings.ToLower(strings.TrimSpace(l))
		if l == "" {
			continue
		}
		if b, err := hex.DecodeString(l); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("line %d: %q is not a certificate fingerprint (64 hex digits)", i+1, l)
		}
		out[l] = true
	}
	return out, nil
}

// ParseCAKey decodes a CA public key (base64 Ed25519, 32 bytes).
func ParseCAKey(text string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(text))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("CA public key %q: want %d bytes in base64 (mcast relay ca pubkey)", strings.TrimSpace(text), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}
