package watch_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcasttools/mcast/internal/watch"
	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/packet"
)

// flow is a steady stream of datagrams: every `every` from `from` until
// (not including) `to`, from src:port to group, of `size` payload bytes.
type flow struct {
	src      string
	port     uint16
	group    string
	from, to time.Duration
	every    time.Duration
	size     int
}

func (f flow) packets() []watch.Packet {
	var out []watch.Packet
	for at := f.from; at < f.to; at += f.every {
		out = append(out, watch.Packet{Time: t0.Add(at), Iface: "eth0", Packet: igmp.Packet{Packet: packet.Packet{
			Src: a(f.src), Dst: a(f.group), UDP: &packet.UDP{SrcPort: f.port, DstPort: 5000, Len: f.size}}}})
	}
	return out
}

// merge orders the packets of several flows by time.
func merge(fs ...flow) []watch.Packet {
	var out []watch.Packet
	for _, f := range fs {
		out = append(out, f.packets()...)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Time.Before(out[j-1].Time); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// rateLine sums up a rate event as "at group packets pps bps over from".
func rateLine(e watch.Event) string {
	var ss []string
	for _, s := range e.Senders {
		ss = append(ss, fmt.Sprintf("%s=%d", s.Addr, s.Packets))
	}
	return fmt.Sprintf("%s %s %d %.1f/s %.0fbit/s over %.2fs from %s",
		e.Time.Sub(t0), e.Group, e.Packets, e.PPS, e.BPS, e.IntervalSec, strings.Join(ss, ","))
}

// offline feeds packets as Run does when reading a file: reports up to each
// packet's time, then the packet, then the last report at the end.
func offline(st *watch.State, pkts []watch.Packet) []string {
	var got []string
	collect := func(evs []watch.Event) {
		for _, e := range evs {
			if e.Kind == watch.KindRate {
				got = append(got, rateLine(e))
			}
		}
	}
	var last time.Time
	for _, p := range pkts {
		collect(st.ReportsUntil(p.Time))
		collect(st.Packet(p))
		last = p.Time
	}
	collect(st.Report(last))
	return got
}

func TestRateReportsOffline(t *testing.T) {
	const iv = 5 * time.Second
	ms := time.Millisecond
	tests := []struct {
		name  string
		iv    time.Duration
		pkts  []watch.Packet
		want  []string
		group string
	}{
		{
			name: "steady 200/s: one line per interval, the short tail left to the summary",
			iv:   iv,
			pkts: merge(flow{"10.0.0.3", 4000, "239.1.1.1", 0, 12 * time.Second, 5 * ms, 100}),
			want: []string{
				"5s 239.1.1.1 1000 200.0/s 160000bit/s over 5.00s from 10.0.0.3:4000=1000",
				"10s 239.1.1.1 1000 200.0/s 160000bit/s over 5.00s from 10.0.0.3:4000=1000",
			},
		},
		{
			name: "a flow that starts late in an interval is carried to the next",
			iv:   iv,
			pkts: merge(
				flow{"10.0.0.3", 4000, "239.1.1.1", 0, 11 * time.Second, 100 * ms, 10},
				flow{"10.0.0.4", 4001, "239.2.2.2", 4 * time.Second, 11 * time.Second, 50 * ms, 10},
			),
			want: []string{
				"5s 239.1.1.1 50 10.0/s 800bit/s over 5.00s from 10.0.0.3:4000=50",
				"10s 239.1.1.1 50 10.0/s 800bit/s over 5.00s from 10.0.0.3:4000=50",
				"10s 239.2.2.2 120 20.0/s 1600bit/s over 6.00s from 10.0.0.4:4001=120",
			},
		},
		{
			name: "a flow that starts early in an interval is measured from its first datagram",
			iv:   iv,
			pkts: merge(
				flow{"10.0.0.3", 4000, "239.1.1.1", 0, 100 * ms, 100 * ms, 10}, // starts the clock
				flow{"10.0.0.4", 4001, "239.2.2.2", 2 * time.Second, 8 * time.Second, 100 * ms, 10},
			),
			want: []string{
				"5s 239.1.1.1 1 0.2/s 16bit/s over 5.00s from 10.0.0.3:4000=1",
				"5s 239.2.2.2 30 10.0/s 800bit/s over 3.00s from 10.0.0.4:4001=30",
				// The end: 7.9 s, 2.9 s into the interval.
				"7.9s 239.2.2.2 30 10.3/s 828bit/s over 2.90s from 10.0.0.4:4001=30",
			},
		},
		{
			name: "two senders, the busier first; silence skipped; a resumed flow starts a new window",
			iv:   iv,
			pkts: merge(
				flow{"10.0.0.3", 4000, "239.1.1.1", 0, 5 * time.Second, 100 * ms, 10},
				flow{"10.0.0.5", 4000, "239.1.1.1", 0, 5 * time.Second, 250 * ms, 10},
				flow{"10.0.0.3", 4000, "239.1.1.1", 31500 * ms, 36500 * ms, 100 * ms, 10},
			),
			want: []string{
				"5s 239.1.1.1 70 14.0/s 1120bit/s over 5.00s from 10.0.0.3:4000=50,10.0.0.5:4000=20",
				"35s 239.1.1.1 35 10.0/s 800bit/s over 3.50s from 10.0.0.3:4000=35",
			},
		},
		{
			name: "reports off",
			iv:   0,
			pkts: merge(flow{"10.0.0.3", 4000, "239.1.1.1", 0, 12 * time.Second, 5 * ms, 100}),
		},
		{
			name:  "--group leaves other groups out",
			iv:    iv,
			group: "239.2.2.2",
			pkts: merge(
				flow{"10.0.0.3", 4000, "239.1.1.1", 0, 6 * time.Second, 100 * ms, 10},
				flow{"10.0.0.4", 4000, "239.2.2.2", 0, 6 * time.Second, 100 * ms, 10},
			),
			want: []string{"5s 239.2.2.2 50 10.0/s 800bit/s over 5.00s from 10.0.0.4:4000=50"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := watch.Config{ReportInterval: tt.iv}
			if tt.group != "" {
				cfg.Group = a(tt.group)
			}
			got := offline(watch.NewState(cfg), tt.pkts)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("rate lines (-want +got):\n%s", diff)
			}
		})
	}
}

// Live, the report clock starts when the capture opens and Report closes
// each interval at the wall-clock time it is called.
func TestRateReportsLive(t *testing.T) {
	st := watch.NewState(watch.Config{ReportInterval: 5 * time.Second})
	st.BeginReports(t0)
	for _, p := range merge(flow{"10.0.0.3", 4000, "239.1.1.1", 1 * time.Second, 9 * time.Second, 10 * time.Millisecond, 1000}) {
		st.Packet(p)
		if p.Time.Equal(t0.Add(5 * time.Second)) {
			break
		}
	}
	evs := st.Report(t0.Add(5*time.Second + 20*time.Millisecond))
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1: %v", len(evs), evs)
	}
	e := evs[0]
	if e.Kind != watch.KindRate || e.Iface != "eth0" || e.Packets != 401 || e.IntervalSec != 4.02 ||
		len(e.Senders) != 1 || e.Senders[0] != (watch.Sender{Addr: netip.MustParseAddrPort("10.0.0.3:4000"), Source: netip.MustParseAddr("10.0.0.3"), SourcePort: 4000, Packets: 401, Bytes: 401000}) {
		t.Errorf("event %+v", e)
	}
	wantText := "rate   239.1.1.1 99.8 datagrams/s, 798.0 kbit/s payload over 4.0s from 10.0.0.3:4000 (401)"
	if e.Text != wantText {
		t.Errorf("text %q, want %q", e.Text, wantText)
	}
	// Nothing since: no line.
	if evs := st.Report(t0.Add(10 * time.Second)); len(evs) != 0 {
		t.Errorf("silent interval: %v", evs)
	}
}

