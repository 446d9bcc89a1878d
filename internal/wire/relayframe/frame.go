// Package relayframe encodes and decodes the frames mcast relays exchange
// over unicast UDP. It is pure: it works on byte slices and never touches a
// socket or a key. Encryption is the caller's (internal/relay/crypto): the
// fixed header is sent in clear and authenticated as associated data, the
// body after it is the AEAD ciphertext of a Hello or of data records.
//
// Frame:
//
//	0      2    3    4        8                16
//	+------+----+----+--------+----------------+------------------------+
//	| "MR" | v2 |type| index  |    counter     | body (AEAD ciphertext) |
//	+------+----+----+--------+----------------+------------------------+
//
// The index names the receiver's session (it chose the number in the
// handshake), the counter is the sender's frame number in that session.
// Handshake frames (TypeInit, TypeResponse) carry a Noise message and two
// MACs as body instead: an initiation has index and counter 0, a response
// names the initiator's session in its index; a cookie reply (TypeCookie)
// names it too (handshake.go).
//
// The decoders never panic and never allocate on the data path: records
// returned by ParseRecord point into the buffer they were read from.
package relayframe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// HeaderLen is the length of the clear frame header.
const HeaderLen = 16

// Version is the frame format version this package speaks. Version 1 (a
// mesh-wide key, the sender's node ID in the header) is refused.
const Version = 2

// Frame types.
const (
	TypeData     = 1 // body: one or more records
	TypeHello    = 2 // body: a Hello (keepalive and interest)
	TypeInit     = 3 // body: a handshake initiation (Noise_IK message 1)
	TypeResponse = 4 // body: a handshake response (Noise_IK message 2)
	TypeReflect  = 5 // body: a Reflect header, then records (reflect.go)
	TypeCookie   = 6 // body: a cookie reply to an initiation (handshake.go)
)

// Record kinds.
const (
	KindDatagram = 1 // a whole datagram
	KindFragment = 2 // one piece of a datagram split by the relay
)

// Record flags.
const (
	FlagIPv6      = 1 << 0
	FlagBroadcast = 1 << 1
)

var magic = [2]byte{'M', 'R'}

// Errors the decoders return (wrapped with detail).
var (
	ErrShort   = errors.New("truncated")
	ErrMagic   = errors.New("not a relay frame (bad magic)")
	ErrVersion = errors.New("unsupported version")
	ErrType    = errors.New("unknown type")
	ErrRecord  = errors.New("bad record")
)

// Header is the clear part of a frame.
type Header struct {
	Type  uint8
	Index uint32 // the receiver's session index (0 in an initiation)
	Seq   uint64 // the frame counter in that session; also the AEAD nonce
}

// AppendHeader appends h's 16 bytes to dst.
func AppendHeader(dst []byte, h Header) []byte {
	dst = append(dst, magic[0], magic[1], Version, h.Type)
	dst = binary.BigEndian.AppendUint32(dst, h.Index)
	return binary.BigEndian.AppendUint64(dst, h.Seq)
}

// ParseHeader reads the clear header of frame b and returns it with the
// body that follows.
func ParseHeader(b []byte) (Header, []byte, error) {
	if len(b) < HeaderLen {
		return Header{}, nil, fmt.Errorf("frame of %d bytes: %w", len(b), ErrShort)
	}
	if b[0] != magic[0] || b[1] != magic[1] {
		return Header{}, nil, ErrMagic
	}
	if b[2] != Version {
		return Header{}, nil, fmt.Errorf("version %d: %w", b[2], ErrVersion)
	}
	h := Header{Type: b[3], Index: binary.BigEndian.Uint32(b[4:8]), Seq: binary.BigEndian.Uint64(b[8:16])}
	if h.Type < TypeData || h.Type > TypeCookie {
		return Header{}, nil, fmt.Errorf("type %d: %w", h.Type, ErrType)
	}
	return h, b[HeaderLen:], nil
}

// Nonce writes the 12-byte AEAD nonce of h (index, then counter) to n.
func Nonce(n *[12]byte, h Header) {
	binary.BigEndian.PutUint32(n[0:4], h.Index)
	binary.BigEndian.PutUint64(n[4:12], h.Seq)
}

// Record is one datagram, or one fragment of a datagram, carried in a data
// frame.
type Record struct {
	Kind      uint8
	Broadcast bool
	TTL       uint8
	IPID      uint16         // the original IPv4 identification (0 for IPv6)
	ID        uint64         // per-origin datagram number: the dedupe key
	Src, Dst  netip.AddrPort // original source and destination (group or broadcast)
	FragIndex uint8          // KindFragment: which piece, from 0
	FragCount uint8          // KindFragment: how many pieces
	Payload   []byte         // the datagram, or this fragment's piece
}

// fixed part: kind, flags, ttl, reserved, IP ID, id.
const recFixed = 14

