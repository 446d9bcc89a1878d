package hostfs

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// IGMPIface is one interface block of /proc/net/igmp.
type IGMPIface struct {
	Index   int         // interface index
	Name    string      // interface name
	Count   int         // number of groups the kernel lists
	Version int         // IGMP version in use on the interface: 1, 2 or 3 (the Querier column)
	Groups  []IGMPGroup // the groups joined on the interface
}

// IGMPGroup is one group line of /proc/net/igmp.
type IGMPGroup struct {
	Group        netip.Addr // IPv4 group address
	Users        int        // sockets (and kernel users) holding the membership
	TimerRunning bool       // a report is scheduled
	TimerJiffies int64      // jiffies until the scheduled report
	Reporter     bool       // this host sent the last report for the group
}

// IGMP6Group is one line of /proc/net/igmp6.
type IGMP6Group struct {
	Index        int        // interface index
	Iface        string     // interface name
	Group        netip.Addr // IPv6 group address
	Users        int        // sockets (and kernel users) holding the membership
	Flags        uint32     // the kernel's MAF_* flags (hex column)
	TimerJiffies int64      // jiffies until the scheduled report, 0 when none
}

// LinkAddr is one line of /proc/net/dev_mcast: a link-layer multicast
// address programmed into the interface's receive filter.
type LinkAddr struct {
	Index  int              // interface index
	Iface  string           // interface name
	Users  int              // references to the address
	Global bool             // added by a global (non-sync) user
	Addr   net.HardwareAddr // the link-layer address
}

// SourceFilter is one line of /proc/net/mcfilter or /proc/net/mcfilter6: a
// source address in a group's source filter, with how many sockets include
// and exclude it.
type SourceFilter struct {
	Index   int        // interface index
	Iface   string     // interface name
	Group   netip.Addr // group address
	Source  netip.Addr // source address
	Include int        // sockets including this source (INC)
	Exclude int        // sockets excluding this source (EXC)
}

// linkAddrJSON is the JSON of a LinkAddr.
type linkAddrJSON struct {
	MAC    string `json:"mac"`
	Users  int    `json:"users"`
	Global bool   `json:"global"`
}

// MarshalJSON writes the link address as its colon-separated address, users
// and global flag (interface index and name are those of the enclosing entry).
func (l LinkAddr) MarshalJSON() ([]byte, error) {
	return json.Marshal(linkAddrJSON{l.Addr.String(), l.Users, l.Global})
}

// JSONShape returns a value of the type LinkAddr's JSON has, for schema
// generation (internal/contract).
func (LinkAddr) JSONShape() any { return linkAddrJSON{} }

