// Package igmp decodes IGMPv1/v2/v3 (RFC 1112, 2236, 3376) and MLDv1/v2
// (RFC 2710, 3810) messages. The layers around them (Ethernet, IPv4, IPv6,
// UDP) are package packet's: Decode takes a decoded packet and adds the
// IGMP or MLD message it carries.
//
// Every function is pure: it takes bytes and returns values or an error, so a
// hostile packet is an error to count, never a panic.
package igmp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/mcasttools/mcast/internal/wire/packet"
	"net/netip"
	"time"
)

// Proto says whether a message is IGMP (IPv4) or MLD (IPv6).
type Proto string

// Protocols.
const (
	IGMP Proto = "igmp"
	MLD  Proto = "mld"
)

// Kind is what a message does.
type Kind string

// Message kinds.
const (
	Query  Kind = "query"  // membership query (general, group- or group-and-source-specific)
	Report Kind = "report" // membership report (v1/v2: one group; v3/MLDv2: records)
	Leave  Kind = "leave"  // IGMPv2 leave group, MLDv1 done
)

// RecordType is the type of a group record in an IGMPv3 or MLDv2 report.
type RecordType uint8

// Group record types (RFC 3376 section 4.2.12).
const (
	ModeIsInclude   RecordType = 1 // IS_IN: current state, include these sources
	ModeIsExclude   RecordType = 2 // IS_EX: current state, exclude these sources
	ChangeToInclude RecordType = 3 // TO_IN: filter changed to include (empty: leave)
	ChangeToExclude RecordType = 4 // TO_EX: filter changed to exclude (empty: join)
	AllowNewSources RecordType = 5 // ALLOW: sources added
	BlockOldSources RecordType = 6 // BLOCK: sources removed
)

// String returns the RFC's short name, such as "TO_EX".
func (t RecordType) String() string {
	switch t {
	case ModeIsInclude:
		return "IS_IN"
	case ModeIsExclude:
		return "IS_EX"
	case ChangeToInclude:
		return "TO_IN"
	case ChangeToExclude:
		return "TO_EX"
	case AllowNewSources:
		return "ALLOW"
	case BlockOldSources:
		return "BLOCK"
	}
	return fmt.Sprintf("TYPE_%d", uint8(t))
}

// Record is one group record of an IGMPv3 or MLDv2 report.
type Record struct {
	Type    RecordType
	Group   netip.Addr
	Sources []netip.Addr
}

// Message is a decoded IGMP or MLD message.
type Message struct {
	Proto   Proto
	Version int // IGMP 1, 2 or 3; MLD 1 or 2
	Kind    Kind
	// Group is the group of a v1/v2 report or leave, or of a
	// group-specific query; unspecified (0.0.0.0 or ::) in a general query.
	Group netip.Addr
	// MaxResp is a query's maximum response time (0 in IGMPv1).
	MaxResp time.Duration
	// SFlag, QRV and QQI are IGMPv3/MLDv2 query fields: suppress router-side
	// processing, robustness variable and the querier's query interval.
	SFlag bool
	QRV   int
	QQI   time.Duration
	// Sources are the sources of a group-and-source-specific query.
	Sources []netip.Addr
	// Records are the group records of an IGMPv3 or MLDv2 report.
	Records []Record
}

// General reports whether m is a general query (no group).
func (m Message) General() bool {
	return m.Kind == Query && (!m.Group.IsValid() || m.Group.IsUnspecified())
}

// Errors wrapped by the decoders, for counting drops by cause.
var (
	// ErrTruncated is packet.ErrTruncated: a message or a header cut short
	// counts as one cause.
	ErrTruncated = packet.ErrTruncated
	ErrChecksum  = errors.New("bad checksum")
	ErrType      = errors.New("unknown message type")
	// ErrHeaderChecksum is wrapped for an IGMP packet whose IPv4 header
	// checksum does not verify.
	ErrHeaderChecksum = errors.New("bad IPv4 header checksum")
	// ErrFragment is wrapped for an IGMP or MLD message in an IP fragment:
	// hosts send them whole, and the kernel reads none it did not
	// reassemble.
	ErrFragment = errors.New("fragmented")
	// ErrGroup is wrapped for a report, leave, record or group-specific
	// query whose group is not a multicast address (224.0.0.0/4, ff00::/8).
	ErrGroup = errors.New("not a multicast group")
	// ErrNoRecords is wrapped for an IGMPv3 or MLDv2 report without a
	// group record: it reports nothing.
	ErrNoRecords = errors.New("report without group records")
)

// causes are the errors Cause tells apart, most specific first.
var causes = []error{ErrHeaderChecksum, ErrFragment, ErrGroup, ErrNoRecords, ErrChecksum, ErrTruncated, ErrType}

