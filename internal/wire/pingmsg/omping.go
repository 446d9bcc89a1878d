package pingmsg

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// omping message types (the first byte).
const (
	TypeInit     = 'I'
	TypeResponse = 'S'
	TypeQuery    = 'Q'
	TypeAnswer   = 'A'
)

// omping TLV option types (omping 0.0.5 tlv.h). 7 and 8 are reserved.
const (
	OptVersion      = 0
	OptClientID     = 1
	OptSeq          = 2
	OptClientTime   = 3
	OptMcastGroup   = 4
	OptRequest      = 5
	OptServerInfo   = 6
	OptTTL          = 9
	OptMcastPrefix  = 10
	OptSessionID    = 11
	OptServerTime   = 12
	OptMcastCaps    = 0x4d43 // mcast extension: "speaks mcast ping views"; omping ignores it
	OptMcastView    = 0x4d44 // mcast extension: the sender's per-peer counts; omping ignores it
	ProtocolVersion = 2      // omping's PROTOCOL_VERSION
)

// Lengths omping uses for its identifiers.
const (
	ClientIDLen  = 24 // 4 bytes pid + 16 bytes address + 4 random
	SessionIDLen = 16 // 4 bytes pid + 12 random
)

// IANA address families as omping and ssmping write them.
const (
	afIPv4 = 1
	afIPv6 = 2
)

// CapsValue is the value of the OptMcastCaps TLV.
const CapsValue = "mcast-ping/1"

// MaxViewEntries bounds the entries of a view TLV; a longer view is ignored.
const MaxViewEntries = 256

// Message is a decoded omping message. Fields whose TLV was absent (or
// malformed, as omping treats it) are zero, with Has* false.
type Message struct {
	Type          byte
	Version       int // -1 when absent
	ClientID      []byte
	Seq           uint32
	HasSeq        bool
	ClientTime    time.Time // zero when absent
	Group         netip.Addr
	Prefix        netip.Prefix
	HasPrefix     bool
	ReqServerInfo bool
	ReqServerTime bool
	ServerInfo    []byte
	TTL           uint8
	HasTTL        bool
	SessionID     []byte
	ServerTime    time.Time
	Caps          bool
	View          []ViewEntry
	HasView       bool
	Skipped       int // TLVs ignored: unknown types or bad lengths
}

// ViewEntry is what one host measured toward one peer, carried in the mcast
// extension so every host can draw the whole matrix: queries sent, answers
// received by unicast and by multicast, and the first multicast sequence.
type ViewEntry struct {
	Peer       netip.Addr
	Sent       uint32
	UniRecv    uint32
	MultiRecv  uint32
	MultiFirst uint32 // 0: no multicast answer yet
}

// Decode decodes an omping message. It fails (wrapping ErrMalformed) when
// the datagram is empty, a TLV does not fit, or there is no Version TLV;
// TLVs of unknown type or bad length are skipped and counted, as omping does.
func Decode(b []byte) (Message, error) {
	m := Message{Version: -1}
	if len(b) < 1 {
		return m, fmt.Errorf("%w: empty datagram", ErrMalformed)
	}
	m.Type = b[0]
	tlvs, err := ParseTLVs(b[1:])
	if err != nil {
		return m, err
	}
	for _, t := range tlvs {
		v := t.Value
		ok := true
		switch t.Type {
		case OptVersion:
			ok = len(v) == 1
			if ok {
				m.Version = int(v[0])
			}
		case OptClientID:
			ok = len(v) > 0
			m.ClientID = v
		case OptSeq:
			ok = len(v) == 4
			if ok {
				m.Seq, m.HasSeq = binary.BigEndian.Uint32(v), true
			}
		case OptClientTime:
			m.ClientTime, ok = decodeTime(v)
		case OptServerTime:
			m.ServerTime, ok = decodeTime(v)
		case OptMcastGroup:
			m.Group, ok = decodeAddr(v)
		case OptRequest:
			ok = len(v) >= 2 && len(v)%2 == 0
			for i := 0; ok && i < len(v); i += 2 {
				switch binary.BigEndian.Uint16(v[i:]) {
				case OptServerInfo:
					m.ReqServerInfo = true
				case OptServerTime:
					m.ReqServerTime = true
				}
			}
		case OptServerInfo:
			ok = len(v) > 0
			m.ServerInfo = v
		case OptTTL:
			ok = len(v) == 1
			if ok {
				m.TTL, m.HasTTL = v[0], true
			}
		case OptMcastPrefix:
			m.Prefix, ok = decodePrefix(v)
			m.HasPrefix = m.HasPrefix || ok
		case OptSessionID:
			ok = len(v) > 0
			m.SessionID = v
		case OptMcastCaps:
			m.Caps = string(v) == CapsValue
			ok = m.Caps
		case OptMcastView:
			m.View, ok = decodeView(v)
			m.HasView = ok
		default:
			ok = false
		}
		if !ok {
			m.Skipped++
		}
	}
	if m.Version < 0 {
		return m, fmt.Errorf("%w: no version TLV", ErrMalformed)
	}
	return m, nil
}

