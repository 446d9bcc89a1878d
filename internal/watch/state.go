// Package watch turns captured IGMP, MLD and multicast UDP packets into
// events (joins, leaves, reports, queries, first datagrams) and keeps the
// state of each segment to warn about what breaks multicast: no querier, two
// queriers, IGMP/MLD version mismatches and datagrams for groups nobody on
// this host joined.
//
// State is pure: it takes decoded packets with their capture time and the
// host's joined groups as values. The live capture is package
// internal/sock/capture's (OpenCapture); decoding is wire/packet's and
// wire/igmp's.
package watch

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/wire/igmp"
)

// Event kinds.
const (
	KindStart  = "start"  // the live capture is open (JSON output only)
	KindJoin   = "join"   // a host joined a group (or added sources to an include filter)
	KindLeave  = "leave"  // a host left a group
	KindReport = "report" // a report that changes nothing we know of (an answer to a query)
	KindQuery  = "query"  // a membership query
	KindData   = "data"   // the first datagram of a (group, source) flow
	// KindRate (rate.go) is the periodic data rate of a group.
	KindWarning = "warning" // segment state worth knowing (see Warning codes)
)

// Warning codes.
const (
	WarnNoQuerier       = "no_querier"
	WarnTwoQueriers     = "two_queriers"
	WarnVersionMismatch = "version_mismatch"
	WarnUnjoinedData    = "unjoined_data"
	WarnCaptureDrops    = "capture_drops"
)

// Event is one line of watch output. Field names are the stable JSON
// schema documented in docs/json.md and docs/schema/watch-event.json.
type Event struct {
	Time    time.Time    `json:"time"`
	Schema  string       `json:"schema"` // the contract version; the encoder fills it
	Iface   string       `json:"iface,omitempty"`
	Kind    string       `json:"type"`
	Proto   string       `json:"proto,omitempty"`   // igmp, mld or udp
	Version int          `json:"version,omitempty"` // IGMP 1-3, MLD 1-2
	Host    netip.Addr   `json:"source,omitzero"`   // sender: reporter, querier or data source
	Group   netip.Addr   `json:"group,omitzero"`    // group (unset for a general query)
	Record  string       `json:"record,omitempty"`  // IGMPv3/MLDv2 record type: IS_IN, IS_EX, TO_IN, TO_EX, ALLOW, BLOCK
	Sources []netip.Addr `json:"sources,omitempty"` // record or query sources
	// Query fields.
	MaxRespSec float64 `json:"max_resp_seconds,omitempty"`
	QQISec     float64 `json:"qqi_seconds,omitempty"`
	QRV        int     `json:"qrv,omitempty"`
	// Data fields (bytes: the datagram's UDP payload; in a rate event, the
	// payload bytes of the interval).
	SrcPort uint16 `json:"source_port,omitempty"`
	DstPort uint16 `json:"port,omitempty"`
	Bytes   int    `json:"bytes,omitempty"`
	// Rate fields: the interval the rate is taken over, the datagrams in
	// it, datagrams/s, payload bit/s and each sender's share.
	IntervalSec float64  `json:"interval_seconds,omitempty"`
	Packets     int      `json:"packets,omitempty"`
	PPS         float64  `json:"rate_pps,omitempty"`
	BPS         float64  `json:"rate_bps,omitempty"`
	Senders     []Sender `json:"senders,omitempty"`
	// Warning is the code of a warning event.
	Warning string `json:"warning,omitempty"`
	// Text is the human-readable line (without time and interface).
	Text string `json:"text"`
}

// Config tunes the segment state.
type Config struct {
	// QueryInterval is how long a segment may go without a query before
	// watch warns that there is no querier (RFC 3376 default: 125s).
	QueryInterval time.Duration
	// Group, when valid, limits events to that group (general queries and
	// warnings are still shown).
	Group netip.Addr
	// ReportInterval is how often Report closes an interval of per-group
	// data rates; 0 turns rate reports off.
	ReportInterval time.Duration
}

