package watch_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/watch"
	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/packet"
)

var a = netip.MustParseAddr

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func report(at time.Duration, src string, ver int, kind igmp.Kind, group string, recs ...igmp.Record) watch.Packet {
	m := &igmp.Message{Proto: igmp.IGMP, Version: ver, Kind: kind, Records: recs}
	if group != "" {
		m.Group = a(group)
	}
	if strings.Contains(src, ":") {
		m.Proto = igmp.MLD
	}
	dst := a("224.0.0.22")
	if m.Proto == igmp.MLD {
		dst = a("ff02::16")
	}
	return watch.Packet{Time: t0.Add(at), Iface: "eth0", Packet: igmp.Packet{Packet: packet.Packet{Src: a(src), Dst: dst}, Msg: m}}
}

func query(at time.Duration, src string, ver int) watch.Packet {
	m := &igmp.Message{Proto: igmp.IGMP, Version: ver, Kind: igmp.Query, Group: a("0.0.0.0"), MaxResp: 10 * time.Second}
	return watch.Packet{Time: t0.Add(at), Iface: "eth0", Packet: igmp.Packet{Packet: packet.Packet{Src: a(src), Dst: a("224.0.0.1")}, Msg: m}}
}

func data(at time.Duration, src, group string) watch.Packet {
	return watch.Packet{Time: t0.Add(at), Iface: "eth0", Packet: igmp.Packet{Packet: packet.Packet{Src: a(src), Dst: a(group), UDP: &packet.UDP{SrcPort: 1000, DstPort: 5000, Len: 100}}}}
}

// sent marks a packet as sent by this host.
func sent(p watch.Packet) watch.Packet {
	p.Outgoing = true
	return p
}

func rec(t igmp.RecordType, group string, srcs ...string) igmp.Record {
	r := igmp.Record{Type: t, Group: a(group)}
	for _, s := range srcs {
		r.Sources = append(r.Sources, a(s))
	}
	return r
}

// step is one input to the state and the events it must produce, written
// as "kind group host" or "warning CODE".
type step struct {
	pkt  *watch.Packet
	tick time.Duration
	want []string
}

func p(pk watch.Packet, want ...string) step { return step{pkt: &pk, want: want} }
func tick(at time.Duration, want ...string) step {
	return step{tick: at, want: want}
}

func short(e watch.Event) string {
	if e.Kind == watch.KindWarning {
		return "warning " + e.Warning
	}
	s := e.Kind + " " + e.Group.String() + " " + e.Host.String()
	if e.Kind == watch.KindQuery {
		s = e.Kind + " " + e.Host.String()
	}
	return s
}

