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

// MACLen is the length of each of the two MACs that end a handshake body:
// mac1 over the Noise message, keyed by the receiver's public key; mac2
// over the Noise message and mac1, keyed by a cookie the receiver gave
// the sender, or zero.
const MACLen = 16

// Cookie reply sizes: a 24-byte nonce, then the 16-byte cookie sealed
// with a 16-byte tag.
const (
	CookieNonceLen = 24
	CookieLen      = 16
	CookieReplyLen = CookieNonceLen + CookieLen + 16
)

// Handshake is the body of a handshake frame: the Noise message and the
// MACs that follow it. Its slices point into the body it was parsed from.
type Handshake struct {
	Msg  []byte // the Noise message
	MAC1 []byte // MACLen bytes, over Msg
	MAC2 []byte // MACLen bytes, over Msg and MAC1; all zero without a cookie
	// Signed is Msg followed by MAC1 (what MAC2 covers).
	Signed []byte
}

// AppendInit appends the header and Noise message msg (InitLen bytes) of
// a handshake initiation frame to dst. The frame is complete once its two
// MACs are appended (crypto.AppendMACs).
func AppendInit(dst, msg []byte) []byte {
	dst = AppendHeader(dst, Header{Type: TypeInit})
	return append(dst, msg...)
}

// AppendResponse appends the header and Noise message msg (ResponseLen
// bytes) of a handshake response frame to the initiator's session to.
// The frame is complete once its two MACs are appended.
func AppendResponse(dst []byte, to uint32, msg []byte) []byte {
	dst = AppendHeader(dst, Header{Type: TypeResponse, Index: to})
	return append(dst, msg...)
}

// ParseHandshake checks the body of a handshake frame whose header was
// parsed as h and splits it into its Noise message and MACs.
func ParseHandshake(h Header, body []byte) (Handshake, error) {
	want := InitLen
	switch h.Type {
	case TypeInit:
		if h.Index != 0 || h.Seq != 0 {
			return Handshake{}, fmt.Errorf("initiation with index %d counter %d: %w", h.Index, h.Seq, ErrRecord)
		}
	case TypeResponse:
		want = ResponseLen
		if h.Index == 0 || h.Seq != 0 {
			return Handshake{}, fmt.Errorf("response with index %d counter %d: %w", h.Index, h.Seq, ErrRecord)
		}
	default:
		return Handshake{}, fmt.Errorf("type %d is not a handshake: %w", h.Type, ErrType)
	}
	if len(body) != want+2*MACLen {
		return Handshake{}, fmt.Errorf("handshake body of %d bytes, want %d: %w", len(body), want+2*MACLen, ErrShort)
	}
	return Handshake{Msg: body[:want], MAC1: body[want : want+MACLen], MAC2: body[want+MACLen:], Signed: body[:want+MACLen]}, nil
}

// AppendCookieReply appends a cookie reply frame: the nonce and the
// sealed cookie (CookieLen+16 bytes). Its index and counter are 0 (the
// initiator's session index travels encrypted in its initiation, so the
// responder cannot name it): the initiator matches the reply to the
// initiation it has pending with the replying address.
func AppendCookieReply(dst []byte, nonce, sealed []byte) []byte {
	dst = AppendHeader(dst, Header{Type: TypeCookie})
	dst = append(dst, nonce...)
	return append(dst, sealed...)
}

// ParseCookieReply checks the body of a TypeCookie frame whose header was
// parsed as h and returns its nonce and sealed cookie.
func ParseCookieReply(h Header, body []byte) (nonce, sealed []byte, err error) {
	if h.Type != TypeCookie {
		return nil, nil, fmt.Errorf("type %d is not a cookie reply: %w", h.Type, ErrType)
	}
	if h.Index != 0 || h.Seq != 0 {
		return nil, nil, fmt.Errorf("cookie reply with index %d counter %d: %w", h.Index, h.Seq, ErrRecord)
	}
	if len(body) != CookieReplyLen {
		return nil, nil, fmt.Errorf("cookie reply of %d bytes, want %d: %w", len(body), CookieReplyLen, ErrShort)
	}
	return body[:CookieNonceLen], body[CookieNonceLen:], nil
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