// ParseIGMP parses /proc/net/igmp. Group addresses in that file are the
// network-order address printed as a host-order number; ParseIGMP undoes that
// for the host it runs on.
func ParseIGMP(r io.Reader) ([]IGMPIface, error) {
	var out []IGMPIface
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 && strings.HasPrefix(text, "Idx") {
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		if text[0] == '\t' || text[0] == ' ' {
			// Group line: "\t\t\t\t010000E0     1 0:00000000\t\t0"
			if len(out) == 0 {
				return nil, fmt.Errorf("parsing /proc/net/igmp line %d: group line before any interface: %q", line, text)
			}
			g, err := parseIGMPGroup(strings.Fields(text))
			if err != nil {
				return nil, fmt.Errorf("parsing /proc/net/igmp line %d: %w", line, err)
			}
			last := &out[len(out)-1]
			last.Groups = append(last.Groups, g)
			continue
		}
		// Interface line: "2\teth0      :     4      V3"
		idxName, rest, ok := strings.Cut(text, ":")
		f := strings.Fields(idxName)
		r := strings.Fields(rest)
		if !ok || len(f) != 2 || len(r) != 2 {
			return nil, fmt.Errorf("parsing /proc/net/igmp line %d: not an interface line: %q", line, text)
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil {
			return nil, fmt.Errorf("parsing /proc/net/igmp line %d: interface index %q: %w", line, f[0], err)
		}
		count, err := strconv.Atoi(r[0])
		if err != nil {
			return nil, fmt.Errorf("parsing /proc/net/igmp line %d: group count %q: %w", line, r[0], err)
		}
		if len(r[1]) != 2 || r[1][0] != 'V' || r[1][1] < '1' || r[1][1] > '3' {
			return nil, fmt.Errorf("parsing /proc/net/igmp line %d: version %q is not V1, V2 or V3", line, r[1])
		}
		out = append(out, IGMPIface{Index: idx, Name: f[1], Count: count, Version: int(r[1][1] - '0')})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading /proc/net/igmp: %w", err)
	}
	return out, nil
}

func parseIGMPGroup(f []string) (IGMPGroup, error) {
	if len(f) != 4 {
		return IGMPGroup{}, fmt.Errorf("group line has %d fields, want 4", len(f))
	}
	n, err := strconv.ParseUint(f[0], 16, 32)
	if err != nil {
		return IGMPGroup{}, fmt.Errorf("group %q: not 8 hex digits", f[0])
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], uint32(n))
	users, err := strconv.Atoi(f[1])
	if err != nil {
		return IGMPGroup{}, fmt.Errorf("users %q: %w", f[1], err)
	}
	run, tm, ok := strings.Cut(f[2], ":")
	if !ok {
		return IGMPGroup{}, fmt.Errorf("timer %q: want RUNNING:JIFFIES", f[2])
	}
	jiffies, err := strconv.ParseInt(tm, 16, 64)
	if err != nil {
		return IGMPGroup{}, fmt.Errorf("timer %q: %w", f[2], err)
	}
	return IGMPGroup{
		Group:        netip.AddrFrom4(b),
		Users:        users,
		TimerRunning: run != "0",
		TimerJiffies: jiffies,
		Reporter:     f[3] != "0",
	}, nil
}

