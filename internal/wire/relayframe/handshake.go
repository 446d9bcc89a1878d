package relayframe

import (
	"encoding/binary"
	"fmt"
)

// Handshake message sizes (Noise_IK over X25519 with a 16-byte AEAD tag):
// an initiation is the ephemeral key (32), the encrypted static key
// (32+16) and the encrypted payload; a response the ephemeral key and the
// encrypted payload. The payload is the sender's session index (4 bytes),
// so that the index is authenticated by the handshake.
const (
	PayloadLen  = 4
	InitLen     = 32 + 32 + 16 + PayloadLen + 16
	ResponseLen = 32 + PayloadLen + 16
)

// AppendInit appends a handshake initiation frame carrying the Noise
// message msg (InitLen bytes) to dst.
func AppendInit(dst, msg []byte) []byte {
	dst = AppendHeader(dst, Header{Type: TypeInit})
	return append(dst, msg...)
}

// AppendResponse appends a handshake response frame to the initiator's
// session to, carrying the Noise message msg (ResponseLen bytes), to dst.
func AppendResponse(dst []byte, to uint32, msg []byte) []byte {
	dst = AppendHeader(dst, Header{Type: TypeResponse, Index: to})
	return append(dst, msg...)
}

// ParseHandshake checks the body of a handshake frame whose header was
// parsed as h and returns its Noise message.
func ParseHandshake(h Header, body []byte) ([]byte, error) {
	want := InitLen
	switch h.Type {
	case TypeInit:
		if h.Index != 0 || h.Seq != 0 {
			return nil, fmt.Errorf("initiation with index %d counter %d: %w", h.Index, h.Seq, ErrRecord)
		}
	case TypeResponse:
		want = ResponseLen
		if h.Index == 0 || h.Seq != 0 {
			return nil, fmt.Errorf("response with index %d counter %d: %w", h.Index, h.Seq, ErrRecord)
		}
	default:
		return nil, fmt.Errorf("type %d is not a handshake: %w", h.Type, ErrType)
	}
	if len(body) != want {
		return nil, fmt.Errorf("handshake message of %d bytes, want %d: %w", len(body), want, ErrShort)
	}
	return body, nil
}

// AppendPayload appends the handshake payload naming the sender's session
// index to dst.
func AppendPayload(dst []byte, index uint32) []byte {
	return binary.BigEndian.AppendUint32(dst, index)
}

// ParsePayload reads the sender's session index from a handshake payload.
func ParsePayload(b []byte) (uint32, error) {
	if len(b) != PayloadLen {
		return 0, fmt.Errorf("handshake payload of %d bytes: %w", len(b), ErrRecord)
	}
	i := binary.BigEndian.Uint32(b)
	if i == 0 {
		return 0, fmt.Errorf("handshake payload with index 0: %w", ErrRecord)
	}
	return i, nil
}