// Cause returns which of the errors above err wraps (the cause a decoder
// refused a packet for), or nil for another error: one place that sorts
// refusals, for watch's counts and the relay's drop reasons alike.
func Cause(err error) error {
	for _, c := range causes {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

// checkGroup returns an error wrapping ErrGroup, naming what carried it,
// unless g is a multicast address, or unspecified where that is allowed (a
// general query).
func checkGroup(what string, g netip.Addr, unspecifiedOK bool) error {
	if g.IsMulticast() || (unspecifiedOK && g.IsUnspecified()) {
		return nil
	}
	return fmt.Errorf("%s for %s: %w", what, g, ErrGroup)
}

// IGMP message types.
const (
	typeQuery    = 0x11
	typeReportV1 = 0x12
	typeReportV2 = 0x16
	typeLeaveV2  = 0x17
	typeReportV3 = 0x22
)

// ParseIGMP decodes an IGMP message (the IPv4 payload), verifying its
// checksum.
func ParseIGMP(b []byte) (Message, error) {
	if len(b) < 8 {
		return Message{}, fmt.Errorf("IGMP message of %d bytes: %w", len(b), ErrTruncated)
	}
	if packet.Checksum(b, 0) != 0 {
		return Message{}, fmt.Errorf("IGMP type 0x%02x: %w", b[0], ErrChecksum)
	}
	m := Message{Proto: IGMP}
	group := netip.AddrFrom4([4]byte(b[4:8]))
	switch b[0] {
	case typeQuery:
		m.Kind = Query
		m.Group = group
		switch {
		case len(b) == 8 && b[1] == 0:
			m.Version = 1
		case len(b) == 8 || len(b) < 12:
			// RFC 3376 7.1: 9..11 byte queries are ignored; treat as v2.
			m.Version = 2
			m.MaxResp = time.Duration(b[1]) * 100 * time.Millisecond
		default:
			m.Version = 3
			m.MaxResp = time.Duration(expCode8(b[1])) * 100 * time.Millisecond
			m.SFlag = b[8]&0x08 != 0
			m.QRV = int(b[8] & 0x07)
			m.QQI = time.Duration(expCode8(b[9])) * time.Second
			n := int(binary.BigEndian.Uint16(b[10:12]))
			if len(b) < 12+4*n {
				return Message{}, fmt.Errorf("IGMPv3 query with %d sources in %d bytes: %w", n, len(b), ErrTruncated)
			}
			for i := 0; i < n; i++ {
				m.Sources = append(m.Sources, netip.AddrFrom4([4]byte(b[12+4*i:])))
			}
		}
	case typeReportV1:
		m.Kind, m.Version, m.Group = Report, 1, group
	case typeReportV2:
		m.Kind, m.Version, m.Group = Report, 2, group
	case typeLeaveV2:
		m.Kind, m.Version, m.Group = Leave, 2, group
	case typeReportV3:
		m.Kind, m.Version = Report, 3
		n := int(binary.BigEndian.Uint16(b[6:8]))
		recs, err := parseRecords(b[8:], n, 4)
		if err != nil {
			return Message{}, fmt.Errorf("IGMPv3 report: %w", err)
		}
		m.Records = recs
	default:
		return Message{}, fmt.Errorf("IGMP type 0x%02x: %w", b[0], ErrType)
	}
	if err := m.checkGroups(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// checkGroups verifies that every group a message names is a multicast
// group (a general query names none), and that a v3 report has records.
func (m *Message) checkGroups() error {
	name := protoVersion(m.Proto, m.Version)
	if m.Kind == Report && len(m.Records) == 0 && ((m.Proto == IGMP && m.Version == 3) || (m.Proto == MLD && m.Version == 2)) {
		return fmt.Errorf("%s report: %w", name, ErrNoRecords)
	}
	if len(m.Records) == 0 {
		return checkGroup(fmt.Sprintf("%s %s", name, m.Kind), m.Group, m.Kind == Query)
	}
	for i, r := range m.Records {
		if err := checkGroup(fmt.Sprintf("%s report record %d (%s)", name, i+1, r.Type), r.Group, false); err != nil {
			return err
		}
	}
	return nil
}

// protoVersion names a protocol and version as "IGMPv3" or "MLDv2".
func protoVersion(p Proto, v int) string {
	if p == MLD {
		return fmt.Sprintf("MLDv%d", v)
	}
	return fmt.Sprintf("IGMPv%d", v)
}

// MLD (ICMPv6) message types.
const (
	typeMLDQuery    = 130
	typeMLDReportV1 = 131
	typeMLDDoneV1   = 132
	typeMLDReportV2 = 143
)

// IsMLDType reports whether an ICMPv6 type is an MLD message.
func IsMLDType(t byte) bool {
	return t == typeMLDQuery || t == typeMLDReportV1 || t == typeMLDDoneV1 || t == typeMLDReportV2
}

// ParseMLD decodes an MLD message (the ICMPv6 message, starting at its type
// byte). The ICMPv6 checksum covers an IPv6 pseudo-header, so ParseMLD does
// not verify it: Decode does.
func ParseMLD(b []byte) (Message, error) {
	if len(b) < 8 {
		return Message{}, fmt.Errorf("MLD message of %d bytes: %w", len(b), ErrTruncated)
	}
	m := Message{Proto: MLD}
	switch b[0] {
	case typeMLDQuery, typeMLDReportV1, typeMLDDoneV1:
		if len(b) < 24 {
			return Message{}, fmt.Errorf("MLD type %d of %d bytes: %w", b[0], len(b), ErrTruncated)
		}
		m.Group = netip.AddrFrom16([16]byte(b[8:24]))
		code := binary.BigEndian.Uint16(b[4:6])
		switch b[0] {
		case typeMLDReportV1:
			m.Kind, m.Version = Report, 1
		case typeMLDDoneV1:
			m.Kind, m.Version = Leave, 1
		default:
			m.Kind = Query
			if len(b) < 28 {
				m.Version = 1
				m.MaxResp = time.Duration(code) * time.Millisecond
				break
			}
			m.Version = 2
			m.MaxResp = time.Duration(expCode16(code)) * time.Millisecond
			m.SFlag = b[24]&0x08 != 0
			m.QRV = int(b[24] & 0x07)
			m.QQI = time.Duration(expCode8(b[25])) * time.Second
			n := int(binary.BigEndian.Uint16(b[26:28]))
			if len(b) < 28+16*n {
				return Message{}, fmt.Errorf("MLDv2 query with %d sources in %d bytes: %w", n, len(b), ErrTruncated)
			}
			for i := 0; i < n; i++ {
				m.Sources = append(m.Sources, netip.AddrFrom16([16]byte(b[28+16*i:])))
			}
		}
	case typeMLDReportV2:
		m.Kind, m.Version = Report, 2
		n := int(binary.BigEndian.Uint16(b[6:8]))
		recs, err := parseRecords(b[8:], n, 16)
		if err != nil {
			return Message{}, fmt.Errorf("MLDv2 report: %w", err)
		}
		m.Records = recs
	default:
		return Message{}, fmt.Errorf("ICMPv6 type %d: %w", b[0], ErrType)
	}
	if err := m.checkGroups(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// parseRecords decodes n group records with addresses of alen bytes.
func parseRecords(b []byte, n, alen int) ([]Record, error) {
	// Each record is at least 4+alen bytes: a count beyond that is a lie.
	if n > len(b)/(4+alen) {
		return nil, fmt.Errorf("%d records in %d bytes: %w", n, len(b), ErrTruncated)
	}
	recs := make([]Record, 0, n)
	for i := 0; i < n; i++ {
		if len(b) < 4+alen {
			return nil, fmt.Errorf("record %d: %w", i+1, ErrTruncated)
		}
		typ, aux, ns := RecordType(b[0]), int(b[1])*4, int(binary.BigEndian.Uint16(b[2:4]))
		need := 4 + alen + ns*alen + aux
		if len(b) < need {
			return nil, fmt.Errorf("record %d with %d sources: %w", i+1, ns, ErrTruncated)
		}
		r := Record{Type: typ, Group: addrFrom(b[4 : 4+alen])}
		if ns > 0 {
			r.Sources = make([]netip.Addr, ns)
			for j := range ns {
				off := 4 + alen + j*alen
				r.Sources[j] = addrFrom(b[off : off+alen])
			}
		}
		recs = append(recs, r)
		b = b[need:]
	}
	return recs, nil
}

func addrFrom(b []byte) netip.Addr {
	if len(b) == 4 {
		return netip.AddrFrom4([4]byte(b))
	}
	return netip.AddrFrom16([16]byte(b))
}

// expCode8 decodes an 8-bit IGMPv3/MLDv2 exponential code (Max Resp Code in
// IGMPv3, QQIC in both): values of 128 and above are a 3-bit exponent and a
// 4-bit mantissa.
func expCode8(c byte) int {
	if c < 128 {
		return int(c)
	}
	mant, exp := int(c&0x0f), int(c>>4&0x07)
	return (mant | 0x10) << (exp + 3)
}

// expCode16 decodes the 16-bit MLDv2 Maximum Response Code (RFC 3810 5.1.3).
func expCode16(c uint16) int {
	if c < 32768 {
		return int(c)
	}
	mant, exp := int(c&0x0fff), int(c>>12&0x07)
	return (mant | 0x1000) << (exp + 3)
}
