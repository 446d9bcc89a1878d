package watch

import (
	"fmt"
	"net/netip"
	"sort"
	"time"
)

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

// datagram handles a multicast UDP datagram: its group's statistics, and
// a warning for data nobody on this host joined.
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

// DataTotals sums the multicast UDP seen so far: the (interface, group)
// pairs, datagrams and payload bytes, without copying the groups.
func (s *State) DataTotals() (groups int, packets, nbytes uint64) {
	for _, seg := range s.segs {
		for _, st := range seg.data {
			groups++
			packets += uint64(st.Packets)
			nbytes += uint64(st.Bytes)
		}
	}
	return groups, packets, nbytes
}