// RecordOverhead is the encoded size of a record minus its payload, for an
// IPv4 (v6=false) or IPv6 datagram.
func RecordOverhead(v6, fragment bool) int {
	n := recFixed + 2*4 + 4 + 2
	if v6 {
		n = recFixed + 2*16 + 4 + 2
	}
	if fragment {
		n += 2
	}
	return n
}

// Len is the encoded size of r.
func (r *Record) Len() int {
	return RecordOverhead(r.Src.Addr().Is6(), r.Kind == KindFragment) + len(r.Payload)
}

// AppendRecord appends r to dst. Src and Dst must be of one family; the
// payload must be at most 65535 bytes.
func AppendRecord(dst []byte, r *Record) ([]byte, error) {
	s, d := r.Src.Addr(), r.Dst.Addr()
	if !s.IsValid() || !d.IsValid() || s.Is4() != d.Is4() {
		return dst, fmt.Errorf("record %s -> %s: %w: addresses must be of one family", r.Src, r.Dst, ErrRecord)
	}
	if len(r.Payload) > 0xffff {
		return dst, fmt.Errorf("record of %d bytes: %w: payload over 65535 bytes", len(r.Payload), ErrRecord)
	}
	if r.Kind != KindDatagram && r.Kind != KindFragment {
		return dst, fmt.Errorf("kind %d: %w", r.Kind, ErrRecord)
	}
	var flags byte
	if s.Is6() {
		flags |= FlagIPv6
	}
	if r.Broadcast {
		flags |= FlagBroadcast
	}
	dst = append(dst, r.Kind, flags, r.TTL, 0)
	dst = binary.BigEndian.AppendUint16(dst, r.IPID)
	dst = binary.BigEndian.AppendUint64(dst, r.ID)
	if s.Is6() {
		a, b := s.As16(), d.As16()
		dst = append(dst, a[:]...)
		dst = append(dst, b[:]...)
	} else {
		a, b := s.As4(), d.As4()
		dst = append(dst, a[:]...)
		dst = append(dst, b[:]...)
	}
	dst = binary.BigEndian.AppendUint16(dst, r.Src.Port())
	dst = binary.BigEndian.AppendUint16(dst, r.Dst.Port())
	if r.Kind == KindFragment {
		dst = append(dst, r.FragIndex, r.FragCount)
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Payload)))
	return append(dst, r.Payload...), nil
}

// ParseRecord reads the first record of b and returns the rest of b. The
// record's Payload points into b.
func ParseRecord(b []byte) (Record, []byte, error) {
	var r Record
	if len(b) < recFixed {
		return r, nil, fmt.Errorf("record header of %d bytes: %w", len(b), ErrShort)
	}
	r.Kind, r.TTL = b[0], b[2]
	flags := b[1]
	if r.Kind != KindDatagram && r.Kind != KindFragment {
		return r, nil, fmt.Errorf("kind %d: %w", r.Kind, ErrRecord)
	}
	if flags&^(FlagIPv6|FlagBroadcast) != 0 || b[3] != 0 {
		return r, nil, fmt.Errorf("flags %#x: %w", flags, ErrRecord)
	}
	r.Broadcast = flags&FlagBroadcast != 0
	r.IPID = binary.BigEndian.Uint16(b[4:6])
	r.ID = binary.BigEndian.Uint64(b[6:14])
	b = b[recFixed:]
	alen := 4
	if flags&FlagIPv6 != 0 {
		alen = 16
	}
	need := 2*alen + 4 + 2
	if r.Kind == KindFragment {
		need += 2
	}
	if len(b) < need {
		return r, nil, fmt.Errorf("record addresses: %w", ErrShort)
	}
	var s, d netip.Addr
	if alen == 16 {
		s = netip.AddrFrom16([16]byte(b[0:16]))
		d = netip.AddrFrom16([16]byte(b[16:32]))
	} else {
		s = netip.AddrFrom4([4]byte(b[0:4]))
		d = netip.AddrFrom4([4]byte(b[4:8]))
	}
	b = b[2*alen:]
	r.Src = netip.AddrPortFrom(s, binary.BigEndian.Uint16(b[0:2]))
	r.Dst = netip.AddrPortFrom(d, binary.BigEndian.Uint16(b[2:4]))
	b = b[4:]
	if r.Kind == KindFragment {
		r.FragIndex, r.FragCount = b[0], b[1]
		b = b[2:]
		if r.FragCount < 2 || r.FragIndex >= r.FragCount {
			return r, nil, fmt.Errorf("fragment %d of %d: %w", r.FragIndex, r.FragCount, ErrRecord)
		}
	}
	n := int(binary.BigEndian.Uint16(b[0:2]))
	b = b[2:]
	if len(b) < n {
		return r, nil, fmt.Errorf("payload of %d bytes, %d left: %w", n, len(b), ErrShort)
	}
	r.Payload = b[:n:n]
	return r, b[n:], nil
}

// Interest is one thing a relay wants from its peers: a multicast group
// (Port 0: every port) or a broadcast port (Group 255.255.255.255).
type Interest struct {
	Group netip.Addr
	Port  uint16
}

