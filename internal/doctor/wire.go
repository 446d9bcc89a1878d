package doctor

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mcasttools/mcast/internal/wire/igmp"
)

// HeardQuery is an IGMP or MLD membership query heard on the wire during
// --listen.
type HeardQuery struct {
	Time    time.Time
	Iface   string
	Src     netip.Addr // the querier; 0.0.0.0 or :: when it queries from no address
	Proto   string     // "IGMP" or "MLD"
	Version int        // IGMP 1-3, MLD 1-2
	General bool
	Group   netip.Addr // for a group-specific query
	MaxResp time.Duration
	QQI     time.Duration // IGMPv3/MLDv2 querier's query interval, 0 when none
}

// QueryOf returns the query a decoded packet carries, heard at t on iface.
func QueryOf(t time.Time, iface string, p igmp.Packet) (HeardQuery, bool) {
	m := p.Msg
	if m == nil || m.Kind != igmp.Query {
		return HeardQuery{}, false
	}
	q := HeardQuery{Time: t, Iface: iface, Src: p.Src, Proto: strings.ToUpper(string(m.Proto)), Version: m.Version,
		General: m.General(), MaxResp: m.MaxResp, QQI: m.QQI}
	if !q.General {
		q.Group = m.Group
	}
	return q, true
}

// WireQuerier is one querier heard on an interface: its queries summed up.
type WireQuerier struct {
	Iface   string
	Addr    netip.Addr
	Proto   string // "IGMP" or "MLD"
	Version int
	Queries int
	First   time.Time
	Last    time.Time
	MaxResp time.Duration // of the last query
	QQI     time.Duration // of the last query that had one
}

// String says what was heard, as evidence.
func (w WireQuerier) String() string {
	s := fmt.Sprintf("%s: %s querier %s heard on the wire (%s", w.Iface, w.Proto+fmt.Sprint("v", w.Version), w.Addr, plural(w.Queries, "query", "queries"))
	s += fmt.Sprintf(", max resp %s", w.MaxResp)
	if w.QQI > 0 {
		s += fmt.Sprintf(", query interval %s", w.QQI)
	}
	s += ")"
	if w.Addr.IsUnspecified() {
		s += "; from no address: a snooping switch or a bridge querying without an IP"
	}
	return s
}

// SummarizeQueries groups queries by interface, protocol, querier and
// version, in that order.
func SummarizeQueries(qs []HeardQuery) []WireQuerier {
	type key struct {
		iface, proto string
		addr         netip.Addr
		version      int
	}
	m := map[key]*WireQuerier{}
	for _, q := range qs {
		k := key{q.Iface, q.Proto, q.Src, q.Version}
		w := m[k]
		if w == nil {
			w = &WireQuerier{Iface: q.Iface, Addr: q.Src, Proto: q.Proto, Version: q.Version, First: q.Time}
			m[k] = w
		}
		w.Queries++
		w.Last, w.MaxResp = q.Time, q.MaxResp
		if q.QQI > 0 {
			w.QQI = q.QQI
		}
	}
	out := make([]WireQuerier, 0, len(m))
	for _, w := range m {
		out = append(out, *w)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		switch {
		case a.Iface != b.Iface:
			return a.Iface < b.Iface
		case a.Proto != b.Proto:
			return a.Proto < b.Proto
		case a.Addr != b.Addr:
			return a.Addr.Less(b.Addr)
		}
		return a.Version < b.Version
	})
	return out
}

// heardAll reports whether an IGMP query was heard on every one of ifaces.
func heardAll(qs []HeardQuery, ifaces []string) bool {
	if len(ifaces) == 0 {
		return false
	}
	heard := map[string]bool{}
	for _, q := range qs {
		if q.Proto == "IGMP" {
			heard[q.Iface] = true
		}
	}
	for _, n := range ifaces {
		if !heard[n] {
			return false
		}
	}
	return true
}

// Listened is what --listen found, shared by the checks that use it.
type Listened struct {
	Asked    bool          // --listen was given
	For      time.Duration // --listen
	Ifaces   []string      // the interfaces it waited to hear a querier on
	Queriers []WireQuerier
	Err      error // why it could not listen
}

// IGMP returns the IGMP querier last heard on iface.
func (l Listened) IGMP(iface string) (WireQuerier, bool) {
	var best WireQuerier
	ok := false
	for _, w := range l.Queriers {
		if w.Iface == iface && w.Proto == "IGMP" && (!ok || w.Last.After(best.Last)) {
			best, ok = w, true
		}
	}
	return best, ok
}

// On returns the queriers heard on iface.
func (l Listened) On(iface string) []WireQuerier {
	var out []WireQuerier
	for _, w := range l.Queriers {
		if w.Iface == iface {
			out = append(out, w)
		}
	}
	return out
}

// Conclusive reports whether not hearing a query on an interface means
// there is no querier: the listen lasted longer than the default query
// interval (it ends early only once every interface heard one).
func (l Listened) Conclusive() bool { return l.Err == nil && l.For > defaultQueryInterval }

// defaultQueryInterval is IGMP's and MLD's default query interval (RFC
// 3376, RFC 3810): a querier sends a general query at least this often.
const defaultQueryInterval = 125 * time.Second

// listener runs --listen once for all the checks that need it.
type listener struct {
	h    *Host
	t    Target
	once sync.Once
	res  Listened
}

// Heard listens (the first time it is called) and returns what was heard.
func (l *listener) Heard(ctx context.Context) Listened {
	l.once.Do(func() { l.res = l.listen(ctx) })
	return l.res
}

func (l *listener) listen(ctx context.Context) Listened {
	res := Listened{Asked: l.t.Listen > 0, For: l.t.Listen}
	if !res.Asked {
		return res
	}
	if !l.h.Root {
		res.Err = errors.New("listening needs root (CAP_NET_RAW)")
		return res
	}
	if l.h.Listen == nil {
		res.Err = errors.New("listening is not supported here")
		return res
	}
	links, err := l.h.Net.Links(ctx)
	if err != nil {
		res.Err = err
		return res
	}
	t := l.t
	t.Group = netipZero
	cands, err := candidates(links, t)
	if err != nil {
		res.Err = err
		return res
	}
	for _, c := range cands {
		res.Ifaces = append(res.Ifaces, c.Name)
	}
	on := ""
	if l.t.Iface != "" && len(cands) == 1 {
		on = cands[0].Name
	}
	qs, err := l.h.Listen(ctx, on, l.t.Listen, func(qs []HeardQuery) bool { return heardAll(qs, res.Ifaces) })
	res.Queriers = SummarizeQueries(qs)
	res.Err = err
	return res
}