func TestState(t *testing.T) {
	tests := []struct {
		name   string
		cfg    watch.Config
		joined map[string]map[netip.Addr]bool
		steps  []step
	}{
		{name: "v3 join, repeat, leave, repeat", steps: []step{
			p(report(0, "10.0.0.2", 3, igmp.Report, "", rec(igmp.ChangeToExclude, "239.1.1.1")), "join 239.1.1.1 10.0.0.2"),
			p(report(time.Second, "10.0.0.2", 3, igmp.Report, "", rec(igmp.ChangeToExclude, "239.1.1.1")), "report 239.1.1.1 10.0.0.2"),
			p(report(2*time.Second, "10.0.0.2", 3, igmp.Report, "", rec(igmp.ChangeToInclude, "239.1.1.1")), "leave 239.1.1.1 10.0.0.2"),
			p(report(3*time.Second, "10.0.0.2", 3, igmp.Report, "", rec(igmp.ChangeToInclude, "239.1.1.1")), "report 239.1.1.1 10.0.0.2"),
		}},
		{name: "leave of a membership older than the capture", steps: []step{
			p(report(0, "10.0.0.2", 3, igmp.Report, "", rec(igmp.ChangeToInclude, "239.1.1.1")), "leave 239.1.1.1 10.0.0.2"),
		}},
		{name: "SSM allow and block", steps: []step{
			p(report(0, "10.0.0.2", 3, igmp.Report, "", rec(igmp.AllowNewSources, "232.1.1.1", "10.0.0.1", "10.0.0.3")), "join 232.1.1.1 10.0.0.2"),
			p(report(time.Second, "10.0.0.2", 3, igmp.Report, "", rec(igmp.BlockOldSources, "232.1.1.1", "10.0.0.1")), "report 232.1.1.1 10.0.0.2"),
			p(report(2*time.Second, "10.0.0.2", 3, igmp.Report, "", rec(igmp.BlockOldSources, "232.1.1.1", "10.0.0.3")), "leave 232.1.1.1 10.0.0.2"),
		}},
		{name: "SSM allow and block retransmitted, as mcjoin and the kernel repeat state changes", steps: []step{
			p(report(0, "10.0.0.2", 3, igmp.Report, "", rec(igmp.AllowNewSources, "232.1.1.1", "10.0.0.1")), "join 232.1.1.1 10.0.0.2"),
			p(report(500*time.Millisecond, "10.0.0.2", 3, igmp.Report, "", rec(igmp.AllowNewSources, "232.1.1.1", "10.0.0.1")), "report 232.1.1.1 10.0.0.2"),
			p(report(time.Second, "10.0.0.2", 3, igmp.Report, "", rec(igmp.AllowNewSources, "232.1.1.1", "10.0.0.1", "10.0.0.5")), "join 232.1.1.1 10.0.0.2"),
			p(report(2*time.Second, "10.0.0.2", 3, igmp.Report, "", rec(igmp.BlockOldSources, "232.1.1.1", "10.0.0.5")), "report 232.1.1.1 10.0.0.2"),
			p(report(3*time.Second, "10.0.0.2", 3, igmp.Report, "", rec(igmp.BlockOldSources, "232.1.1.1", "10.0.0.1")), "leave 232.1.1.1 10.0.0.2"),
			p(report(3500*time.Millisecond, "10.0.0.2", 3, igmp.Report, "", rec(igmp.BlockOldSources, "232.1.1.1", "10.0.0.1")), "report 232.1.1.1 10.0.0.2"),
		}},
		{name: "allow of a source an exclude filter already lets through", steps: []step{
			p(report(0, "10.0.0.2", 3, igmp.Report, "", rec(igmp.ChangeToExclude, "239.1.1.1")), "join 239.1.1.1 10.0.0.2"),
			p(report(time.Second, "10.0.0.2", 3, igmp.Report, "", rec(igmp.AllowNewSources, "239.1.1.1", "10.0.0.1")), "report 239.1.1.1 10.0.0.2"),
		}},
		{name: "v2 join and leave, group filter", cfg: watch.Config{Group: a("239.2.2.2")}, steps: []step{
			p(report(0, "10.0.0.3", 2, igmp.Report, "239.2.2.2"), "join 239.2.2.2 10.0.0.3"),
			p(report(0, "10.0.0.3", 2, igmp.Report, "239.9.9.9")),
			p(report(time.Second, "10.0.0.3", 2, igmp.Report, "239.2.2.2"), "report 239.2.2.2 10.0.0.3"),
			p(report(2*time.Second, "10.0.0.3", 2, igmp.Leave, "239.2.2.2"), "leave 239.2.2.2 10.0.0.3"),
		}},
		{name: "MLDv2", steps: []step{
			p(report(0, "fe80::2", 2, igmp.Report, "", rec(igmp.ChangeToExclude, "ff0e::1:2")), "join ff0e::1:2 fe80::2"),
			p(report(time.Second, "fe80::2", 2, igmp.Report, "", rec(igmp.ChangeToInclude, "ff0e::1:2")), "leave ff0e::1:2 fe80::2"),
		}},
		{name: "no querier, then one, then silence again", cfg: watch.Config{QueryInterval: 10 * time.Second}, steps: []step{
			tick(5 * time.Second), // no segment yet
			p(report(0, "10.0.0.2", 3, igmp.Report, "", rec(igmp.ChangeToExclude, "239.1.1.1")), "join 239.1.1.1 10.0.0.2"),
			tick(9 * time.Second),
			tick(11*time.Second, "warning no_querier"),
			tick(30 * time.Second), // said once
			p(query(31*time.Second, "10.0.0.254", 3), "query 10.0.0.254"),
			tick(40 * time.Second),
			tick(42*time.Second, "warning no_querier"),
		}},
		{name: "two queriers", steps: []step{
			p(query(0, "10.0.0.254", 3), "query 10.0.0.254"),
			p(query(time.Second, "0.0.0.0", 3), "warning two_queriers", "query 0.0.0.0"),
			p(query(2*time.Second, "10.0.0.254", 3), "query 10.0.0.254"),
		}},
		{name: "version mismatch", steps: []step{
			p(query(0, "10.0.0.254", 3), "query 10.0.0.254"),
			p(report(time.Second, "10.0.0.3", 2, igmp.Report, "239.2.2.2"), "warning version_mismatch", "join 239.2.2.2 10.0.0.3"),
			p(report(2*time.Second, "10.0.0.3", 2, igmp.Report, "239.2.2.3"), "join 239.2.2.3 10.0.0.3"),
			p(report(3*time.Second, "10.0.0.2", 3, igmp.Report, "", rec(igmp.ChangeToExclude, "239.1.1.1")), "join 239.1.1.1 10.0.0.2"),
		}},
		{name: "data for an unjoined group", joined: map[string]map[netip.Addr]bool{"eth0": {a("239.1.1.1"): true}}, steps: []step{
			p(data(0, "10.0.0.3", "239.1.1.1"), "data 239.1.1.1 10.0.0.3"),
			p(data(0, "10.0.0.3", "239.7.7.7"), "data 239.7.7.7 10.0.0.3", "warning unjoined_data"),
			p(data(time.Second, "10.0.0.3", "239.7.7.7")),
			p(data(time.Second, "10.0.0.4", "239.7.7.7"), "data 239.7.7.7 10.0.0.4"),
			p(data(0, "10.0.0.3", "224.0.0.251"), "data 224.0.0.251 10.0.0.3"),
		}},
		{name: "this host's own datagrams need no join here", joined: map[string]map[netip.Addr]bool{"eth0": {}}, steps: []step{
			p(sent(data(0, "10.0.0.1", "239.7.7.7")), "data 239.7.7.7 10.0.0.1"),
			p(data(time.Second, "10.0.0.3", "239.7.7.7"), "data 239.7.7.7 10.0.0.3", "warning unjoined_data"),
		}},
		{name: "unicast ignored", steps: []step{
			p(watch.Packet{Time: t0, Packet: igmp.Packet{Packet: packet.Packet{Src: a("10.0.0.1"), Dst: a("10.0.0.2"), UDP: &packet.UDP{}}}}),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := watch.NewState(tt.cfg)
			if tt.joined != nil {
				st.SetJoined(tt.joined)
			}
			for i, s := range tt.steps {
				var evs []watch.Event
				if s.pkt != nil {
					evs = st.Packet(*s.pkt)
				} else {
					evs = st.Tick(t0.Add(s.tick))
				}
				var got []string
				for _, e := range evs {
					got = append(got, short(e))
					if e.Text == "" || strings.Contains(e.Text, "\n") {
						t.Errorf("step %d: event text %q", i, e.Text)
					}
				}
				if strings.Join(got, "; ") != strings.Join(s.want, "; ") {
					t.Errorf("step %d: got %q, want %q", i, got, s.want)
				}
			}
		})
	}
}