func decodeTime(v []byte) (time.Time, bool) {
	if len(v) != 8 {
		return time.Time{}, false
	}
	sec := binary.BigEndian.Uint32(v)
	usec := binary.BigEndian.Uint32(v[4:])
	if usec >= 1e6 {
		return time.Time{}, false
	}
	return time.Unix(int64(sec), int64(usec)*1000), true
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(t.Unix()))
	return binary.BigEndian.AppendUint32(b, uint32(t.Nanosecond()/1000))
}

// decodeAddr reads a 2-byte IANA family and a full address (omping's
// Multicast Group TLV).
func decodeAddr(v []byte) (netip.Addr, bool) {
	if len(v) < 2 {
		return netip.Addr{}, false
	}
	switch af := binary.BigEndian.Uint16(v); {
	case af == afIPv4 && len(v) == 6:
		return netip.AddrFrom4([4]byte(v[2:6])), true
	case af == afIPv6 && len(v) == 18:
		return netip.AddrFrom16([16]byte(v[2:18])), true
	}
	return netip.Addr{}, false
}

func appendAddr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		b = binary.BigEndian.AppendUint16(b, afIPv4)
	} else {
		b = binary.BigEndian.AppendUint16(b, afIPv6)
	}
	return append(b, a.AsSlice()...)
}