// DefaultQueryInterval is the IGMP/MLD default query interval.
const DefaultQueryInterval = 125 * time.Second

// Packet is one decoded capture with where and when it was seen.
type Packet struct {
	Time  time.Time
	Iface string
	// Outgoing is set for packets this host sent (a Linux cooked
	// capture's packet type 4).
	Outgoing bool
	igmp.Packet
}

type family int

const (
	famIGMP family = iota
	famMLD
)

func (f family) String() string {
	if f == famMLD {
		return "MLD"
	}
	return "IGMP"
}

type memberKey struct {
	host, group netip.Addr
}

type membership struct {
	exclude bool
	sources map[netip.Addr]bool
}

type querier struct {
	version int
	last    time.Time
}

// segment is the state of one interface's link.
type segment struct {
	started       [2]time.Time
	lastQuery     [2]time.Time
	warnedNoQ     [2]bool
	listeners     [2]bool // a report of this family was seen
	queriers      [2]map[netip.Addr]*querier
	warnedPairs   map[string]bool
	warnedVersion map[string]bool
	members       map[memberKey]*membership
	left          map[memberKey]bool // left during the capture: a repeated leave is a report
	data          map[netip.Addr]*GroupStats
	win           map[netip.Addr]*window
	warnedData    map[netip.Addr]bool
}

// State is the per-segment state of a watch. It is not safe for concurrent
// use.
type State struct {
	cfg      Config
	segs     map[string]*segment
	joined   map[string]map[netip.Addr]bool
	haveJoin bool
	drops    map[string]int
	// captureDrops is the capture's own drop count, and when it last grew.
	captureDrops     uint64
	captureDropsSeen time.Time
	// reportStart is the start of the current rate report interval.
	reportStart time.Time
}

// NewState returns an empty State.
func NewState(cfg Config) *State {
	if cfg.QueryInterval <= 0 {
		cfg.QueryInterval = DefaultQueryInterval
	}
	return &State{cfg: cfg, segs: map[string]*segment{}, drops: map[string]int{}}
}

// SetJoined tells the state which groups sockets on this host joined, per
// interface name (from /proc/net/igmp and igmp6). Until it is called,
// datagrams are not checked against local joins (offline reading).
func (s *State) SetJoined(joined map[string]map[netip.Addr]bool) {
	s.joined, s.haveJoin = joined, true
}

func (s *State) seg(iface string, t time.Time) *segment {
	g := s.segs[iface]
	if g == nil {
		g = &segment{
			started:       [2]time.Time{t, t},
			queriers:      [2]map[netip.Addr]*querier{{}, {}},
			warnedPairs:   map[string]bool{},
			warnedVersion: map[string]bool{},
			members:       map[memberKey]*membership{},
			left:          map[memberKey]bool{},
			data:          map[netip.Addr]*GroupStats{},
			win:           map[netip.Addr]*window{},
			warnedData:    map[netip.Addr]bool{},
		}
		s.segs[iface] = g
	}
	return g
}

// Drop counts a packet that could not be decoded, or that no host sends
// (igmp.Decode's rejections), by cause.
func (s *State) Drop(err error) {
	cause, ok := dropCauses[igmp.Cause(err)]
	if !ok {
		cause = "malformed"
	}
	s.drops[cause]++
}

// dropCauses name igmp.Cause's errors in watch's counts.
var dropCauses = map[error]string{
	igmp.ErrHeaderChecksum: "bad IPv4 header checksum",
	igmp.ErrFragment:       "fragmented IGMP/MLD",
	igmp.ErrGroup:          "not a multicast group",
	igmp.ErrNoRecords:      "report without records",
	igmp.ErrChecksum:       "bad checksum",
	igmp.ErrTruncated:      "truncated",
	igmp.ErrType:           "unknown type",
}

// Drops returns the count of dropped packets by cause.
func (s *State) Drops() map[string]int { return s.drops }