func TestGroupStats(t *testing.T) {
	st := watch.NewState(watch.Config{})
	for i := 0; i < 11; i++ {
		st.Packet(data(time.Duration(i)*100*time.Millisecond, "10.0.0.3", "239.7.7.7"))
	}
	gs := st.Groups()
	if len(gs) != 1 || gs[0].Packets != 11 || gs[0].Bytes != 1100 || gs[0].Rate() != 10 {
		t.Errorf("stats %+v rate %v", gs, gs[0].Rate())
	}
}

func TestRunOfflineCapture(t *testing.T) {
	f, err := os.Open("testdata/lab-v3.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := watch.NewFileSource(f, "")
	if err != nil {
		t.Fatal(err)
	}
	st := watch.NewState(watch.Config{})
	var lines []string
	err = watch.Run(context.Background(), src, st, watch.Options{Emit: func(e watch.Event) { lines = append(lines, e.Text) }})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"join   239.1.1.1 from 10.0.0.2 IGMPv3 TO_EX {} (any source)",
		"leave  239.1.1.1 from 10.0.0.2 IGMPv3 TO_IN {} (no source: leave)",
		"join   232.1.1.1 from 10.0.0.2 IGMPv3 ALLOW {10.0.0.1,10.0.0.3} (source-specific)",
		"join   ff3e::8000:1 from fe80::d8ad:f5ff:fece:963d MLDv2 ALLOW {fd00::1} (source-specific)",
		"leave  ff0e::1:2 from fe80::d8ad:f5ff:fece:963d MLDv2 TO_IN {} (no source: leave)",
		"query  general from 0.0.0.0 IGMPv3 max resp 10s, qqi 4s, qrv 2 (querier without an address",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	if len(st.Drops()) != 0 {
		t.Errorf("drops %v", st.Drops())
	}
}

func TestRunDropsGarbage(t *testing.T) {
	src := &sliceSource{frames: []packet.Frame{
		{Time: t0, LinkType: 101, Data: []byte{0x45, 0, 0}},                                  // truncated IPv4
		{Time: t0, LinkType: 1, Data: make([]byte, 20)},                                      // ethertype 0: not IP, ignored
		{Time: t0, LinkType: 101, Data: ipv4IGMP([]byte{0x16, 0, 0x12, 0x34, 239, 1, 1, 1})}, // bad checksum
	}}
	st := watch.NewState(watch.Config{})
	if err := watch.Run(context.Background(), src, st, watch.Options{}); err != nil {
		t.Fatal(err)
	}
	d := st.Drops()
	if d["truncated"] != 1 || d["bad checksum"] != 1 || len(d) != 2 {
		t.Errorf("drops %v", d)
	}
}

func ipv4IGMP(payload []byte) []byte {
	b := make([]byte, 20+len(payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8], b[9] = 1, 2
	copy(b[12:], []byte{10, 0, 0, 2, 224, 0, 0, 22})
	binary.BigEndian.PutUint16(b[10:], packet.Checksum(b[:20], 0))
	copy(b[20:], payload)
	return b
}

type sliceSource struct{ frames []packet.Frame }

func (s *sliceSource) Next(context.Context) (packet.Frame, error) {
	if len(s.frames) == 0 {
		return packet.Frame{}, io.EOF
	}
	f := s.frames[0]
	s.frames = s.frames[1:]
	return f, nil
}

func (s *sliceSource) LinkType() uint32 { return 101 }

// The scapy-crafted packets no host sends (testdata/hostile.pcap, see
// test/integration/testdata/hostile_igmp.py) are no joins: each is counted
// by why it was rejected, and only the good report at the end is shown.
func TestRunRejectsHostile(t *testing.T) {
	f, err := os.Open("testdata/hostile.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := watch.NewFileSource(f, "")
	if err != nil {
		t.Fatal(err)
	}
	st := watch.NewState(watch.Config{})
	var lines []string
	if err := watch.Run(context.Background(), src, st, watch.Options{Emit: func(e watch.Event) { lines = append(lines, e.Text) }}); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0] != "join   239.9.9.9 from 10.0.0.2 IGMPv2 report" {
		t.Errorf("events %q, want only the good report", lines)
	}
	want := map[string]int{"not a multicast group": 4, "report without records": 1, "bad IPv4 header checksum": 1, "fragmented IGMP/MLD": 1, "truncated": 1}
	if d := st.Drops(); fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("drops %v, want %v", d, want)
	}
}