// decodePrefix reads omping's Multicast Prefix TLV: family, prefix length,
// then at least the bytes the prefix length covers.
func decodePrefix(v []byte) (netip.Prefix, bool) {
	if len(v) < 3 {
		return netip.Prefix{}, false
	}
	af, bits := binary.BigEndian.Uint16(v), int(v[2])
	var full [16]byte
	size := 4
	if af == afIPv6 {
		size = 16
	} else if af != afIPv4 {
		return netip.Prefix{}, false
	}
	need := (bits + 7) / 8
	if bits > size*8 || len(v)-3 < need || len(v)-3 > size {
		return netip.Prefix{}, false
	}
	copy(full[:], v[3:])
	var a netip.Addr
	if size == 4 {
		a = netip.AddrFrom4([4]byte(full[:4]))
	} else {
		a = netip.AddrFrom16(full)
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p, true
}

func decodeView(v []byte) ([]ViewEntry, bool) {
	var out []ViewEntry
	for off := 0; off < len(v); {
		size := 4
		switch v[off] {
		case afIPv4:
		case afIPv6:
			size = 16
		default:
			return nil, false
		}
		if len(v)-off < 1+size+16 || len(out) == MaxViewEntries {
			return nil, false
		}
		e := ViewEntry{}
		if size == 4 {
			e.Peer = netip.AddrFrom4([4]byte(v[off+1 : off+5]))
		} else {
			e.Peer = netip.AddrFrom16([16]byte(v[off+1 : off+17]))
		}
		p := v[off+1+size:]
		e.Sent = binary.BigEndian.Uint32(p)
		e.UniRecv = binary.BigEndian.Uint32(p[4:])
		e.MultiRecv = binary.BigEndian.Uint32(p[8:])
		e.MultiFirst = binary.BigEndian.Uint32(p[12:])
		if e.UniRecv > e.Sent || e.MultiRecv > e.Sent || e.MultiFirst > e.Sent {
			return nil, false // counts that cannot be: hostile or broken
		}
		out = append(out, e)
		off += 1 + size + 16
	}
	return out, true
}

// AppendView appends an OptMcastView TLV carrying entries (at most
// MaxViewEntries; the rest are left out).
func AppendView(b []byte, entries []ViewEntry) []byte {
	if len(entries) > MaxViewEntries {
		entries = entries[:MaxViewEntries]
	}
	var v []byte
	for _, e := range entries {
		if e.Peer.Is4() {
			v = append(v, afIPv4)
		} else {
			v = append(v, afIPv6)
		}
		v = append(v, e.Peer.AsSlice()...)
		v = binary.BigEndian.AppendUint32(v, e.Sent)
		v = binary.BigEndian.AppendUint32(v, e.UniRecv)
		v = binary.BigEndian.AppendUint32(v, e.MultiRecv)
		v = binary.BigEndian.AppendUint32(v, e.MultiFirst)
	}
	return AppendTLV(b, OptMcastView, v)
}

func appendVersion(b []byte) []byte { return AppendTLV(b, OptVersion, []byte{ProtocolVersion}) }

// AppendInit appends an Init message as omping's msg_init_create writes it:
// Version, Client ID, an Option Request for Server Information when
// reqServerInfo, and the group as a full-length Multicast Prefix. When caps
// is set the mcast extension TLV follows (omping ignores it).
func AppendInit(b []byte, clientID []byte, group netip.Addr, reqServerInfo, caps bool) []byte {
	b = append(b, TypeInit)
	b = appendVersion(b)
	b = AppendTLV(b, OptClientID, clientID)
	if reqServerInfo {
		b = AppendTLV(b, OptRequest, []byte{0, OptServerInfo})
	}
	v := appendAddr(nil, group)
	// family, prefix length, address
	pv := append(append(v[:2:2], byte(group.BitLen())), v[2:]...)
	b = AppendTLV(b, OptMcastPrefix, pv)
	if caps {
		b = AppendTLV(b, OptMcastCaps, []byte(CapsValue))
	}
	return b
}

// Response is what a server puts in a Response message.
type Response struct {
	ClientID   []byte     // copied from the Init
	Seq        uint32     // copied from the Init when HasSeq
	HasSeq     bool       //
	Group      netip.Addr // the group to use; zero in a "stop" response
	ServerInfo string     // when the Init asked for it
	Prefix     netip.Addr // group to send as a Multicast Prefix (the "wrong prefix" reply); zero for none
	SessionID  []byte     // nil in a "stop" response
	Caps       bool       // add the mcast extension TLV
}

// AppendResponse appends a Response as omping's msg_response_create does.
// A response without Group and SessionID tells the client to stop.
func AppendResponse(b []byte, r Response) []byte {
	b = append(b, TypeResponse)
	b = appendVersion(b)
	if r.ClientID != nil {
		b = AppendTLV(b, OptClientID, r.ClientID)
	}
	if r.HasSeq {
		b = AppendTLV(b, OptSeq, binary.BigEndian.AppendUint32(nil, r.Seq))
	}
	if r.Group.IsValid() {
		b = AppendTLV(b, OptMcastGroup, appendAddr(nil, r.Group))
	}
	if r.ServerInfo != "" {
		b = AppendTLV(b, OptServerInfo, []byte(r.ServerInfo))
	}
	if r.Prefix.IsValid() {
		v := appendAddr(nil, r.Prefix)
		b = AppendTLV(b, OptMcastPrefix, append(append(v[:2:2], byte(r.Prefix.BitLen())), v[2:]...))
	}
	if r.SessionID != nil {
		b = AppendTLV(b, OptSessionID, r.SessionID)
	}
	if r.Caps {
		b = AppendTLV(b, OptMcastCaps, []byte(CapsValue))
	}
	return b
}

// Query is what a client puts in a Query message.
type Query struct {
	ClientID      []byte
	Seq           uint32
	Time          time.Time
	Group         netip.Addr
	ReqServerTime bool
	SessionID     []byte
	View          []ViewEntry // sent only to servers that speak the extension
	HasView       bool
}

// AppendQuery appends a Query as omping's msg_query_create does: Version,
// Client ID, Sequence Number, Client Timestamp, Multicast Group, an Option
// Request for the Server Timestamp when asked, Session ID; then the view.
func AppendQuery(b []byte, q Query) []byte {
	b = append(b, TypeQuery)
	b = appendVersion(b)
	if q.ClientID != nil {
		b = AppendTLV(b, OptClientID, q.ClientID)
	}
	b = AppendTLV(b, OptSeq, binary.BigEndian.AppendUint32(nil, q.Seq))
	b = AppendTLV(b, OptClientTime, appendTime(nil, q.Time))
	b = AppendTLV(b, OptMcastGroup, appendAddr(nil, q.Group))
	if q.ReqServerTime {
		b = AppendTLV(b, OptRequest, []byte{0, OptServerTime})
	}
	b = AppendTLV(b, OptSessionID, q.SessionID)
	if q.HasView {
		b = AppendView(b, q.View)
	}
	return b
}

// AppendAnswer appends the Answer to query (a whole Query datagram, already
// checked with Decode) as omping's msg_answer_create does: every TLV of the
// query in order except Server Information, Multicast Prefix, Session ID,
// TTL, Server Timestamp (and the mcast view), then TTL, then the Server
// Timestamp when the query asked for it (at now). When view is not nil the
// answering host's view follows.
func AppendAnswer(b []byte, query []byte, ttl uint8, now time.Time, view []ViewEntry) ([]byte, error) {
	if len(query) < 1 {
		return b, fmt.Errorf("%w: empty query", ErrMalformed)
	}
	tlvs, err := ParseTLVs(query[1:])
	if err != nil {
		return b, err
	}
	b = append(b, TypeAnswer)
	reqTime := false
	for _, t := range tlvs {
		switch t.Type {
		case OptServerInfo, OptMcastPrefix, OptSessionID, OptTTL, OptServerTime, OptMcastView:
			continue
		case OptRequest:
			for i := 0; i+1 < len(t.Value) && len(t.Value)%2 == 0; i += 2 {
				reqTime = reqTime || binary.BigEndian.Uint16(t.Value[i:]) == OptServerTime
			}
		}
		b = AppendTLV(b, t.Type, t.Value)
	}
	b = AppendTLV(b, OptTTL, []byte{ttl})
	if reqTime {
		b = AppendTLV(b, OptServerTime, appendTime(nil, now))
	}
	if view != nil {
		b = AppendView(b, view)
	}
	return b, nil
}