// CaptureDrops takes the capture's own count of packets it could not
// queue (a running total, as PACKET_STATISTICS gives it) at now, and warns
// when it grew: every count and rate watch shows is short by that much.
func (s *State) CaptureDrops(total uint64, now time.Time) []Event {
	if total <= s.captureDrops {
		return nil
	}
	n := total - s.captureDrops
	since := ""
	if !s.captureDropsSeen.IsZero() {
		since = " since " + s.captureDropsSeen.Format("15:04:05")
	}
	s.captureDrops, s.captureDropsSeen = total, now
	return []Event{{Time: now, Kind: KindWarning, Warning: WarnCaptureDrops, Packets: int(n),
		Text: fmt.Sprintf("warning the capture dropped %d packets%s (%d in all): the kernel could not queue them for watch, so counts and rates are short by that much", n, since, total)}}
}

// CaptureDropped returns the capture's own drop count so far.
func (s *State) CaptureDropped() uint64 { return s.captureDrops }

// Packet feeds one decoded packet and returns the events it causes.
func (s *State) Packet(p Packet) []Event {
	if !p.Dst.IsMulticast() {
		return nil
	}
	seg := s.seg(p.Iface, p.Time)
	var evs []Event
	switch {
	case p.Msg != nil:
		evs = s.message(seg, p)
	case p.UDP != nil:
		evs = s.datagram(seg, p)
	}
	for i := range evs {
		evs[i].Time, evs[i].Iface = p.Time, p.Iface
	}
	return evs
}

func famOf(m *igmp.Message) family {
	if m.Proto == igmp.MLD {
		return famMLD
	}
	return famIGMP
}

func protoName(m *igmp.Message) string {
	return fmt.Sprintf("%sv%d", strings.ToUpper(string(m.Proto)), m.Version)
}

func (s *State) message(seg *segment, p Packet) []Event {
	m := p.Msg
	fam := famOf(m)
	base := Event{Proto: string(m.Proto), Version: m.Version, Host: p.Src}
	if m.Kind == igmp.Query {
		return s.query(seg, p, fam, base)
	}
	seg.listeners[fam] = true
	var evs []Event
	evs = append(evs, s.checkVersion(seg, p, fam)...)
	if len(m.Records) == 0 {
		// v1/v2 report or leave.
		if !s.wanted(m.Group) {
			return evs
		}
		e := base
		e.Group = m.Group
		k := memberKey{p.Src, m.Group}
		if m.Kind == igmp.Leave {
			delete(seg.members, k)
			e.Kind = KindLeave
			e.Text = fmt.Sprintf("%-6s %s from %s %s leave", e.Kind, m.Group, p.Src, protoName(m))
			if m.Proto == igmp.MLD {
				e.Text = fmt.Sprintf("%-6s %s from %s %s done", e.Kind, m.Group, p.Src, protoName(m))
			}
			return append(evs, e)
		}
		e.Kind = KindReport
		if seg.members[k] == nil {
			e.Kind = KindJoin
			seg.members[k] = &membership{exclude: true, sources: map[netip.Addr]bool{}}
		}
		e.Text = fmt.Sprintf("%-6s %s from %s %s report", e.Kind, m.Group, p.Src, protoName(m))
		return append(evs, e)
	}
	for _, r := range m.Records {
		if !s.wanted(r.Group) {
			continue
		}
		e := base
		e.Group, e.Record, e.Sources = r.Group, r.Type.String(), r.Sources
		e.Kind = seg.apply(memberKey{p.Src, r.Group}, r)
		e.Text = fmt.Sprintf("%-6s %s from %s %s %s %s%s", e.Kind, r.Group, p.Src, protoName(m), r.Type, fmtSources(r.Sources), recordNote(r))
		evs = append(evs, e)
	}
	return evs
}

func recordNote(r igmp.Record) string {
	switch {
	case r.Type == igmp.ChangeToExclude && len(r.Sources) == 0:
		return " (any source)"
	case (r.Type == igmp.ChangeToInclude || r.Type == igmp.ModeIsInclude) && len(r.Sources) == 0:
		return " (no source: leave)"
	case r.Type == igmp.AllowNewSources || r.Type == igmp.ChangeToInclude:
		return " (source-specific)"
	}
	return ""
}

