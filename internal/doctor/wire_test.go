package doctor_test

import (
	"context"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcasttools/mcast/internal/doctor"
	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/packet"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func heardQuery(at time.Duration, iface, src string, proto string, version int) doctor.HeardQuery {
	return doctor.HeardQuery{Time: t0.Add(at), Iface: iface, Src: ip(src), Proto: proto, Version: version, General: true,
		MaxResp: 10 * time.Second, QQI: 125 * time.Second}
}

// wireHost is a lan node whose wire carries the given queries; calls
// counts how often doctor listened, stopped how many queries it took.
type wireHost struct {
	queries []doctor.HeardQuery
	calls   atomic.Int32
	stopped atomic.Int32
}

func (w *wireHost) listen(_ context.Context, iface string, d time.Duration, enough func([]doctor.HeardQuery) bool) ([]doctor.HeardQuery, error) {
	w.calls.Add(1)
	var got []doctor.HeardQuery
	for _, q := range w.queries {
		if iface != "" && q.Iface != iface {
			continue
		}
		got = append(got, q)
		if enough(got) {
			w.stopped.Store(int32(len(got)))
			break
		}
	}
	return got, nil
}

func TestListenLimits(t *testing.T) {
	base := sysctls("net.ipv4.igmp_max_memberships=20", "net.ipv4.igmp_max_msf=10", "net.ipv4.conf.all.force_igmp_version=0")
	base["proc/net/igmp"] = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter"
	v3 := []doctor.HeardQuery{heardQuery(0, "eth0", "0.0.0.0", "MLD", 2), heardQuery(time.Second, "eth0", "0.0.0.0", "IGMP", 3), heardQuery(4*time.Second, "eth0", "0.0.0.0", "IGMP", 3)}
	tests := []struct {
		name    string
		forced  string
		root    bool
		listen  time.Duration
		queries []doctor.HeardQuery
		status  doctor.Status
		want    []string
	}{
		{"forced v2 against a v3 querier on the wire", "2", true, 10 * time.Second, v3, doctor.Fail, []string{
			"eth0 is forced to IGMPv2 but its querier (0.0.0.0 on the wire) speaks IGMPv3",
			"eth0: IGMPv3 querier 0.0.0.0 heard on the wire (1 query, max resp 10s, query interval 2m5s); from no address",
			"net.ipv4.conf.all.force_igmp_version=0, net.ipv4.conf.eth0.force_igmp_version=2",
			"sysctl -w net.ipv4.conf.all.force_igmp_version=0 net.ipv4.conf.eth0.force_igmp_version=0"}},
		{"not forced, v3 querier on the wire", "0", true, 10 * time.Second, v3, doctor.OK, []string{
			"eth0: IGMPv3 querier 0.0.0.0 heard on the wire"}},
		{"forced v2, v2 querier on the wire", "2", true, 10 * time.Second, []doctor.HeardQuery{heardQuery(0, "eth0", "10.0.0.254", "IGMP", 2)}, doctor.OK, []string{
			"eth0: querier 10.0.0.254 on the wire speaks IGMPv2 too"}},
		{"forced v2, nothing heard", "2", true, 10 * time.Second, nil, doctor.Warn, []string{
			"eth0 is forced to IGMPv2 (no querier heard in 10s)", "eth0: no IGMP query heard in 10s of listening"}},
		{"forced v2, not asked to listen", "2", true, 0, v3, doctor.Warn, []string{
			"eth0 is forced to IGMPv2 (querier's version unknown from here; run doctor as root with --listen 130s to hear it)"}},
		{"forced v2, no root to listen", "2", false, 10 * time.Second, v3, doctor.Warn, []string{
			"could not listen for queriers: listening needs root (CAP_NET_RAW)", "querier's version unknown from here"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{}
			for k, v := range base {
				files[k] = v
			}
			for k, v := range sysctls("net.ipv4.conf.eth0.force_igmp_version=" + tt.forced) {
				files[k] = v
			}
			w := &wireHost{queries: tt.queries}
			h := &doctor.Host{Net: lanNode(), FS: root(t, "", files), Root: tt.root, Listen: w.listen}
			expect(t, run(t, h, doctor.Target{Iface: "eth0", Listen: tt.listen}, "limits"), tt.status, tt.want...)
			if tt.listen == 0 || !tt.root {
				if w.calls.Load() != 0 {
					t.Errorf("listened %d times, want none", w.calls.Load())
				}
			}
		})
	}
}

