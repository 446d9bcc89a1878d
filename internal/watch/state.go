// Package watch turns captured IGMP, MLD and multicast UDP packets into
// events (joins, leaves, reports, queries, first datagrams) and keeps the
// state of each segment to warn about what breaks multicast: no querier, two
// queriers, IGMP/MLD version mismatches and datagrams for groups nobody on
// this host joined.
//
// State is pure: it takes decoded packets with their capture time and the
// host's joined groups as values. The capture itself is in capture_linux.go.
package watch

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
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
)

// Event is one line of watch output. Field names are the stable JSON
// schema documented in docs/watch.md.
type Event struct {
	Time    time.Time    `json:"time"`
	Iface   string       `json:"iface,omitempty"`
	Kind    string       `json:"kind"`
	Proto   string       `json:"proto,omitempty"`   // igmp, mld or udp
	Version int          `json:"version,omitempty"` // IGMP 1-3, MLD 1-2
	Host    netip.Addr   `json:"host,omitzero"`     // sender: reporter, querier or data source
	Group   netip.Addr   `json:"group,omitzero"`    // group (unset for a general query)
	Record  string       `json:"record,omitempty"`  // IGMPv3/MLDv2 record type: IS_IN, IS_EX, TO_IN, TO_EX, ALLOW, BLOCK
	Sources []netip.Addr `json:"sources,omitempty"` // record or query sources
	// Query fields.
	MaxRespSec float64 `json:"max_resp_s,omitempty"`
	QQISec     float64 `json:"qqi_s,omitempty"`
	QRV        int     `json:"qrv,omitempty"`
	// Data fields (bytes: the datagram's UDP payload; in a rate event, the
	// payload bytes of the interval).
	SrcPort uint16 `json:"src_port,omitempty"`
	DstPort uint16 `json:"dst_port,omitempty"`
	Bytes   int    `json:"bytes,omitempty"`
	// Rate fields: the interval the rate is taken over, the datagrams in
	// it, datagrams/s, payload bit/s and each sender's share.
	IntervalSec float64  `json:"interval_s,omitempty"`
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

// GroupStats is the data seen for one group.
type GroupStats struct {
	Iface   string                 `json:"iface,omitempty"`
	Group   netip.Addr             `json:"group"`
	Packets int                    `json:"packets"`
	Bytes   int                    `json:"bytes"`
	First   time.Time              `json:"first"`
	Last    time.Time              `json:"last"`
	Sources map[netip.AddrPort]int `json:"-"`
	Joined  bool                   `json:"joined_here"`
}

// Rate returns packets per second between the first and last datagram (0
// with fewer than two datagrams).
func (g GroupStats) Rate() float64 {
	d := g.Last.Sub(g.First).Seconds()
	if g.Packets < 2 || d <= 0 {
		return 0
	}
	return float64(g.Packets-1) / d
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

// Drop counts a packet that could not be decoded, by cause.
func (s *State) Drop(err error) {
	cause := "malformed"
	switch {
	case errors.Is(err, igmp.ErrChecksum):
		cause = "bad checksum"
	case errors.Is(err, igmp.ErrTruncated):
		cause = "truncated"
	case errors.Is(err, igmp.ErrType):
		cause = "unknown type"
	}
	s.drops[cause]++
}

// Drops returns the count of dropped packets by cause.
func (s *State) Drops() map[string]int { return s.drops }

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
	case (r.Type == igmp.AllowNewSources) && now:
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

func (s *State) query(seg *segment, p Packet, fam family, base Event) []Event {
	m := p.Msg
	var evs []Event
	seg.lastQuery[fam] = p.Time
	seg.warnedNoQ[fam] = false
	qs := seg.queriers[fam]
	// Other queriers heard within two query intervals are still present.
	for a, q := range qs {
		if p.Time.Sub(q.last) > 2*s.cfg.QueryInterval {
			delete(qs, a)
		}
	}
	q := qs[p.Src]
	firstFrom := q == nil
	if q == nil {
		q = &querier{}
		qs[p.Src] = q
		for other := range qs {
			if other == p.Src {
				continue
			}
			a, b := other, p.Src
			if b.Less(a) {
				a, b = b, a
			}
			key := fam.String() + a.String() + b.String()
			if seg.warnedPairs[key] {
				continue
			}
			seg.warnedPairs[key] = true
			text := fmt.Sprintf("two %s queriers on this segment: %s and %s; the lower address should win the election and the other stop querying. If both keep querying they cannot hear each other (filtering, different subnets or VLANs)", fam, a, b)
			if a.IsUnspecified() || b.IsUnspecified() {
				text = fmt.Sprintf("two %s queriers on this segment: %s and %s; 0.0.0.0 is a snooping switch querying without an address and takes no part in the election, so both keep querying", fam, a, b)
			}
			evs = append(evs, Event{Kind: KindWarning, Warning: WarnTwoQueriers, Proto: string(m.Proto), Text: "warning " + text})
		}
	}
	q.version, q.last = m.Version, p.Time

	if !m.General() && !s.wanted(m.Group) {
		return evs
	}
	e := base
	e.Kind = KindQuery
	e.Group = m.Group
	if m.General() {
		e.Group = netip.Addr{}
	}
	e.Sources = m.Sources
	e.MaxRespSec = m.MaxResp.Seconds()
	e.QQISec = m.QQI.Seconds()
	e.QRV = m.QRV
	what := "general"
	if !m.General() {
		what = m.Group.String()
		if len(m.Sources) > 0 {
			what += " " + fmtSources(m.Sources)
		}
	}
	e.Text = fmt.Sprintf("%-6s %s from %s %s max resp %s", e.Kind, what, p.Src, protoName(m), m.MaxResp)
	if m.QQI > 0 {
		e.Text += fmt.Sprintf(", qqi %s, qrv %d", m.QQI, m.QRV)
	}
	if p.Src.IsUnspecified() && firstFrom {
		// Said once per querier, not on every query.
		e.Text += " (querier without an address: a snooping switch or a bridge with no IP)"
	}
	return append(evs, e)
}

// checkVersion warns once per host and version pair when a host reports in
// a different version than the querier queries.
func (s *State) checkVersion(seg *segment, p Packet, fam family) []Event {
	m := p.Msg
	var newest *querier
	var qaddr netip.Addr
	for a, q := range seg.queriers[fam] {
		if p.Time.Sub(q.last) > 2*s.cfg.QueryInterval {
			continue
		}
		if newest == nil || q.last.After(newest.last) {
			newest, qaddr = q, a
		}
	}
	if newest == nil || newest.version == m.Version || p.Src == qaddr {
		return nil
	}
	key := fmt.Sprintf("%s %s %d %d", fam, p.Src, m.Version, newest.version)
	if seg.warnedVersion[key] {
		return nil
	}
	seg.warnedVersion[key] = true
	var why string
	switch {
	case m.Version > newest.version:
		why = fmt.Sprintf("the querier ignores what it cannot parse, and the host should have fallen back to %sv%d on hearing its query (is force_%s_version set?)", fam, newest.version, strings.ToLower(fam.String()))
	default:
		why = fmt.Sprintf("the querier falls back to %sv%d for these groups, and source-specific (SSM) joins stop working", fam, m.Version)
	}
	return []Event{{
		Kind: KindWarning, Warning: WarnVersionMismatch, Proto: string(m.Proto), Version: m.Version, Host: p.Src,
		Text: fmt.Sprintf("warning %s version mismatch: host %s reports %sv%d but querier %s queries %sv%d: %s",
			fam, p.Src, fam, m.Version, qaddr, fam, newest.version, why),
	}}
}

func (s *State) datagram(seg *segment, p Packet) []Event {
	g := p.Dst
	if !s.wanted(g) {
		return nil
	}
	st := seg.data[g]
	src := netip.AddrPortFrom(p.Src, p.UDP.SrcPort)
	var evs []Event
	if st == nil {
		st = &GroupStats{Iface: p.Iface, Group: g, First: p.Time, Sources: map[netip.AddrPort]int{}}
		seg.data[g] = st
	}
	st.Packets++
	st.Bytes += p.UDP.Len
	st.Last = p.Time
	st.Sources[src]++
	w := seg.win[g]
	if w == nil {
		w = &window{}
		seg.win[g] = w
	}
	w.count(p.Time, s.reportStart, src, p.UDP.Len)
	if st.Sources[src] == 1 {
		e := Event{Kind: KindData, Proto: "udp", Host: p.Src, Group: g, SrcPort: p.UDP.SrcPort, DstPort: p.UDP.DstPort, Bytes: p.UDP.Len}
		e.Text = fmt.Sprintf("%-6s %s:%d from %s:%d (first datagram, %d bytes)", e.Kind, g, p.UDP.DstPort, p.Src, p.UDP.SrcPort, p.UDP.Len)
		if p.Outgoing {
			e.Text = fmt.Sprintf("%-6s %s:%d from %s:%d (first datagram, %d bytes, sent by this host)", e.Kind, g, p.UDP.DstPort, p.Src, p.UDP.SrcPort, p.UDP.Len)
		}
		evs = append(evs, e)
	}
	// What this host sends needs no join here.
	if s.haveJoin && !p.Outgoing {
		st.Joined = s.joined[p.Iface][g]
		if !st.Joined && !seg.warnedData[g] && !linkLocal(g) {
			seg.warnedData[g] = true
			evs = append(evs, Event{Kind: KindWarning, Warning: WarnUnjoinedData, Proto: "udp", Host: p.Src, Group: g,
				Text: fmt.Sprintf("warning datagrams for %s reach %s but no socket on this host joined it: the switch floods the group to this port (no snooping, or snooping without a querier); sniffers see it (watch asks the NIC for all multicast), the kernel drops it", g, p.Iface)})
		}
	}
	return evs
}

// linkLocal reports whether g is a link-local group (224.0.0.0/24, ff02::/16)
// that hosts receive without joining.
func linkLocal(g netip.Addr) bool {
	if g.Is4() {
		return g.As4()[0] == 224 && g.As4()[1] == 0 && g.As4()[2] == 0
	}
	return g.IsLinkLocalMulticast() || g.IsInterfaceLocalMulticast()
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

// Groups returns the data statistics per group, ordered by interface and
// group.
func (s *State) Groups() []GroupStats {
	var out []GroupStats
	for _, seg := range s.segs {
		for _, st := range seg.data {
			out = append(out, *st)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Iface != out[j].Iface {
			return out[i].Iface < out[j].Iface
		}
		return out[i].Group.Less(out[j].Group)
	})
	return out
}
