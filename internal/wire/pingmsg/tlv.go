// Package pingmsg encodes and decodes the messages of the multicast ping
// protocols that mcast ping speaks on the wire:
//
//   - omping 0.0.5 (protocol version 2): a one-byte message type ('I'nit,
//     re'S'ponse, 'Q'uery, 'A'nswer) followed by TLVs of a 16-bit type, a
//     16-bit length and the value, all in network byte order;
//   - ssmping/asmping (draft-ietf-mboned-ssmping, ssmping 0.9.1): a one-byte
//     type ('Q' request, 'A' reply) followed by TLVs of the same shape.
//
// Both use UDP port 4321 and the same type letters; Classify tells them
// apart by the omping Version TLV. Everything here is pure: it takes and
// returns bytes. Decoders never panic, bound every length by the datagram
// and report structural damage as an error wrapping ErrMalformed.
package pingmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every decode error: the datagram should be
// counted and dropped.
var ErrMalformed = errors.New("malformed ping message")

// MaxTLVs bounds how many TLVs one message may carry; more is hostile.
const MaxTLVs = 256

// TLV is one type-length-value item. Value aliases the decoded datagram.
type TLV struct {
	Type  uint16
	Value []byte
}

// ParseTLVs splits b (the bytes after the message type) into TLVs. Every
// TLV must fit in b exactly; a truncated header or value, or more than
// MaxTLVs items, is an error.
func ParseTLVs(b []byte) ([]TLV, error) {
	var out []TLV
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return nil, fmt.Errorf("%w: %d stray bytes at offset %d", ErrMalformed, len(b)-off, off+1)
		}
		t := binary.BigEndian.Uint16(b[off:])
		l := int(binary.BigEndian.Uint16(b[off+2:]))
		off += 4
		if l > len(b)-off {
			return nil, fmt.Errorf("%w: TLV type %d says %d bytes, %d left", ErrMalformed, t, l, len(b)-off)
		}
		if len(out) == MaxTLVs {
			return nil, fmt.Errorf("%w: more than %d TLVs", ErrMalformed, MaxTLVs)
		}
		out = append(out, TLV{Type: t, Value: b[off : off+l : off+l]})
		off += l
	}
	return out, nil
}

// AppendTLV appends one TLV to b. Values longer than 65535 bytes are cut
// (no message here comes near that).
func AppendTLV(b []byte, t uint16, v []byte) []byte {
	if len(v) > 0xffff {
		v = v[:0xffff]
	}
	b = binary.BigEndian.AppendUint16(b, t)
	b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// Kind is which protocol a datagram belongs to.
type Kind int

// Kinds of datagram.
const (
	KindUnknown Kind = iota
	KindOmping
	KindSSMPing
)

func (k Kind) String() string {
	switch k {
	case KindOmping:
		return "omping"
	case KindSSMPing:
		return "ssmping"
	}
	return "unknown"
}

// Classify says which protocol b speaks: omping messages carry a Version
// TLV (type 0); ssmping requests and replies ('Q', 'A') do not. Anything
// that does not parse is KindUnknown.
func Classify(b []byte) Kind {
	if len(b) < 1 {
		return KindUnknown
	}
	tlvs, err := ParseTLVs(b[1:])
	if err != nil {
		return KindUnknown
	}
	for _, t := range tlvs {
		if t.Type == OptVersion {
			switch b[0] {
			case TypeInit, TypeResponse, TypeQuery, TypeAnswer:
				return KindOmping
			}
			return KindUnknown
		}
	}
	if b[0] == SSMRequest || b[0] == SSMReply {
		return KindSSMPing
	}
	return KindUnknown
}
