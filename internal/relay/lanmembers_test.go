package relay

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/wire/igmp"
	"golang.org/x/net/bpf"
)

func rec(t igmp.RecordType, g string, srcs ...string) igmp.Record {
	r := igmp.Record{Type: t, Group: netip.MustParseAddr(g)}
	for _, s := range srcs {
		r.Sources = append(r.Sources, netip.MustParseAddr(s))
	}
	return r
}

func v3(recs ...igmp.Record) *igmp.Message {
	return &igmp.Message{Proto: igmp.IGMP, Version: 3, Kind: igmp.Report, Records: recs}
}

func TestLANMembers(t *testing.T) {
	t0 := time.Unix(1000, 0)
	self := netip.MustParseAddr("10.0.2.10")
	type step struct {
		at      time.Duration
		src     string
		msg     *igmp.Message
		expire  bool
		changed bool
		want    map[string]int // groups after the step
	}
	g1, g2 := "239.1.1.1", "239.1.1.2"
	tests := []struct {
		name  string
		steps []step
	}{
		{"v3 join, refresh, leave", []step{
			{src: "10.0.2.20", msg: v3(rec(igmp.ChangeToExclude, g1)), changed: true, want: map[string]int{g1: 1}},
			{at: time.Second, src: "10.0.2.21", msg: v3(rec(igmp.ModeIsExclude, g1), rec(igmp.ModeIsExclude, g2)), changed: true, want: map[string]int{g1: 2, g2: 1}},
			{at: 2 * time.Second, src: "10.0.2.20", msg: v3(rec(igmp.ModeIsExclude, g1)), want: map[string]int{g1: 2, g2: 1}},
			{at: 3 * time.Second, src: "10.0.2.21", msg: v3(rec(igmp.ChangeToInclude, g1)), changed: true, want: map[string]int{g1: 1, g2: 1}},
		}},
		{"memberships expire unless refreshed", []step{
			{src: "10.0.2.20", msg: v3(rec(igmp.ChangeToExclude, g1)), changed: true, want: map[string]int{g1: 1}},
			{at: 200 * time.Second, src: "10.0.2.21", msg: v3(rec(igmp.ChangeToExclude, g2)), changed: true, want: map[string]int{g1: 1, g2: 1}},
			{at: DefaultMembershipInterval - time.Second, expire: true, want: map[string]int{g1: 1, g2: 1}},
			{at: DefaultMembershipInterval, expire: true, changed: true, want: map[string]int{g2: 1}},
			{at: 200*time.Second + DefaultMembershipInterval, expire: true, changed: true, want: map[string]int{}},
		}},
		{"query timers shorten the interval", []step{
			{src: "10.0.2.1", msg: &igmp.Message{Proto: igmp.IGMP, Version: 3, Kind: igmp.Query, QRV: 2, QQI: 10 * time.Second, MaxResp: time.Second}, want: map[string]int{}},
			{src: "10.0.2.20", msg: v3(rec(igmp.ChangeToExclude, g1)), changed: true, want: map[string]int{g1: 1}},
			{at: 21 * time.Second, expire: true, changed: true, want: map[string]int{}},
		}},
		{"v2 and MLDv1 reports and leaves", []step{
			{src: "10.0.2.20", msg: &igmp.Message{Proto: igmp.IGMP, Version: 2, Kind: igmp.Report, Group: netip.MustParseAddr(g1)}, changed: true, want: map[string]int{g1: 1}},
			{src: "fe80::2", msg: &igmp.Message{Proto: igmp.MLD, Version: 1, Kind: igmp.Report, Group: netip.MustParseAddr("ff15::1")}, changed: true, want: map[string]int{g1: 1, "ff15::1": 1}},
			{src: "10.0.2.20", msg: &igmp.Message{Proto: igmp.IGMP, Version: 2, Kind: igmp.Leave, Group: netip.MustParseAddr(g1)}, changed: true, want: map[string]int{"ff15::1": 1}},
			{src: "fe80::2", msg: &igmp.Message{Proto: igmp.MLD, Version: 1, Kind: igmp.Leave, Group: netip.MustParseAddr("ff15::1")}, changed: true, want: map[string]int{}},
		}},
		{"source-specific records", []step{
			{src: "10.0.2.20", msg: v3(rec(igmp.AllowNewSources, "232.1.1.1", "10.0.1.10")), changed: true, want: map[string]int{"232.1.1.1": 1}},
			{src: "10.0.2.20", msg: v3(rec(igmp.BlockOldSources, "232.1.1.1", "10.0.1.10")), want: map[string]int{"232.1.1.1": 1}},
			{src: "10.0.2.20", msg: v3(rec(igmp.ChangeToInclude, "232.1.1.1")), changed: true, want: map[string]int{}},
		}},
		{"a skipped host's reports do not count", []step{
			{src: "10.0.2.11", msg: v3(rec(igmp.ChangeToExclude, g1)), changed: true, want: map[string]int{}},
		}},
		{"a non-multicast group is ignored", []step{
			{src: "10.0.2.20", msg: v3(rec(igmp.ChangeToExclude, "10.1.1.1")), want: map[string]int{}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLANMembers()
			skip := func(a netip.Addr) bool { return a == netip.MustParseAddr("10.0.2.11") }
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				var changed bool
				if s.expire {
					changed = l.Expire(now)
				} else {
					changed = l.Observe(now, netip.MustParseAddr(s.src), self, s.msg)
				}
				got := map[string]int{}
				for g, n := range l.Groups(skip) {
					got[g.String()] = n
				}
				if changed != s.changed || !mapsEqual(got, s.want) {
					t.Fatalf("step %d: changed %v groups %v, want %v %v", i, changed, got, s.changed, s.want)
				}
			}
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestLANMembersQuerier(t *testing.T) {
	t0 := time.Unix(1000, 0)
	self := netip.MustParseAddr("10.0.2.10")
	q := &igmp.Message{Proto: igmp.IGMP, Version: 3, Kind: igmp.Query}
	l := NewLANMembers()
	if l.OtherQuerier(t0, false) {
		t.Fatal("a querier before any query")
	}
	l.Observe(t0, netip.MustParseAddr("10.0.2.20"), self, q) // higher: this relay wins
	if l.OtherQuerier(t0, false) {
		t.Fatal("a higher-addressed querier silenced the relay")
	}
	l.Observe(t0, netip.MustParseAddr("0.0.0.0"), self, q) // a bridge's querier
	if !l.OtherQuerier(t0.Add(time.Minute), false) || l.OtherQuerier(t0.Add(time.Minute), true) {
		t.Fatal("the bridge's IPv4 query should silence IPv4 queries only")
	}
	if l.OtherQuerier(t0.Add(otherQuerierInterval), false) {
		t.Fatal("the other querier never times out")
	}
}

func TestQueriesDecode(t *testing.T) {
	p, err := igmp.DecodeIP(AppendIGMPQuery(nil, netip.MustParseAddr("10.0.2.10")))
	if err != nil || p.Msg == nil || p.Msg.Kind != igmp.Query || p.Msg.Version != 3 || !p.Msg.General() || !p.RouterAlert ||
		p.TTL != 1 || p.Dst != netip.MustParseAddr("224.0.0.1") || p.Msg.QRV != 2 || p.Msg.QQI != 125*time.Second || p.Msg.MaxResp != 10*time.Second {
		t.Fatalf("IGMP query decodes as %+v %+v, %v", p, p.Msg, err)
	}
	p, err = igmp.DecodeIP(AppendMLDQuery(nil, netip.MustParseAddr("fe80::1")))
	if err != nil || p.Msg == nil || p.Msg.Kind != igmp.Query || p.Msg.Version != 2 || !p.Msg.General() || !p.RouterAlert ||
		p.TTL != 1 || p.Dst != netip.MustParseAddr("ff02::1") || p.Msg.QRV != 2 || p.Msg.QQI != 125*time.Second || p.Msg.MaxResp != 10*time.Second {
		t.Fatalf("MLD query decodes as %+v %+v, %v", p, p.Msg, err)
	}
}

func TestMembershipFilter(t *testing.T) {
	vm, err := bpf.NewVM(MembershipFilter())
	if err != nil {
		t.Fatal(err)
	}
	v6 := func(next, after byte) []byte {
		b := make([]byte, 48)
		b[0], b[6], b[40] = 0x60, next, after
		return b
	}
	udp4 := AppendIPv4UDP(nil, netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("239.1.1.1:2"), 0, 1, nil)
	igmp4 := AppendIGMPQuery(nil, netip.MustParseAddr("10.0.0.1"))
	short := make([]byte, 30)
	binary.BigEndian.PutUint16(short, 0x6000)
	tests := []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"IGMP", igmp4, true},
		{"IPv4 UDP", udp4, false},
		{"MLD query", AppendMLDQuery(nil, netip.MustParseAddr("fe80::1")), true},
		{"ICMPv6 without extension", v6(58, 0), true},
		{"IPv6 UDP", v6(17, 0), false},
		{"IPv6 hop-by-hop then UDP", v6(0, 17), false},
		{"ARP-like", []byte{0, 1, 8, 0}, false},
		{"short IPv6", short, false},
	}
	for _, tt := range tests {
		n, err := vm.Run(tt.pkt)
		if got := err == nil && n > 0; got != tt.want {
			t.Errorf("%s: accepted %v (%d, %v), want %v", tt.name, got, n, err, tt.want)
		}
	}
}

// FuzzLANMembers feeds decoded packets of any content to the membership
// table: it must never panic, and only multicast groups may appear.
func FuzzLANMembers(f *testing.F) {
	f.Add(AppendIGMPQuery(nil, netip.MustParseAddr("10.0.2.10")))
	f.Add(AppendMLDQuery(nil, netip.MustParseAddr("fe80::1")))
	for _, name := range []string{"join-ff15--4242.bin", "leave-ff15--4242.bin"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "mldv2", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := igmp.DecodeIP(b)
		if err != nil || p.Msg == nil {
			return
		}
		l := NewLANMembers()
		now := time.Unix(1000, 0)
		l.Observe(now, p.Src, netip.MustParseAddr("10.0.2.10"), p.Msg)
		for g := range l.Groups(nil) {
			if !g.IsMulticast() {
				t.Fatalf("group %s is not multicast", g)
			}
		}
		l.Expire(now.Add(time.Hour))
		if len(l.Groups(nil)) != 0 {
			t.Fatal("memberships outlived every interval")
		}
	})
}

func TestCaptureFilter4(t *testing.T) {
	vm, err := bpf.NewVM(CaptureFilter4(netip.MustParseAddr("10.0.2.255")))
	if err != nil {
		t.Fatal(err)
	}
	src := netip.MustParseAddrPort("10.0.2.10:1000")
	for _, tt := range []struct {
		dst  string
		want bool
	}{
		{"239.1.1.1:5000", true}, {"224.0.0.251:5353", true}, {"255.255.255.255:5000", true},
		{"10.0.2.255:5000", true}, {"10.0.2.10:7474", false}, {"10.0.1.10:4789", false}, {"240.0.0.1:1", false},
	} {
		pkt := AppendIPv4UDP(nil, src, netip.MustParseAddrPort(tt.dst), 0, 1, []byte("x"))
		n, err := vm.Run(pkt)
		if got := err == nil && n > 0; got != tt.want {
			t.Errorf("%s: kept %v, want %v", tt.dst, got, tt.want)
		}
	}
}

func TestSkipMarkedAssembles(t *testing.T) {
	f := CaptureFilter4(netip.MustParseAddr("10.0.2.255"))
	prog, err := bpf.Assemble(SkipMarked(f))
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) != len(f)+3 {
		t.Fatalf("%d instructions, want %d", len(prog), len(f)+3)
	}
	if want := (bpf.LoadExtension{Num: bpf.ExtMark}); SkipMarked(f)[0] != want {
		t.Fatalf("first instruction %v, want %v", SkipMarked(f)[0], want)
	}
}

