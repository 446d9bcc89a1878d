package pingmsg

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// ssmping message types and TLV types (ssmping 0.9.1 ssmping.h,
// draft-ietf-mboned-ssmping).
const (
	SSMRequest = 'Q'
	SSMReply   = 'A'

	SSMOptPID       = 1
	SSMOptSeq       = 2
	SSMOptTimestamp = 3
	SSMOptGroup     = 4
	SSMOptReqVer    = 5
	SSMOptVersion   = 6
	SSMOptReplySize = 7
	SSMOptPad       = 8
)

// MaxReplySize is the largest reply an ssmping client may ask for with the
// Reply Size TLV; larger requests are answered at natural size, so that the
// responder cannot be used to amplify traffic.
const MaxReplySize = 1472

// SSMMessage is a decoded ssmping request or reply.
type SSMMessage struct {
	Type       byte
	PID        uint32
	HasPID     bool
	Seq        uint32
	HasSeq     bool
	Time       time.Time // zero when absent
	Group      netip.Addr
	ReqVersion bool
	ReplySize  uint16
	Version    []byte
}

// DecodeSSM decodes an ssmping request or reply. Like ssmpingd and the
// ssmping client it rejects a message whose known TLVs have the wrong
// length, and a Group TLV of an unknown family.
func DecodeSSM(b []byte) (SSMMessage, error) {
	var m SSMMessage
	if len(b) < 1 {
		return m, fmt.Errorf("%w: empty datagram", ErrMalformed)
	}
	m.Type = b[0]
	if m.Type != SSMRequest && m.Type != SSMReply {
		return m, fmt.Errorf("%w: ssmping type %#x", ErrMalformed, m.Type)
	}
	tlvs, err := ParseTLVs(b[1:])
	if err != nil {
		return m, err
	}
	for _, t := range tlvs {
		v := t.Value
		bad := false
		switch t.Type {
		case SSMOptPID:
			bad = len(v) != 4
			if !bad {
				m.PID, m.HasPID = binary.BigEndian.Uint32(v), true
			}
		case SSMOptSeq:
			bad = len(v) != 4
			if !bad {
				m.Seq, m.HasSeq = binary.BigEndian.Uint32(v), true
			}
		case SSMOptTimestamp:
			var ok bool
			m.Time, ok = decodeTime(v)
			bad = !ok
		case SSMOptGroup:
			switch {
			case len(v) == 5 && v[0] == afIPv4:
				m.Group = netip.AddrFrom4([4]byte(v[1:5]))
			case len(v) == 17 && v[0] == afIPv6:
				m.Group = netip.AddrFrom16([16]byte(v[1:17]))
			default:
				bad = true
			}
		case SSMOptReqVer:
			m.ReqVersion = true
		case SSMOptReplySize:
			bad = len(v) != 2
			if !bad {
				m.ReplySize = binary.BigEndian.Uint16(v)
			}
		case SSMOptVersion:
			bad = len(v) == 0
			m.Version = v
		}
		if bad {
			return m, fmt.Errorf("%w: ssmping TLV type %d with %d bytes", ErrMalformed, t.Type, len(v))
		}
	}
	return m, nil
}

// SSMQuery is what an ssmping client puts in a request.
type SSMQuery struct {
	PID        uint32
	Seq        uint32
	Time       time.Time
	ReqVersion bool
	ReplySize  uint16
	Group      netip.Addr // zero: leave the Group TLV out (server uses its default)
}

// AppendSSMQuery appends a request as ssmping's initsendbuf writes it: PID,
// Sequence, Timestamp, [Request Version], [Reply Size], Group.
func AppendSSMQuery(b []byte, q SSMQuery) []byte {
	b = append(b, SSMRequest)
	b = AppendTLV(b, SSMOptPID, binary.BigEndian.AppendUint32(nil, q.PID))
	b = AppendTLV(b, SSMOptSeq, binary.BigEndian.AppendUint32(nil, q.Seq))
	b = AppendTLV(b, SSMOptTimestamp, appendTime(nil, q.Time))
	if q.ReqVersion {
		b = AppendTLV(b, SSMOptReqVer, nil)
	}
	if q.ReplySize != 0 {
		b = AppendTLV(b, SSMOptReplySize, binary.BigEndian.AppendUint16(nil, q.ReplySize))
	}
	if q.Group.IsValid() {
		v := []byte{afIPv4}
		if q.Group.Is6() {
			v[0] = afIPv6
		}
		b = AppendTLV(b, SSMOptGroup, append(v, q.Group.AsSlice()...))
	}
	return b
}

// AppendSSMReply appends ssmpingd's reply to request (a whole datagram that
// DecodeSSM accepted as decoded m): type 'A', the request's TLVs as they
// were, the server version when asked for, then zero padding up to the
// requested reply size when that is at most MaxReplySize.
func AppendSSMReply(b []byte, request []byte, m SSMMessage, version string) []byte {
	start := len(b)
	b = append(b, SSMReply)
	b = append(b, request[1:]...)
	if m.ReqVersion && version != "" {
		b = AppendTLV(b, SSMOptVersion, []byte(version))
	}
	if size := int(m.ReplySize); size != 0 && size <= MaxReplySize && len(b)-start+4 <= size {
		b = AppendTLV(b, SSMOptPad, make([]byte, size-(len(b)-start)-4))
	}
	return b
}

// SSMGroupOK reports whether ssmpingd would answer on group: the IPv4
// group's last byte must be 234, an IPv6 group must end in 4321:1234.
// This keeps a responder from being aimed at arbitrary groups.
func SSMGroupOK(g netip.Addr) bool {
	if g.Is4() {
		return g.As4()[3] == 234
	}
	b := g.As16()
	return g.Is6() && b[12] == 0x43 && b[13] == 0x21 && b[14] == 0x12 && b[15] == 0x34
}

// SSMDefaultGroup is ssmpingd's group when a request names none.
func SSMDefaultGroup(v6 bool) netip.Addr {
	if v6 {
		return netip.MustParseAddr("ff3e::4321:1234")
	}
	return netip.MustParseAddr("232.43.211.234")
}
