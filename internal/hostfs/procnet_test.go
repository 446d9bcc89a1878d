package hostfs_test

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mcasttools/mcast/internal/hostfs"
)

func open(t *testing.T, parts ...string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

var addrCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

// lab-n2 was recorded on a lab node holding: ASM 239.0.0.100 (two sockets),
// SSM 232.1.1.1 from 10.0.0.1 and 10.0.0.3, ASM 239.5.5.5 blocking
// 10.0.0.9, IPv6 ASM ff0e::1:2 and SSM ff3e::8000:1 from fd00::1.
func TestParseIGMP(t *testing.T) {
	tests := []struct {
		dir  string
		want []hostfs.IGMPIface
	}{
		{"lab-n2", []hostfs.IGMPIface{
			{Index: 1, Name: "lo", Count: 1, Version: 3, Groups: []hostfs.IGMPGroup{{Group: netip.MustParseAddr("224.0.0.1"), Users: 1}}},
			{Index: 2, Name: "eth0", Count: 4, Version: 3, Groups: []hostfs.IGMPGroup{
				{Group: netip.MustParseAddr("239.5.5.5"), Users: 1},
				{Group: netip.MustParseAddr("239.0.0.100"), Users: 2},
				{Group: netip.MustParseAddr("232.1.1.1"), Users: 1},
				{Group: netip.MustParseAddr("224.0.0.1"), Users: 1},
			}},
		}},
		{"lab-n3-v2", []hostfs.IGMPIface{
			{Index: 1, Name: "lo", Count: 1, Version: 3, Groups: []hostfs.IGMPGroup{{Group: netip.MustParseAddr("224.0.0.1"), Users: 1}}},
			{Index: 2, Name: "eth0", Count: 2, Version: 2, Groups: []hostfs.IGMPGroup{
				{Group: netip.MustParseAddr("239.1.2.3"), Users: 1, TimerRunning: true, TimerJiffies: 0xa0, Reporter: true},
				{Group: netip.MustParseAddr("224.0.0.1"), Users: 1},
			}},
		}},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			got, err := hostfs.ParseIGMP(open(t, tt.dir, "proc/net/igmp"))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got, addrCmp); d != "" {
				t.Errorf("ParseIGMP (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseIGMP6(t *testing.T) {
	got, err := hostfs.ParseIGMP6(open(t, "lab-n2", "proc/net/igmp6"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 8 {
		t.Fatalf("got %d lines, want 8", len(got))
	}
	want := hostfs.IGMP6Group{Index: 2, Iface: "eth0", Group: netip.MustParseAddr("ff3e::8000:1"), Users: 1, Flags: 4}
	if d := cmp.Diff(want, got[2], addrCmp); d != "" {
		t.Errorf("line 3 (-want +got):\n%s", d)
	}
}

func TestParseDevMcast(t *testing.T) {
	got, err := hostfs.ParseDevMcast(open(t, "lab-n2", "proc/net/dev_mcast"))
	if err != nil {
		t.Fatal(err)
	}
	var macs []string
	for _, l := range got {
		if l.Index != 2 || l.Iface != "eth0" || l.Users != 1 {
			t.Errorf("unexpected entry %+v", l)
		}
		macs = append(macs, l.Addr.String())
	}
	// The same list `ip maddress show dev eth0` printed at recording time.
	want := []string{"33:33:00:00:00:01", "33:33:ff:00:00:02", "01:00:5e:00:00:01", "33:33:ff:ff:26:0d",
		"01:00:5e:01:01:01", "01:00:5e:00:00:64", "01:00:5e:05:05:05", "33:33:00:01:00:02", "33:33:80:00:00:01"}
	if d := cmp.Diff(want, macs); d != "" {
		t.Errorf("addresses (-want +got):\n%s", d)
	}
}

func TestParseMcfilter(t *testing.T) {
	a := netip.MustParseAddr
	got, err := hostfs.ParseMcfilter(open(t, "lab-n2", "proc/net/mcfilter"))
	if err != nil {
		t.Fatal(err)
	}
	want := []hostfs.SourceFilter{
		{Index: 2, Iface: "eth0", Group: a("239.5.5.5"), Source: a("10.0.0.9"), Exclude: 1},
		{Index: 2, Iface: "eth0", Group: a("232.1.1.1"), Source: a("10.0.0.1"), Include: 1},
		{Index: 2, Iface: "eth0", Group: a("232.1.1.1"), Source: a("10.0.0.3"), Include: 1},
	}
	if d := cmp.Diff(want, got, addrCmp); d != "" {
		t.Errorf("ParseMcfilter (-want +got):\n%s", d)
	}
	got6, err := hostfs.ParseMcfilter6(open(t, "lab-n2", "proc/net/mcfilter6"))
	if err != nil {
		t.Fatal(err)
	}
	want6 := []hostfs.SourceFilter{{Index: 2, Iface: "eth0", Group: a("ff3e::8000:1"), Source: a("fd00::1"), Include: 1}}
	if d := cmp.Diff(want6, got6, addrCmp); d != "" {
		t.Errorf("ParseMcfilter6 (-want +got):\n%s", d)
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name  string
		parse func(string) error
		in    string
		want  string // substring of the error
	}{
		{"igmp group first", func(s string) error { _, err := hostfs.ParseIGMP(strings.NewReader(s)); return err }, "\t\t010000E0 1 0:0 0\n", "before any interface"},
		{"igmp bad version", func(s string) error { _, err := hostfs.ParseIGMP(strings.NewReader(s)); return err }, "2\teth0 : 1 V9\n", `"V9"`},
		{"igmp bad group", func(s string) error { _, err := hostfs.ParseIGMP(strings.NewReader(s)); return err }, "2\teth0 : 1 V3\n\t\tZZ 1 0:0 0\n", `"ZZ"`},
		{"igmp6 short", func(s string) error { _, err := hostfs.ParseIGMP6(strings.NewReader(s)); return err }, "1 lo ff02\n", "3 fields"},
		{"igmp6 bad addr", func(s string) error { _, err := hostfs.ParseIGMP6(strings.NewReader(s)); return err }, "1 lo ff02 1 0 0\n", `"ff02"`},
		{"dev_mcast bad mac", func(s string) error { _, err := hostfs.ParseDevMcast(strings.NewReader(s)); return err }, "2 eth0 1 0 xyz\n", `"xyz"`},
		{"mcfilter bad", func(s string) error { _, err := hostfs.ParseMcfilter(strings.NewReader(s)); return err }, "Idx\n2 eth0 0xef 0x0a000001 1 0\n", `"0xef"`},
		{"mcfilter6 bad count", func(s string) error { _, err := hostfs.ParseMcfilter6(strings.NewReader(s)); return err }, "2 eth0 ff3e0000000000000000000080000001 fd000000000000000000000000000001 x 0\n", `"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.parse(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line containing %s", err, tt.want)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	a := netip.MustParseAddr
	got, err := hostfs.FS{Root: "testdata/lab-n2"}.Groups()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "lo" || got[1].Name != "eth0" {
		t.Fatalf("interfaces %+v, want lo and eth0", got)
	}
	eth := got[1]
	if eth.IGMPVersion != 3 || eth.MLDVersion != 2 {
		t.Errorf("versions IGMPv%d MLDv%d, want 3 and 2", eth.IGMPVersion, eth.MLDVersion)
	}
	wantV4 := []hostfs.Membership{
		{Group: a("224.0.0.1"), Users: 1, Mode: hostfs.ModeExclude},
		{Group: a("232.1.1.1"), Users: 1, Mode: hostfs.ModeInclude, Sources: []hostfs.Source{{Addr: a("10.0.0.1"), Include: 1}, {Addr: a("10.0.0.3"), Include: 1}}},
		{Group: a("239.0.0.100"), Users: 2, Mode: hostfs.ModeExclude},
		{Group: a("239.5.5.5"), Users: 1, Mode: hostfs.ModeExclude, Sources: []hostfs.Source{{Addr: a("10.0.0.9"), Exclude: 1}}},
	}
	if d := cmp.Diff(wantV4, eth.IPv4, addrCmp); d != "" {
		t.Errorf("eth0 IPv4 (-want +got):\n%s", d)
	}
	var ssm6 *hostfs.Membership
	for i := range eth.IPv6 {
		if eth.IPv6[i].Group == a("ff3e::8000:1") {
			ssm6 = &eth.IPv6[i]
		}
	}
	if ssm6 == nil || ssm6.Mode != hostfs.ModeInclude || len(ssm6.Sources) != 1 || ssm6.Sources[0].Addr != a("fd00::1") {
		t.Errorf("ff3e::8000:1 = %+v, want include fd00::1", ssm6)
	}
	if len(eth.Link) != 9 {
		t.Errorf("%d link addresses, want 9", len(eth.Link))
	}
	b, err := json.Marshal(eth.Link[0])
	if err != nil || string(b) != `{"mac":"33:33:00:00:00:01","users":1,"global":false}` {
		t.Errorf("link JSON %s %v", b, err)
	}

	v2, err := hostfs.FS{Root: "testdata/lab-n3-v2"}.Groups()
	if err != nil {
		t.Fatal(err)
	}
	if v2[1].IGMPVersion != 2 || v2[1].MLDVersion != 1 {
		t.Errorf("lab-n3-v2 versions IGMPv%d MLDv%d, want 2 and 1", v2[1].IGMPVersion, v2[1].MLDVersion)
	}

	if _, err := (hostfs.FS{Root: "testdata/nonexistent"}).Groups(); err == nil {
		t.Error("Groups on a missing root: no error")
	}
	empty, err := hostfs.FS{Root: "testdata/empty"}.Groups()
	if err != nil || len(empty) != 0 {
		t.Errorf("empty root: %v %v", empty, err)
	}
}

func FuzzParseProcNet(f *testing.F) {
	for _, dir := range []string{"lab-n2", "lab-n3-v2"} {
		for _, name := range []string{"igmp", "igmp6", "dev_mcast", "mcfilter", "mcfilter6"} {
			b, err := os.ReadFile(filepath.Join("testdata", dir, "proc/net", name))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range []func(string) error{
			func(s string) error { _, err := hostfs.ParseIGMP(strings.NewReader(s)); return err },
			func(s string) error { _, err := hostfs.ParseIGMP6(strings.NewReader(s)); return err },
			func(s string) error { _, err := hostfs.ParseDevMcast(strings.NewReader(s)); return err },
			func(s string) error { _, err := hostfs.ParseMcfilter(strings.NewReader(s)); return err },
			func(s string) error { _, err := hostfs.ParseMcfilter6(strings.NewReader(s)); return err },
		} {
			_ = p(string(b))
		}
	})
}
