// Package streamhdr encodes and decodes the header mcast send puts at the
// start of every datagram, so that mcast recv can count loss, duplicates and
// reordering and measure one-way latency per sender.
//
// The header is 32 bytes, big endian:
//
//	offset size field
//	0      4    magic "MCST"
//	4      1    version (1)
//	5      1    flags (FlagEnd)
//	6      1    header length in bytes (32; a decoder skips what it does not know)
//	7      1    sender's TTL or hop limit
//	8      4    sender id, random per run
//	12     8    sequence number from 0; with FlagEnd: how many datagrams were sent
//	20     8    send time, nanoseconds since the Unix epoch
//	28     4    reserved, zero
//
// The text or padding follows the header.
package streamhdr

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Magic starts every datagram that carries the header.
var Magic = [4]byte{'M', 'C', 'S', 'T'}

// Version is the header version this package writes.
const Version = 1

// Len is the length of the header this package writes.
const Len = 32

// FlagEnd marks an end-of-stream datagram: it carries no data and its Seq is
// the number of data datagrams the sender sent.
const FlagEnd = 0x01

// Header is the decoded header.
type Header struct {
	Flags    uint8
	TTL      uint8  // the sender's TTL or hop limit
	SenderID uint32 // random per sender run
	Seq      uint64 // sequence number; with FlagEnd, the count sent
	SentNs   int64  // send time in ns since the Unix epoch
}

// End reports whether h marks the end of a stream.
func (h Header) End() bool { return h.Flags&FlagEnd != 0 }

// Errors returned by Decode.
var (
	// ErrNotOurs: the datagram does not start with Magic (a foreign datagram).
	ErrNotOurs = errors.New("no mcast header")
	// ErrMalformed: the datagram starts with Magic but is truncated or inconsistent.
	ErrMalformed = errors.New("malformed mcast header")
)

// Put writes h into b, which must be at least Len bytes long, and returns Len.
func Put(b []byte, h Header) int {
	_ = b[Len-1]
	copy(b[0:4], Magic[:])
	b[4] = Version
	b[5] = h.Flags
	b[6] = Len
	b[7] = h.TTL
	binary.BigEndian.PutUint32(b[8:12], h.SenderID)
	binary.BigEndian.PutUint64(b[12:20], h.Seq)
	binary.BigEndian.PutUint64(b[20:28], uint64(h.SentNs))
	clear(b[28:32])
	return Len
}

// Append appends the encoded h to b.
func Append(b []byte, h Header) []byte {
	var tmp [Len]byte
	Put(tmp[:], h)
	return append(b, tmp[:]...)
}

// Decode reads the header at the start of p and returns it and the rest of
// the datagram (the text or padding). It returns ErrNotOurs when p does not
// start with Magic, and an error wrapping ErrMalformed when it does but the
// header is truncated, of an unknown version, or inconsistent.
func Decode(p []byte) (Header, []byte, error) {
	if len(p) < 4 || [4]byte(p[0:4]) != Magic {
		return Header{}, nil, ErrNotOurs
	}
	if len(p) < Len {
		return Header{}, nil, fmt.Errorf("%w: %d bytes, need %d", ErrMalformed, len(p), Len)
	}
	if p[4] != Version {
		return Header{}, nil, fmt.Errorf("%w: version %d, want %d", ErrMalformed, p[4], Version)
	}
	hl := int(p[6])
	if hl < Len || hl > len(p) {
		return Header{}, nil, fmt.Errorf("%w: header length %d in a %d-byte datagram", ErrMalformed, hl, len(p))
	}
	if p[5]&^FlagEnd != 0 {
		return Header{}, nil, fmt.Errorf("%w: unknown flags %#x", ErrMalformed, p[5])
	}
	h := Header{
		Flags:    p[5],
		TTL:      p[7],
		SenderID: binary.BigEndian.Uint32(p[8:12]),
		Seq:      binary.BigEndian.Uint64(p[12:20]),
		SentNs:   int64(binary.BigEndian.Uint64(p[20:28])),
	}
	if h.SentNs < 0 {
		return Header{}, nil, fmt.Errorf("%w: negative send time", ErrMalformed)
	}
	return h, p[hl:], nil
}
