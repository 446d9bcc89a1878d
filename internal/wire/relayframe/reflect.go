package relayframe

// Fan-out frames. When many relays want a group, the relay whose LAN the
// datagram came from (its origin) sends it to a few reflector relays
// only, each with the list of relays it must pass it on to; a reflector
// passes the records on, each under its own session with the target, with
// an empty list and the origin named.
//
// Body of a TypeReflect frame:
//
//	0        4       6
//	+--------+-------+---------------------+---------+
//	| origin | count | count × target (4)  | records |
//	+--------+-------+---------------------+---------+
//
// origin is the node ID of the relay that captured the records. From the
// origin itself (origin = the sender) the targets are the relays the
// receiver must pass the records to; from a reflector (origin ≠ the
// sender) the list is empty: a reflected frame is never reflected again.

import (
	"encoding/binary"
	"fmt"
)

// MaxTargets bounds the target list of one fan-out frame: a reflector
// sends at most this many frames for one it receives.
const MaxTargets = 64

// ReflectHeaderLen is the length of a Reflect header without targets.
const ReflectHeaderLen = 6

// Reflect is the header of a TypeReflect body.
type Reflect struct {
	Origin  uint32   // node ID of the relay that captured the records
	Targets []uint32 // relays the receiver passes the records to (origin's frames only)
}

// Len is the encoded length of h.
func (h *Reflect) Len() int { return ReflectHeaderLen + 4*len(h.Targets) }

// AppendReflect appends h's encoding to dst. The targets must be at most
// MaxTargets, none repeated, none the origin.
func AppendReflect(dst []byte, h *Reflect) ([]byte, error) {
	if err := checkTargets(h.Origin, h.Targets); err != nil {
		return dst, err
	}
	dst = binary.BigEndian.AppendUint32(dst, h.Origin)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.Targets)))
	for _, t := range h.Targets {
		dst = binary.BigEndian.AppendUint32(dst, t)
	}
	return dst, nil
}

// ParseReflect decodes the header of a TypeReflect body and returns it
// with the records that follow. Targets reuses into's storage. It refuses
// a list over MaxTargets, a target repeated or the origin.
func ParseReflect(b []byte, into []uint32) (Reflect, []byte, error) {
	if len(b) < ReflectHeaderLen {
		return Reflect{}, nil, fmt.Errorf("reflect header of %d bytes: %w", len(b), ErrShort)
	}
	h := Reflect{Origin: binary.BigEndian.Uint32(b[0:4]), Targets: into[:0]}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if n > MaxTargets {
		return Reflect{}, nil, fmt.Errorf("reflect list of %d targets: %w: at most %d", n, ErrRecord, MaxTargets)
	}
	b = b[ReflectHeaderLen:]
	if len(b) < 4*n {
		return Reflect{}, nil, fmt.Errorf("reflect list of %d targets in %d bytes: %w", n, len(b), ErrShort)
	}
	for i := 0; i < n; i++ {
		h.Targets = append(h.Targets, binary.BigEndian.Uint32(b[4*i:]))
	}
	if err := checkTargets(h.Origin, h.Targets); err != nil {
		return Reflect{}, nil, err
	}
	return h, b[4*n:], nil
}

// checkTargets refuses a list too long, naming the origin or a repeat.
// Lists are short: the quadratic check costs less than a map.
func checkTargets(origin uint32, ts []uint32) error {
	if len(ts) > MaxTargets {
		return fmt.Errorf("reflect list of %d targets: %w: at most %d", len(ts), ErrRecord, MaxTargets)
	}
	for i, t := range ts {
		if t == origin {
			return fmt.Errorf("reflect target %d: %w: the origin", t, ErrRecord)
		}
		for _, u := range ts[:i] {
			if u == t {
				return fmt.Errorf("reflect target %d: %w: listed twice", t, ErrRecord)
			}
		}
	}
	return nil
}