// ParseIGMP6 parses /proc/net/igmp6.
func ParseIGMP6(r io.Reader) ([]IGMP6Group, error) {
	var out []IGMP6Group
	err := eachLine(r, "/proc/net/igmp6", "", func(f []string) error {
		if len(f) != 6 {
			return fmt.Errorf("%d fields, want 6", len(f))
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil {
			return fmt.Errorf("interface index %q: %w", f[0], err)
		}
		g, err := parseHex6(f[2])
		if err != nil {
			return err
		}
		users, err := strconv.Atoi(f[3])
		if err != nil {
			return fmt.Errorf("users %q: %w", f[3], err)
		}
		flags, err := strconv.ParseUint(f[4], 16, 32)
		if err != nil {
			return fmt.Errorf("flags %q: %w", f[4], err)
		}
		tm, err := strconv.ParseInt(f[5], 10, 64)
		if err != nil {
			return fmt.Errorf("timer %q: %w", f[5], err)
		}
		out = append(out, IGMP6Group{Index: idx, Iface: f[1], Group: g, Users: users, Flags: uint32(flags), TimerJiffies: tm})
		return nil
	})
	return out, err
}

// ParseDevMcast parses /proc/net/dev_mcast.
func ParseDevMcast(r io.Reader) ([]LinkAddr, error) {
	var out []LinkAddr
	err := eachLine(r, "/proc/net/dev_mcast", "", func(f []string) error {
		if len(f) != 5 {
			return fmt.Errorf("%d fields, want 5", len(f))
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil {
			return fmt.Errorf("interface index %q: %w", f[0], err)
		}
		users, err := strconv.Atoi(f[2])
		if err != nil {
			return fmt.Errorf("users %q: %w", f[2], err)
		}
		mac, err := hex.DecodeString(f[4])
		if err != nil || len(mac) == 0 {
			return fmt.Errorf("address %q: not hex", f[4])
		}
		out = append(out, LinkAddr{Index: idx, Iface: f[1], Users: users, Global: f[3] != "0", Addr: net.HardwareAddr(mac)})
		return nil
	})
	return out, err
}

// ParseMcfilter parses /proc/net/mcfilter (IPv4 source filters).
func ParseMcfilter(r io.Reader) ([]SourceFilter, error) {
	return parseMcfilter(r, "/proc/net/mcfilter", func(s string) (netip.Addr, error) {
		h, ok := strings.CutPrefix(s, "0x")
		if !ok || len(h) != 8 {
			return netip.Addr{}, fmt.Errorf("address %q: want 0x and 8 hex digits", s)
		}
		n, err := strconv.ParseUint(h, 16, 32)
		if err != nil {
			return netip.Addr{}, fmt.Errorf("address %q: not hex", s)
		}
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(n))
		return netip.AddrFrom4(b), nil
	})
}

// ParseMcfilter6 parses /proc/net/mcfilter6 (IPv6 source filters).
func ParseMcfilter6(r io.Reader) ([]SourceFilter, error) {
	return parseMcfilter(r, "/proc/net/mcfilter6", parseHex6)
}

func parseMcfilter(r io.Reader, name string, addr func(string) (netip.Addr, error)) ([]SourceFilter, error) {
	var out []SourceFilter
	err := eachLine(r, name, "Idx", func(f []string) error {
		if len(f) != 6 {
			return fmt.Errorf("%d fields, want 6", len(f))
		}
		idx, err := strconv.Atoi(f[0])
		if err != nil {
			return fmt.Errorf("interface index %q: %w", f[0], err)
		}
		g, err := addr(f[2])
		if err != nil {
			return err
		}
		s, err := addr(f[3])
		if err != nil {
			return err
		}
		inc, err := strconv.Atoi(f[4])
		if err != nil {
			return fmt.Errorf("INC %q: %w", f[4], err)
		}
		exc, err := strconv.Atoi(f[5])
		if err != nil {
			return fmt.Errorf("EXC %q: %w", f[5], err)
		}
		out = append(out, SourceFilter{Index: idx, Iface: f[1], Group: g, Source: s, Include: inc, Exclude: exc})
		return nil
	})
	return out, err
}

func parseHex6(s string) (netip.Addr, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 16 {
		return netip.Addr{}, fmt.Errorf("address %q: want 32 hex digits", s)
	}
	return netip.AddrFrom16([16]byte(b)), nil
}

// eachLine calls fn with the fields of every non-empty line, skipping a
// first line that starts with header (when header is not empty).
func eachLine(r io.Reader, name, header string, fn func([]string) error) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || (line == 1 && header != "" && strings.HasPrefix(text, header)) {
			continue
		}
		if err := fn(strings.Fields(text)); err != nil {
			return fmt.Errorf("parsing %s line %d: %w", name, line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading %s: %w", name, err)
	}
	return nil
}

// Filter modes of a group membership, as in RFC 3376.
const (
	ModeInclude = "include" // receive only from Sources (source-specific join)
	ModeExclude = "exclude" // receive from every source except Sources (any-source join)
)

// Membership is one group joined on an interface, with its source filter.
type Membership struct {
	Group netip.Addr `json:"group"`
	Users int        `json:"users"`
	// Mode is "include" when every listed source is only included (a
	// source-specific join), otherwise "exclude" (any-source join, with
	// Sources excluded). /proc does not show the mode itself: a group held
	// by both an SSM and an ASM socket is shown as include.
	Mode    string   `json:"mode"`
	Sources []Source `json:"sources,omitempty"`
	// Reporter is true when this host sent the last report for the group
	// (/proc/net/igmp, IPv4 only).
	Reporter bool `json:"reporter,omitempty"`
}

// Source is one source address in a membership's filter, with how many
// sockets include and exclude it.
type Source struct {
	Addr    netip.Addr `json:"source"`
	Include int        `json:"include"`
	Exclude int        `json:"exclude"`
}

// IfaceGroups is the multicast state of one interface: what `ip maddress
// show` shows, plus versions and source filters.
type IfaceGroups struct {
	Index       int          `json:"index"`
	Name        string       `json:"name"`
	IGMPVersion int          `json:"igmp_version,omitempty"` // version in use (0: no IPv4 on the interface)
	MLDVersion  int          `json:"mld_version,omitempty"`  // 1 when forced by force_mld_version, else 2 (0: no IPv6)
	IPv4        []Membership `json:"ipv4"`
	IPv6        []Membership `json:"ipv6"`
	Link        []LinkAddr   `json:"link"`
}

// Groups reads /proc/net/igmp, igmp6, dev_mcast, mcfilter and mcfilter6 and
// combines them per interface, sorted by interface index.
func (fs FS) Groups() ([]IfaceGroups, error) {
	open := func(name string) (*os.File, error) {
		return os.Open(filepath.Join(fs.Root, "proc", "net", name))
	}
	var (
		v4    []IGMPIface
		v6    []IGMP6Group
		link  []LinkAddr
		filt  []SourceFilter
		filt6 []SourceFilter
	)
	steps := []struct {
		name     string
		optional bool // missing when the kernel lacks IPv6
		parse    func(io.Reader) error
	}{
		{"igmp", false, func(r io.Reader) (err error) { v4, err = ParseIGMP(r); return }},
		{"igmp6", true, func(r io.Reader) (err error) { v6, err = ParseIGMP6(r); return }},
		{"dev_mcast", false, func(r io.Reader) (err error) { link, err = ParseDevMcast(r); return }},
		{"mcfilter", false, func(r io.Reader) (err error) { filt, err = ParseMcfilter(r); return }},
		{"mcfilter6", true, func(r io.Reader) (err error) { filt6, err = ParseMcfilter6(r); return }},
	}
	for _, s := range steps {
		f, err := open(s.name)
		if err != nil {
			if s.optional && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("reading multicast groups: %w", err)
		}
		err = s.parse(f)
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return fs.combine(v4, v6, link, append(filt, filt6...)), nil
}

func (fs FS) combine(v4 []IGMPIface, v6 []IGMP6Group, link []LinkAddr, filt []SourceFilter) []IfaceGroups {
	byIdx := map[int]*IfaceGroups{}
	get := func(idx int, name string) *IfaceGroups {
		g := byIdx[idx]
		if g == nil {
			g = &IfaceGroups{Index: idx, Name: name}
			byIdx[idx] = g
		}
		return g
	}
	type key struct {
		idx int
		grp netip.Addr
	}
	srcs := map[key][]SourceFilter{}
	for _, f := range filt {
		k := key{f.Index, f.Group}
		srcs[k] = append(srcs[k], f)
	}
	member := func(idx int, grp netip.Addr, users int) Membership {
		m := Membership{Group: grp, Users: users, Mode: ModeExclude}
		s := srcs[key{idx, grp}]
		if len(s) > 0 {
			m.Mode = ModeInclude
			for _, f := range s {
				if f.Exclude > 0 || f.Include == 0 {
					m.Mode = ModeExclude
				}
			}
			for _, f := range s {
				m.Sources = append(m.Sources, Source{Addr: f.Source, Include: f.Include, Exclude: f.Exclude})
			}
		}
		return m
	}
	for _, i := range v4 {
		g := get(i.Index, i.Name)
		g.IGMPVersion = i.Version
		for _, gr := range i.Groups {
			m := member(i.Index, gr.Group, gr.Users)
			m.Reporter = gr.Reporter
			g.IPv4 = append(g.IPv4, m)
		}
	}
	for _, r := range v6 {
		g := get(r.Index, r.Iface)
		g.IPv6 = append(g.IPv6, member(r.Index, r.Group, r.Users))
		if g.MLDVersion == 0 {
			g.MLDVersion = 2
			if n, err := fs.SysctlInt("net.ipv6.conf." + r.Iface + ".force_mld_version"); err == nil && n == 1 {
				g.MLDVersion = 1
			}
		}
	}
	for _, l := range link {
		g := get(l.Index, l.Iface)
		g.Link = append(g.Link, l)
	}
	out := make([]IfaceGroups, 0, len(byIdx))
	for _, g := range byIdx {
		for _, ms := range [][]Membership{g.IPv4, g.IPv6} {
			sort.SliceStable(ms, func(a, b int) bool { return ms[a].Group.Less(ms[b].Group) })
		}
		out = append(out, *g)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Index < out[b].Index })
	return out
}