// TestLANMembersMLDv2: an MLDv2 report as Linux sends it by default (bytes
// captured from a host joining ff15::4242 on a veth pair in a network
// namespace, then leaving it: testdata/mldv2) makes a membership for the
// group of its record, and the empty TO_IN record of the leave ends it.
func TestLANMembersMLDv2(t *testing.T) {
	t0 := time.Unix(1000, 0)
	self := netip.MustParseAddr("fe80::1")
	group := netip.MustParseAddr("ff15::4242")
	l := NewLANMembers()
	for i, step := range []struct {
		file string
		want int
	}{{"join-ff15--4242.bin", 1}, {"leave-ff15--4242.bin", 0}} {
		b, err := os.ReadFile(filepath.Join("testdata", "mldv2", step.file))
		if err != nil {
			t.Fatal(err)
		}
		p, err := igmp.DecodeIP(b)
		if err != nil || p.Msg == nil || p.Msg.Proto != igmp.MLD || p.Msg.Version != 2 {
			t.Fatalf("%s: decodes as %+v, %v; want an MLDv2 message", step.file, p.Msg, err)
		}
		if !l.Observe(t0.Add(time.Duration(i)*time.Second), p.Src, self, p.Msg) {
			t.Errorf("%s: the membership table did not change", step.file)
		}
		got := l.Groups(nil)
		if len(got) != step.want || got[group] != step.want {
			t.Fatalf("after %s: groups %v, want %s on %d host(s)", step.file, got, group, step.want)
		}
	}
}
