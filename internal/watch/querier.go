package watch

import (
	"fmt"
	"net/netip"
	"strings"
)

// query handles an IGMP or MLD query: it tracks the queriers of the
// segment and warns when two are heard within two query intervals.
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