// Hello is the body of a keepalive: the sender's interests, and the
// addresses it re-emits from where it does so from its own address
// (`source relay`), so that the other relays know those datagrams for
// copies. It is sent every keepalive interval and at once when either
// changes.
type Hello struct {
	Interests []Interest
	Sources   []netip.AddrPort
}

// MaxInterests bounds how many interests one Hello may carry, MaxSources
// how many sources.
const (
	MaxInterests = 4096
	MaxSources   = 8
)

// helloSources is the Hello flag that says sources follow the interests.
const helloSources = 1

// AppendHello appends h's encoding to dst: flags (2) | interest count (2) |
// interests | [flag helloSources: source count (1) | sources]. Interests
// and sources are each family 4|6 (1) | port (2) | address (4|16).
func AppendHello(dst []byte, h *Hello) ([]byte, error) {
	if len(h.Interests) > MaxInterests {
		return dst, fmt.Errorf("hello with %d interests: %w: at most %d", len(h.Interests), ErrRecord, MaxInterests)
	}
	if len(h.Sources) > MaxSources {
		return dst, fmt.Errorf("hello with %d sources: %w: at most %d", len(h.Sources), ErrRecord, MaxSources)
	}
	var flags uint16
	if len(h.Sources) > 0 {
		flags |= helloSources
	}
	dst = binary.BigEndian.AppendUint16(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Interests)))
	for _, in := range h.Interests {
		if !in.Group.IsValid() {
			return dst, fmt.Errorf("interest without a group: %w", ErrRecord)
		}
		dst = appendEntry(dst, in.Group, in.Port)
	}
	if len(h.Sources) > 0 {
		dst = append(dst, byte(len(h.Sources)))
		for _, s := range h.Sources {
			if !s.Addr().IsValid() {
				return dst, fmt.Errorf("source without an address: %w", ErrRecord)
			}
			dst = appendEntry(dst, s.Addr(), s.Port())
		}
	}
	return dst, nil
}

// appendEntry appends family | port | address.
func appendEntry(dst []byte, a netip.Addr, port uint16) []byte {
	if a.Is4() {
		b := a.As4()
		dst = append(dst, 4)
		dst = binary.BigEndian.AppendUint16(dst, port)
		return append(dst, b[:]...)
	}
	b := a.As16()
	dst = append(dst, 6)
	dst = binary.BigEndian.AppendUint16(dst, port)
	return append(dst, b[:]...)
}

// parseEntry decodes what appendEntry wrote and returns the rest of b.
func parseEntry(b []byte) (a netip.Addr, port uint16, rest []byte, err error) {
	if len(b) < 3 {
		return a, 0, nil, ErrShort
	}
	fam, port := b[0], binary.BigEndian.Uint16(b[1:3])
	b = b[3:]
	switch fam {
	case 4:
		if len(b) < 4 {
			return a, 0, nil, ErrShort
		}
		return netip.AddrFrom4([4]byte(b[:4])), port, b[4:], nil
	case 6:
		if len(b) < 16 {
			return a, 0, nil, ErrShort
		}
		return netip.AddrFrom16([16]byte(b[:16])), port, b[16:], nil
	}
	return a, 0, nil, fmt.Errorf("family %d: %w", fam, ErrRecord)
}

// ParseHello decodes a Hello body. Interests reuses into's storage.
func ParseHello(b []byte, into []Interest) (Hello, error) {
	if len(b) < 4 {
		return Hello{}, fmt.Errorf("hello of %d bytes: %w", len(b), ErrShort)
	}
	flags := binary.BigEndian.Uint16(b[0:2])
	if flags&^helloSources != 0 {
		return Hello{}, fmt.Errorf("hello flags %#04x: %w", flags, ErrRecord)
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n > MaxInterests {
		return Hello{}, fmt.Errorf("hello with %d interests: %w", n, ErrRecord)
	}
	b = b[4:]
	h := Hello{Interests: into[:0]}
	for i := 0; i < n; i++ {
		g, port, rest, err := parseEntry(b)
		if err != nil {
			return Hello{}, fmt.Errorf("interest %d: %w", i, err)
		}
		b = rest
		h.Interests = append(h.Interests, Interest{Group: g, Port: port})
	}
	if flags&helloSources != 0 {
		if len(b) < 1 {
			return Hello{}, fmt.Errorf("hello sources: %w", ErrShort)
		}
		m := int(b[0])
		if m == 0 || m > MaxSources {
			return Hello{}, fmt.Errorf("hello with %d sources: %w", m, ErrRecord)
		}
		b = b[1:]
		for i := 0; i < m; i++ {
			a, port, rest, err := parseEntry(b)
			if err != nil {
				return Hello{}, fmt.Errorf("source %d: %w", i, err)
			}
			b = rest
			h.Sources = append(h.Sources, netip.AddrPortFrom(a, port))
		}
	}
	if len(b) != 0 {
		return Hello{}, fmt.Errorf("%d bytes after the hello: %w", len(b), ErrRecord)
	}
	return h, nil
}
