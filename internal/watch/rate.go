package watch

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/stats"
)

// KindRate is a periodic line per group that carried data: datagrams/s,
// payload bit/s and the senders with their counts over the last report
// interval.
const KindRate = "rate"

// DefaultReportInterval is how often watch reports the data rate per group.
const DefaultReportInterval = 5 * time.Second

// Sender is one source of a group's datagrams in a rate report.
type Sender struct {
	Addr       netip.AddrPort `json:"-"`
	Source     netip.Addr     `json:"source"`      // Addr's address, filled in a rate event
	SourcePort uint16         `json:"source_port"` // Addr's port, filled in a rate event
	Packets    int            `json:"packets"`
	Bytes      int            `json:"bytes"` // UDP payload bytes
}

// window counts one group's datagrams since its last rate report.
type window struct {
	since    time.Time // start of the window: the report clock or the group's first datagram
	packets  int
	bytes    int
	senders  map[netip.AddrPort]*Sender
	reported time.Time // end of the last report that included the group
}

// count adds one datagram seen at t to the window. start is the start of
// the current report interval (zero before the report clock starts).
func (w *window) count(t, start time.Time, src netip.AddrPort, n int) {
	if w.packets == 0 {
		// A group that kept flowing since its last report is measured
		// from the start of the interval; one that starts (or resumes
		// after a silent interval) from its first datagram.
		w.since = t
		if !w.reported.IsZero() && w.reported.Equal(start) {
			w.since = start
		}
		w.senders = map[netip.AddrPort]*Sender{}
	}
	w.packets++
	w.bytes += n
	s := w.senders[src]
	if s == nil {
		s = &Sender{Addr: src}
		w.senders[src] = s
	}
	s.Packets++
	s.Bytes += n
}

// BeginReports starts the report clock at t (the capture's start). Without
// it the clock starts at the first call of Report or ReportsUntil.
func (s *State) BeginReports(t time.Time) {
	if s.reportStart.IsZero() {
		s.reportStart = t
	}
}

// Report closes the current report interval at now and returns one rate
// event per group that carried datagrams in it. Rates are taken over the
// time since the group's window began: the start of the interval, or the
// group's first datagram when it started within it. A group seen for less
// than half a report interval is carried over to the next report, so that
// each line covers at least half an interval and a lone datagram never
// reads as a burst. Report returns nothing when reports are off
// (Config.ReportInterval <= 0).
func (s *State) Report(now time.Time) []Event {
	iv, ok := s.reportClock(now)
	if !ok {
		return nil
	}
	var evs []Event
	for _, n := range s.segNames() {
		seg := s.segs[n]
		groups := make([]netip.Addr, 0, len(seg.win))
		for g, w := range seg.win {
			if w.packets > 0 {
				groups = append(groups, g)
			}
		}
		sort.Slice(groups, func(i, j int) bool { return groups[i].Less(groups[j]) })
		for _, g := range groups {
			w := seg.win[g]
			d := now.Sub(w.since)
			if d < iv/2 {
				continue
			}
			evs = append(evs, rateEvent(now, n, g, d, w))
			w.packets, w.bytes, w.senders, w.reported = 0, 0, nil, now
		}
	}
	s.reportStart = now
	return evs
}

// ReportsUntil is Report for offline reading: it closes every report
// interval that ended by now (a packet's capture time), each at its end,
// so the rates follow the capture's timestamps. The first call starts the
// report clock.
func (s *State) ReportsUntil(now time.Time) []Event {
	iv, ok := s.reportClock(now)
	if !ok {
		return nil
	}
	var evs []Event
	for end := s.reportStart.Add(iv); !now.Before(end); end = s.reportStart.Add(iv) {
		if !s.pending() {
			// Nothing to report: skip the silent intervals at once.
			s.reportStart = s.reportStart.Add(now.Sub(s.reportStart) / iv * iv)
			break
		}
		evs = append(evs, s.Report(end)...)
	}
	return evs
}

// reportClock returns the report interval, or false when reports are off
// or the report clock starts at now (this call).
func (s *State) reportClock(now time.Time) (time.Duration, bool) {
	iv := s.cfg.ReportInterval
	if iv <= 0 {
		return 0, false
	}
	if s.reportStart.IsZero() {
		s.reportStart = now
		return 0, false
	}
	return iv, true
}

// pending reports whether any group has datagrams not yet reported.
func (s *State) pending() bool {
	for _, seg := range s.segs {
		for _, w := range seg.win {
			if w.packets > 0 {
				return true
			}
		}
	}
	return false
}

func (s *State) segNames() []string {
	names := make([]string, 0, len(s.segs))
	for n := range s.segs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func rateEvent(now time.Time, iface string, g netip.Addr, d time.Duration, w *window) Event {
	sec := d.Seconds()
	e := Event{
		Time: now, Iface: iface, Kind: KindRate, Proto: "udp", Group: g,
		IntervalSec: sec, Packets: w.packets, Bytes: w.bytes,
		PPS: float64(w.packets) / sec, BPS: float64(w.bytes) * 8 / sec,
	}
	for _, snd := range w.senders {
		s := *snd
		s.Source, s.SourcePort = s.Addr.Addr(), s.Addr.Port()
		e.Senders = append(e.Senders, s)
	}
	sort.Slice(e.Senders, func(i, j int) bool {
		a, b := e.Senders[i], e.Senders[j]
		if a.Packets != b.Packets {
			return a.Packets > b.Packets
		}
		return a.Addr.Compare(b.Addr) < 0
	})
	e.Text = fmt.Sprintf("%-6s %s %.1f datagrams/s, %s payload over %.1fs from %s",
		e.Kind, g, e.PPS, HumanBitRate(e.BPS), sec, fmtSenders(e.Senders))
	return e
}

// maxSendersShown is how many senders a text line names; JSON has all.
const maxSendersShown = 4

func fmtSenders(ss []Sender) string {
	var parts []string
	for i, s := range ss {
		if i == maxSendersShown {
			parts = append(parts, fmt.Sprintf("and %d more", len(ss)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%d)", s.Addr, s.Packets))
	}
	return strings.Join(parts, ", ")
}

// HumanBitRate renders a bit rate with a unit, as rate lines show it: it is
// stats.HumanBitRate.
func HumanBitRate(bps float64) string { return stats.HumanBitRate(bps) }
