package relay

import (
	"net/netip"
	"time"

	"github.com/mcasttools/mcast/internal/wire/igmp"
	"golang.org/x/net/bpf"
)

// Membership timers (RFC 3376 section 8, RFC 3810 section 9) with the
// defaults: robustness 2, query interval 125 s, query response interval
// 10 s. A query heard on the LAN replaces them by its QRV, QQI and maximum
// response time.
const (
	defaultRobustness    = 2
	defaultQueryInterval = 125 * time.Second
	defaultQueryResponse = 10 * time.Second
	// DefaultMembershipInterval is how long a membership heard in a report
	// lasts unless a report refreshes it.
	DefaultMembershipInterval = defaultRobustness*defaultQueryInterval + defaultQueryResponse
	// otherQuerierInterval is how long a query from another (lower
	// addressed) querier keeps this relay from querying.
	otherQuerierInterval = defaultRobustness*defaultQueryInterval + defaultQueryResponse/2
)

type hostGroup struct {
	host, group netip.Addr
}

// LANMembers tracks which other hosts on the LAN are members of which
// groups, from the IGMP and MLD reports they send: a report (or a current
// state record) makes or refreshes a membership for the group membership
// interval, a leave (IGMPv2 leave, MLDv1 done, an empty TO_IN/IS_IN record)
// ends it. It also notes the queriers it hears, so that the relay queries
// only where no other querier does. It is pure: the caller feeds it
// decoded messages and the time.
type LANMembers struct {
	expires map[hostGroup]time.Time
	gmi     [2]time.Duration // group membership interval: [0] IPv4, [1] IPv6
	querier [2]time.Time     // when another querier's query was last heard
}

// NewLANMembers returns an empty table with the default timers.
func NewLANMembers() *LANMembers {
	return &LANMembers{expires: map[hostGroup]time.Time{}, gmi: [2]time.Duration{DefaultMembershipInterval, DefaultMembershipInterval}}
}

func famIndex(a netip.Addr) int {
	if a.Is4() {
		return 0
	}
	return 1
}

// Observe applies message m from src heard at now. self is this relay's
// own address of the message's family (for the querier election: a query
// from a lower address silences this relay's queries). It reports whether
// a membership began or ended.
func (l *LANMembers) Observe(now time.Time, src, self netip.Addr, m *igmp.Message) bool {
	fi := famIndex(src.Unmap())
	if m.Kind == igmp.Query {
		if !self.IsValid() || src.Compare(self) < 0 || src.IsUnspecified() {
			l.querier[fi] = now
		}
		if m.QRV > 0 && m.QQI > 0 {
			l.gmi[fi] = time.Duration(m.QRV)*m.QQI + m.MaxResp
		}
		return false
	}
	changed := false
	join := func(g netip.Addr) {
		if !g.IsMulticast() {
			return
		}
		k := hostGroup{src, g}
		if _, ok := l.expires[k]; !ok {
			changed = true
		}
		l.expires[k] = now.Add(l.gmi[fi])
	}
	leave := func(g netip.Addr) {
		k := hostGroup{src, g}
		if _, ok := l.expires[k]; ok {
			changed = true
			delete(l.expires, k)
		}
	}
	switch m.Kind {
	case igmp.Report:
		// Reports with one group: IGMPv1/v2 and MLDv1. IGMPv3 and MLDv2
		// (Linux's default for IPv6) carry records instead.
		if !hasRecords(m) {
			join(m.Group)
			break
		}
		for _, r := range m.Records {
			switch r.Type {
			case igmp.ModeIsExclude, igmp.ChangeToExclude:
				join(r.Group)
			case igmp.ModeIsInclude, igmp.ChangeToInclude, igmp.AllowNewSources:
				if len(r.Sources) > 0 {
					join(r.Group)
				} else if r.Type != igmp.AllowNewSources {
					leave(r.Group)
				}
			}
		}
	case igmp.Leave:
		leave(m.Group)
	}
	return changed
}

// hasRecords reports whether report m is an IGMPv3 or MLDv2 one, which
// carries group records rather than one group.
func hasRecords(m *igmp.Message) bool {
	if m.Proto == igmp.MLD {
		return m.Version >= 2
	}
	return m.Version >= 3
}

// Expire ends memberships not refreshed in time and reports whether any
// ended.
func (l *LANMembers) Expire(now time.Time) bool {
	n := len(l.expires)
	for k, t := range l.expires {
		if !now.Before(t) {
			delete(l.expires, k)
		}
	}
	return len(l.expires) != n
}

// Groups returns, per group, how many hosts are members, leaving out the
// hosts skip names (nil: none). The relay skips its LAN peers while they
// are up: their hosts' members arrive in their hellos, and their capture
// joins are not members; when one goes down, its host's members count.
func (l *LANMembers) Groups(skip func(host netip.Addr) bool) map[netip.Addr]int {
	out := map[netip.Addr]int{}
	for k := range l.expires {
		if skip == nil || !skip(k.host) {
			out[k.group]++
		}
	}
	return out
}

// OtherQuerier reports whether another querier of that family (v6: IPv6)
// was heard recently enough that this relay should not query.
func (l *LANMembers) OtherQuerier(now time.Time, v6 bool) bool {
	i := 0
	if v6 {
		i = 1
	}
	t := l.querier[i]
	return !t.IsZero() && now.Sub(t) < otherQuerierInterval
}

// MembershipFilter is the kernel-side filter of the relay's packet socket
// (SOCK_DGRAM, so the program sees the IP header first): IPv4 IGMP, and
// IPv6 ICMPv6 directly or behind a hop-by-hop header (as MLD is sent).
func MembershipFilter() []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: 0, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x40, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x60, SkipTrue: 4},
		bpf.RetConstant{Val: 0},
		// IPv4: protocol 2.
		bpf.LoadAbsolute{Off: 9, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 2, SkipTrue: 7},
		bpf.RetConstant{Val: 0},
		// IPv6: next header 58, or 0 followed by 58.
		bpf.LoadAbsolute{Off: 6, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 58, SkipTrue: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0, SkipFalse: 2},
		bpf.LoadAbsolute{Off: 40, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 58, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 0x10000},
	}
}

// membershipDrop is the drop reason of an IGMP or MLD message that
// igmp.Decode refused with err.
func membershipDrop(err error) string {
	if r, ok := membershipDrops[igmp.Cause(err)]; ok {
		return r
	}
	return DropMalformed
}

// membershipDrops name igmp.Cause's errors as drop reasons.
var membershipDrops = map[error]string{
	igmp.ErrHeaderChecksum: DropMembershipChecksum,
	igmp.ErrChecksum:       DropMembershipChecksum,
	igmp.ErrFragment:       DropMembershipFragment,
	igmp.ErrGroup:          DropMembershipGroup,
	igmp.ErrNoRecords:      DropMembershipNoRecords,
	igmp.ErrTruncated:      DropMembershipTruncated,
	igmp.ErrType:           DropMembershipType,
}
