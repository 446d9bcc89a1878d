// Package members is the pure part of the relay's fleet membership: the
// node metadata each relay gossips (its underlay data address, LAN tag and
// identity), its checks, and the table of members and their states. The
// gossip engine (hashicorp/memberlist) runs in package relay; nothing here
// opens a socket or reads the clock.
//
// Metadata encoding, at most MaxMeta bytes (memberlist's limit):
//
//	"MCM" | version 1 (1) | flags (1; 1: leaving) | family 4|6 (1) | address (4|16) | port (2)
//	| LAN tag length (1) | LAN tag
//	| kind (1): 0 = key, 1 = certificate
//	kind 0: public key (32) | prefix count (1; 255: any source)
//	        | count × { family 4|6 (1) | address (4|16) | bits (1) }
//	kind 1: certificate length (2) | certificate (package cert's encoding)
package members

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// MaxMeta is the largest metadata memberlist carries (its MetaMaxSize).
const MaxMeta = 512

// Limits of the metadata's fields.
const (
	MaxTag      = 64
	MaxPrefixes = 32
	anySource   = 255
)

// Kinds of identity a member's metadata carries.
const (
	KindKey  = 0 // a public key and the source prefixes it claims
	KindCert = 1 // a mesh CA certificate
)

// ErrMeta is Decode's error for metadata that does not decode.
var ErrMeta = errors.New("malformed member metadata")

var metaMagic = []byte("MCM\x01")

// Meta is what a relay tells the fleet about itself.
type Meta struct {
	Addr netip.AddrPort // its underlay data address (the listen address)
	LAN  string         // its LAN tag: relays with the same tag serve one LAN
	Kind int
	Key  [32]byte // KindKey: its X25519 public key
	// Allow are the sources it may carry (KindKey); nil: any.
	Allow []netip.Prefix
	Cert  []byte // KindCert: its certificate's encoding
	// Leaving: the relay is stopping and about to leave the fleet (its
	// last metadata update), so that the others record it left, not
	// failed.
	Leaving bool
}

const flagLeaving = 1

func appendAddr(dst []byte, a netip.Addr) []byte {
	if a.Is4() {
		b := a.As4()
		return append(append(dst, 4), b[:]...)
	}
	b := a.As16()
	return append(append(dst, 6), b[:]...)
}

// Encode returns m's encoding, or an error naming what does not fit.
func (m *Meta) Encode() ([]byte, error) {
	if !m.Addr.IsValid() || m.Addr.Addr().Zone() != "" {
		return nil, fmt.Errorf("metadata address %s: %w", m.Addr, ErrMeta)
	}
	if len(m.LAN) > MaxTag {
		return nil, fmt.Errorf("LAN tag of %d bytes (at most %d): %w", len(m.LAN), MaxTag, ErrMeta)
	}
	flags := byte(0)
	if m.Leaving {
		flags = flagLeaving
	}
	b := appendAddr(append(append([]byte{}, metaMagic...), flags), m.Addr.Addr().Unmap())
	b = binary.BigEndian.AppendUint16(b, m.Addr.Port())
	b = append(append(b, byte(len(m.LAN))), m.LAN...)
	switch m.Kind {
	case KindKey:
		b = append(append(b, KindKey), m.Key[:]...)
		if m.Allow == nil {
			b = append(b, anySource)
			break
		}
		if len(m.Allow) > MaxPrefixes {
			return nil, fmt.Errorf("%d allowed prefixes (at most %d in metadata): %w", len(m.Allow), MaxPrefixes, ErrMeta)
		}
		b = append(b, byte(len(m.Allow)))
		for _, p := range m.Allow {
			b = append(appendAddr(b, p.Addr()), byte(p.Bits()))
		}
	case KindCert:
		b = append(b, KindCert)
		b = binary.BigEndian.AppendUint16(b, uint16(len(m.Cert)))
		b = append(b, m.Cert...)
	default:
		return nil, fmt.Errorf("metadata kind %d: %w", m.Kind, ErrMeta)
	}
	if len(b) > MaxMeta {
		return nil, fmt.Errorf("metadata of %d bytes, memberlist carries at most %d (a certificate with fewer prefixes or addresses fits): %w", len(b), MaxMeta, ErrMeta)
	}
	return b, nil
}

// rd decodes with bounds checks: once short, every take is zeros and err
// stays set.
type rd struct {
	b   []byte
	err bool
}

func (r *rd) take(n int) []byte {
	if r.err || n < 0 || len(r.b) < n {
		r.err = true
		return make([]byte, max(n, 0))
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *rd) addr() netip.Addr {
	switch r.take(1)[0] {
	case 4:
		return netip.AddrFrom4([4]byte(r.take(4)))
	case 6:
		a := netip.AddrFrom16([16]byte(r.take(16)))
		if a.Is4In6() {
			r.err = true
		}
		return a
	}
	r.err = true
	return netip.Addr{}
}

// Decode reads metadata. It never panics, reads at most MaxMeta bytes and
// refuses anything not in the form Encode writes.
func Decode(b []byte) (*Meta, error) {
	if len(b) > MaxMeta {
		return nil, fmt.Errorf("metadata of %d bytes (at most %d): %w", len(b), MaxMeta, ErrMeta)
	}
	r := &rd{b: b}
	if string(r.take(len(metaMagic))) != string(metaMagic) {
		return nil, fmt.Errorf("bad magic or version: %w", ErrMeta)
	}
	m := &Meta{}
	switch r.take(1)[0] {
	case 0:
	case flagLeaving:
		m.Leaving = true
	default:
		return nil, fmt.Errorf("unknown flags: %w", ErrMeta)
	}
	a := r.addr()
	m.Addr = netip.AddrPortFrom(a, binary.BigEndian.Uint16(r.take(2)))
	n := int(r.take(1)[0])
	if n > MaxTag {
		return nil, fmt.Errorf("LAN tag of %d bytes: %w", n, ErrMeta)
	}
	m.LAN = string(r.take(n))
	m.Kind = int(r.take(1)[0])
	switch m.Kind {
	case KindKey:
		copy(m.Key[:], r.take(32))
		np := int(r.take(1)[0])
		if np != anySource && np > MaxPrefixes {
			return nil, fmt.Errorf("%d prefixes: %w", np, ErrMeta)
		}
		if np != anySource {
			m.Allow = []netip.Prefix{}
			for i := 0; i < np && !r.err; i++ {
				pa := r.addr()
				p, err := pa.Prefix(int(r.take(1)[0]))
				if err != nil || p.Addr() != pa {
					r.err = true
					break
				}
				m.Allow = append(m.Allow, p)
			}
		}
	case KindCert:
		m.Cert = append([]byte{}, r.take(int(binary.BigEndian.Uint16(r.take(2))))...)
	default:
		return nil, fmt.Errorf("metadata kind %d: %w", m.Kind, ErrMeta)
	}
	if r.err || len(r.b) != 0 {
		return nil, fmt.Errorf("metadata of %d bytes: %w", len(b), ErrMeta)
	}
	if m.Addr.Port() == 0 || !a.IsValid() || a.IsUnspecified() || a.IsMulticast() {
		return nil, fmt.Errorf("data address %s: %w", m.Addr, ErrMeta)
	}
	if m.Kind == KindKey && m.Key == ([32]byte{}) {
		return nil, fmt.Errorf("all-zero public key: %w", ErrMeta)
	}
	return m, nil
}