// apply updates a host's membership by a group record (RFC 3376 section
// 6.4 reduced to one host's own filter) and names the change.
func (seg *segment) apply(k memberKey, r igmp.Record) string {
	cur := seg.members[k]
	was := cur != nil
	added := false // an ALLOW let through a source the filter did not
	set := func(exclude bool, srcs []netip.Addr) {
		m := &membership{exclude: exclude, sources: map[netip.Addr]bool{}}
		for _, a := range srcs {
			m.sources[a] = true
		}
		seg.members[k] = m
	}
	switch r.Type {
	case igmp.ModeIsExclude, igmp.ChangeToExclude:
		set(true, r.Sources)
	case igmp.ModeIsInclude, igmp.ChangeToInclude:
		if len(r.Sources) == 0 {
			delete(seg.members, k)
		} else {
			set(false, r.Sources)
		}
	case igmp.AllowNewSources:
		if cur == nil {
			set(false, r.Sources)
		} else {
			for _, a := range r.Sources {
				// A source is new when an include filter lacks it or an
				// exclude filter held it out.
				if cur.exclude == cur.sources[a] {
					added = true
				}
				if cur.exclude {
					delete(cur.sources, a)
				} else {
					cur.sources[a] = true
				}
			}
		}
	case igmp.BlockOldSources:
		if cur != nil {
			for _, a := range r.Sources {
				if cur.exclude {
					cur.sources[a] = true
				} else {
					delete(cur.sources, a)
				}
			}
			if !cur.exclude && len(cur.sources) == 0 {
				delete(seg.members, k)
			}
		}
	}
	now := seg.members[k] != nil
	if now {
		delete(seg.left, k)
	}
	switch {
	case !was && now:
		return KindJoin
	case was && !now:
		seg.left[k] = true
		return KindLeave
	case !was && !now && !seg.left[k] && (r.Type == igmp.ChangeToInclude || r.Type == igmp.BlockOldSources):
		// A leave for a membership that began before the capture.
		seg.left[k] = true
		return KindLeave
	case r.Type == igmp.AllowNewSources && added:
		// New sources of a membership; a repeated ALLOW (hosts send each
		// state change robustness-variable times) is a report, as a
		// repeated TO_EX is.
		return KindJoin
	}
	return KindReport
}

func fmtSources(srcs []netip.Addr) string {
	s := make([]string, len(srcs))
	for i, a := range srcs {
		s[i] = a.String()
	}
	return "{" + strings.Join(s, ",") + "}"
}

func (s *State) wanted(g netip.Addr) bool {
	return !s.cfg.Group.IsValid() || s.cfg.Group == g
}

// Tick advances the clock to now and returns warnings that depend on time
// passing: no querier heard for longer than the query interval.
func (s *State) Tick(now time.Time) []Event {
	var evs []Event
	for _, n := range s.segNames() {
		seg := s.segs[n]
		for _, fam := range []family{famIGMP, famMLD} {
			if seg.warnedNoQ[fam] || !seg.listeners[fam] {
				continue
			}
			since := seg.lastQuery[fam]
			never := since.IsZero()
			if never {
				since = seg.started[fam]
			}
			if now.Sub(since) <= s.cfg.QueryInterval {
				continue
			}
			seg.warnedNoQ[fam] = true
			what := "no " + fam.String() + " querier seen"
			if !never {
				what = "no " + fam.String() + " query since " + since.Format("15:04:05")
			}
			evs = append(evs, Event{Time: now, Iface: n, Kind: KindWarning, Warning: WarnNoQuerier, Proto: strings.ToLower(fam.String()),
				Text: fmt.Sprintf("warning %s for %s (query interval %s): snooping switches expire memberships after about 260s and receivers stop getting data; enable a querier (a multicast router, or mcast_querier=1 on a Linux bridge)", what, now.Sub(since).Round(time.Second), s.cfg.QueryInterval)})
		}
	}
	return evs
}