func TestListenSnooping(t *testing.T) {
	tests := []struct {
		name    string
		listen  time.Duration
		queries []doctor.HeardQuery
		status  doctor.Status
		want    []string
	}{
		{"querier heard", 10 * time.Second, []doctor.HeardQuery{heardQuery(0, "eth0", "10.0.0.254", "IGMP", 3)}, doctor.OK, []string{
			"no Linux bridge on this host; the segment has an IGMP querier: 10.0.0.254 (IGMPv3) on eth0",
			"eth0: IGMPv3 querier 10.0.0.254 heard on the wire (1 query, max resp 10s, query interval 2m5s)"}},
		{"short listen, nothing heard", 10 * time.Second, nil, doctor.OK, []string{
			"no IGMP query heard on eth0 in 10s (a querier sends one every 125 s by default", "eth0: no IGMP or MLD query heard in 10s of listening"}},
		{"long listen, nothing heard", 130 * time.Second, nil, doctor.Warn, []string{
			"no IGMP querier heard on eth0 in 2m10s: if a switch on the segment snoops IGMP, it expires memberships after about 260 s",
			"enable an IGMP querier on the segment"}},
		{"long listen, only MLD heard", 130 * time.Second, []doctor.HeardQuery{heardQuery(0, "eth0", "fe80::1", "MLD", 2)}, doctor.Warn, []string{
			"no IGMP querier heard on eth0 in 2m10s", "eth0: MLDv2 querier fe80::1 heard on the wire"}},
		{"not asked", 0, nil, doctor.OK, []string{"--listen 130s hears their querier on the wire"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &wireHost{queries: tt.queries}
			h := &doctor.Host{Net: lanNode(), FS: root(t, "", nil), Root: true, Listen: w.listen}
			expect(t, run(t, h, doctor.Target{Listen: tt.listen}, "snooping"), tt.status, tt.want...)
		})
	}
}

// The checks share one listen, which stops once every interface heard an
// IGMP query.
func TestListenOnceStopsEarly(t *testing.T) {
	n := twonicHost()
	w := &wireHost{queries: []doctor.HeardQuery{
		heardQuery(0, "enX0", "10.0.0.1", "IGMP", 3),
		heardQuery(0, "enX0", "fe80::1", "MLD", 2),
		heardQuery(time.Second, "enX1", "10.0.0.1", "IGMP", 3),
		heardQuery(2*time.Second, "enX1", "10.0.0.1", "IGMP", 3),
	}}
	h := &doctor.Host{Net: n, FS: root(t, "twonic-host", nil), Root: true, Listen: w.listen,
		Rules: func(context.Context) (doctor.Rulesets, error) {
			return doctor.Rulesets{NftJSON: `{"nftables":[]}`}, nil
		}}
	reports := doctor.Run(context.Background(), doctor.Catalog(h, doctor.Target{TTL: 1, Listen: time.Minute}), 5*time.Second)
	if w.calls.Load() != 1 || w.stopped.Load() != 3 {
		t.Errorf("listened %d times, stopped after %d queries; want once, after 3", w.calls.Load(), w.stopped.Load())
	}
	for _, r := range reports {
		if r.Check == "snooping" && r.Summary != "no Linux bridge on this host; the segment has an IGMP querier: 10.0.0.1 (IGMPv3) on enX0 and 10.0.0.1 (IGMPv3) on enX1" {
			t.Errorf("snooping: %s", r.Summary)
		}
	}
}

func TestQueryOfAndSummarize(t *testing.T) {
	q3 := igmp.Packet{Packet: packet.Packet{Src: ip("10.0.0.254"), Dst: ip("224.0.0.1")}, Msg: &igmp.Message{Proto: igmp.IGMP, Version: 3, Kind: igmp.Query, Group: netip.IPv4Unspecified(), MaxResp: 10 * time.Second, QQI: 125 * time.Second}}
	gsq := igmp.Packet{Packet: packet.Packet{Src: ip("10.0.0.254"), Dst: ip("239.1.1.1")}, Msg: &igmp.Message{Proto: igmp.IGMP, Version: 3, Kind: igmp.Query, Group: ip("239.1.1.1"), MaxResp: time.Second}}
	mld := igmp.Packet{Packet: packet.Packet{Src: ip("fe80::1"), Dst: ip("ff02::1")}, Msg: &igmp.Message{Proto: igmp.MLD, Version: 2, Kind: igmp.Query, Group: netip.IPv6Unspecified(), MaxResp: 10 * time.Second}}
	report := igmp.Packet{Packet: packet.Packet{Src: ip("10.0.0.2"), Dst: ip("224.0.0.22")}, Msg: &igmp.Message{Proto: igmp.IGMP, Version: 3, Kind: igmp.Report}}
	data := igmp.Packet{Packet: packet.Packet{Src: ip("10.0.0.2"), Dst: ip("239.1.1.1"), UDP: &packet.UDP{}}}

	var qs []doctor.HeardQuery
	for i, p := range []igmp.Packet{q3, report, gsq, data, mld, q3} {
		if q, ok := doctor.QueryOf(t0.Add(time.Duration(i)*time.Second), "eth0", p); ok {
			qs = append(qs, q)
		}
	}
	if len(qs) != 4 || !qs[0].General || qs[1].General || qs[1].Group != ip("239.1.1.1") || qs[2].Proto != "MLD" {
		t.Fatalf("queries %+v", qs)
	}
	want := []doctor.WireQuerier{
		{Iface: "eth0", Addr: ip("10.0.0.254"), Proto: "IGMP", Version: 3, Queries: 3, First: t0, Last: t0.Add(5 * time.Second), MaxResp: 10 * time.Second, QQI: 125 * time.Second},
		{Iface: "eth0", Addr: ip("fe80::1"), Proto: "MLD", Version: 2, Queries: 1, First: t0.Add(4 * time.Second), Last: t0.Add(4 * time.Second), MaxResp: 10 * time.Second},
	}
	if diff := cmp.Diff(want, doctor.SummarizeQueries(qs), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
		t.Errorf("SummarizeQueries (-want +got):\n%s", diff)
	}
}