func TestHumanBitRate(t *testing.T) {
	for _, tt := range []struct {
		bps  float64
		want string
	}{{0, "0 bit/s"}, {999, "999 bit/s"}, {51200, "51.2 kbit/s"}, {1.5e6, "1.50 Mbit/s"}, {2.25e9, "2.25 Gbit/s"}} {
		if got := watch.HumanBitRate(tt.bps); got != tt.want {
			t.Errorf("HumanBitRate(%v) = %q, want %q", tt.bps, got, tt.want)
		}
	}
}

func TestRateTextSenders(t *testing.T) {
	var fs []flow
	for i := range 6 {
		fs = append(fs, flow{fmt.Sprintf("10.0.0.%d", i+1), 4000, "239.1.1.1", 0, time.Duration(6-i) * time.Second, 100 * time.Millisecond, 10})
	}
	st := watch.NewState(watch.Config{ReportInterval: 10 * time.Second})
	st.BeginReports(t0)
	for _, p := range merge(fs...) {
		st.Packet(p)
	}
	evs := st.Report(t0.Add(10 * time.Second))
	if len(evs) != 1 || !strings.HasSuffix(evs[0].Text, "from 10.0.0.1:4000 (60), 10.0.0.2:4000 (50), 10.0.0.3:4000 (40), 10.0.0.4:4000 (30), and 2 more") || len(evs[0].Senders) != 6 {
		t.Errorf("%+v", evs)
	}
}
