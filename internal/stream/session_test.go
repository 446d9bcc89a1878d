package stream_test

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/origin"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stream"
	"github.com/mcasttools/mcast/internal/wire/streamhdr"
)

var (
	eth0 = iface.Interface{Name: "eth0", Index: 2, Up: true, Multicast: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.2/24")}}
	// The host with two NICs on one subnet.
	enX0 = iface.Interface{Name: "enX0", Index: 2, Up: true, Multicast: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.12/24")}}
	enX1 = iface.Interface{Name: "enX1", Index: 3, Up: true, Multicast: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.13/24")}}
)

// sysctls makes a /proc/sys below a temporary root holding the given
// dotted names and values.
func sysctls(t testing.TB, kv map[string]string) hostfs.FS {
	root := t.TempDir()
	for k, v := range kv {
		p := filepath.Join(root, "proc", "sys", strings.ReplaceAll(k, ".", "/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return hostfs.FS{Root: root}
}

// shownDatagram is what a Display was handed.
type shownDatagram struct {
	kind stream.Kind
	nic  string // "" for an end marker
	path origin.Path
}

// recording keeps what it is shown.
type recording struct{ got []shownDatagram }

func (r *recording) Datagram(ev *stream.Event, nic *stream.NIC, p origin.Path) {
	s := shownDatagram{kind: ev.Kind, path: p}
	if nic != nil {
		s.nic = nic.Name
	}
	r.got = append(r.got, s)
}

// discard shows nothing.
type discard struct{}

func (discard) Datagram(*stream.Event, *stream.NIC, origin.Path) {}

func newSession(t testing.TB, cfg stream.SessionConfig) *stream.Session {
	if cfg.FS.Root == "" {
		cfg.FS = sysctls(t, nil)
	}
	s := stream.NewSession(cfg)
	s.Begin(time.Now())
	return s
}

// from makes n datagrams of sender 7 from src, arriving on ifindex.
func from(src string, ifindex, n int, first uint64) []sock.Datagram {
	ds := batch(n, first, 64)
	for i := range ds {
		ds[i].Src = netip.AddrPortFrom(netip.MustParseAddr(src), 4000)
		ds[i].IfIndex = ifindex
	}
	return ds
}

// The receive hot path allocates nothing per batch when nothing is shown,
// nor when lines are over their rate, and still counts every datagram per
// flow and per source.
func TestSessionHandleAllocs(t *testing.T) {
	for _, tt := range []struct {
		name string
		show stream.Show
	}{{"nothing shown", stream.ShowNone}, {"lines over the rate", stream.ShowLines}} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSession(t, stream.SessionConfig{All: []iface.Interface{eth0}, Show: tt.show, Display: discard{}})
			ds := from("10.0.0.1", 2, 64, 0)
			seq := uint64(0)
			feed := func() {
				renumber(ds, seq)
				seq += uint64(len(ds))
				s.Handle(ds)
			}
			for seq < 2*stream.LineBurst { // the flow and the source appear; the burst is spent
				feed()
			}
			if a := testing.AllocsPerRun(100, feed); a != 0 {
				t.Errorf("%.1f allocations per batch of %d, want 0", a, len(ds))
			}
			tot := s.Receiver().Totals()
			if tot.Received != seq || tot.Lost != 0 {
				t.Errorf("received %d lost %d, want %d and 0", tot.Received, tot.Lost, seq)
			}
			if n := s.NICs()[0]; n.Wire != int(seq) || n.Sources[netip.MustParseAddr("10.0.0.1")] != int(seq) {
				t.Errorf("eth0 counted %d from the wire, %v by source; want %d", n.Wire, n.Sources, seq)
			}
		})
	}
}

// Lines are shown LineBurst at once, the rest counted as hidden; end
// markers are shown only with ShowAll, and never counted into a NIC.
func TestSessionShows(t *testing.T) {
	end := from("10.0.0.1", 2, 1, 0)
	streamhdr.Put(end[0].Payload, streamhdr.Header{TTL: 1, SenderID: 7, Flags: streamhdr.FlagEnd, Seq: 3 * stream.LineBurst})

	t.Run("lines", func(t *testing.T) {
		var r recording
		s := newSession(t, stream.SessionConfig{All: []iface.Interface{eth0}, Show: stream.ShowLines, Display: &r})
		s.Handle(from("10.0.0.1", 2, 3*stream.LineBurst, 0))
		s.Handle(end)
		if len(r.got) != stream.LineBurst || s.Hidden() != 2*stream.LineBurst {
			t.Errorf("shown %d, hidden %d; want %d and %d", len(r.got), s.Hidden(), stream.LineBurst, 2*stream.LineBurst)
		}
		if r.got[0] != (shownDatagram{stream.KindInOrder, "eth0", origin.Wire}) {
			t.Errorf("first shown %+v", r.got[0])
		}
		if n := s.NICs()[0]; n.Total() != 3*stream.LineBurst {
			t.Errorf("eth0 counted %d, want %d (the end marker is not a datagram)", n.Total(), 3*stream.LineBurst)
		}
	})
	t.Run("all", func(t *testing.T) {
		var r recording
		s := newSession(t, stream.SessionConfig{All: []iface.Interface{eth0}, Show: stream.ShowAll, Display: &r})
		s.Handle(from("10.0.0.1", 2, 3*stream.LineBurst, 0))
		s.Handle(end)
		if len(r.got) != 3*stream.LineBurst+1 || s.Hidden() != 0 {
			t.Fatalf("shown %d, hidden %d; want every datagram and the end marker", len(r.got), s.Hidden())
		}
		if last := r.got[len(r.got)-1]; last.kind != stream.KindEnd || last.nic != "" {
			t.Errorf("end marker shown as %+v", last)
		}
	})
	t.Run("none", func(t *testing.T) {
		s := newSession(t, stream.SessionConfig{All: []iface.Interface{eth0}, Show: stream.ShowNone})
		s.Handle(from("10.0.0.1", 2, 64, 0))
		if s.Hidden() != 0 {
			t.Errorf("hidden %d: nothing is hidden when nothing is to be shown", s.Hidden())
		}
	})
}

// Count stops the receive in the middle of a batch.
func TestSessionCount(t *testing.T) {
	s := newSession(t, stream.SessionConfig{All: []iface.Interface{eth0}, Count: 10})
	if !s.Handle(from("10.0.0.1", 2, 64, 0)) {
		t.Fatal("Handle did not stop at --count 10")
	}
	if got := s.Receiver().Totals().Received; got != 10 {
		t.Errorf("received %d, want 10", got)
	}
}

// On the host with two NICs on one subnet, each datagram's path depends on
// where it came from and on the receiving NIC's accept_local.
func TestSessionPaths(t *testing.T) {
	own, peer := "10.0.0.12", "10.0.0.20"
	for _, tt := range []struct {
		name        string
		acceptLocal string
		want        map[string]origin.Path // "source on NIC"
	}{
		{"accept_local=1", "1", map[string]origin.Path{
			"10.0.0.20 on enX1": origin.Wire, "10.0.0.12 on enX1": origin.WireSelf, "10.0.0.12 on enX0": origin.Loopback}},
		{"accept_local=0", "0", map[string]origin.Path{
			"10.0.0.20 on enX1": origin.Wire, "10.0.0.12 on enX1": origin.Loopback, "10.0.0.12 on enX0": origin.Loopback}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := sysctls(t, map[string]string{"net.ipv4.conf.all.rp_filter": "2", "net.ipv4.conf.enX1.rp_filter": "2",
				"net.ipv4.conf.enX1.accept_local": tt.acceptLocal, "net.ipv4.conf.enX0.rp_filter": "2",
				"net.ipv4.conf.enX0.accept_local": tt.acceptLocal})
			var r recording
			s := newSession(t, stream.SessionConfig{All: []iface.Interface{enX0, enX1}, FS: fs, Show: stream.ShowAll, Display: &r})
			s.Handle(from(peer, 3, 2, 0))
			s.Handle(from(own, 3, 3, 0))
			s.Handle(from(own, 2, 4, 3))
			got := map[string]origin.Path{}
			for i, d := range r.got {
				src := peer
				if i >= 2 {
					src = own
				}
				got[src+" on "+d.nic] = d.path
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s: %s, want %s", k, got[k], want)
				}
			}
			nics := s.NICs()
			if len(nics) != 2 || nics[0].Name != "enX1" || nics[1].Name != "enX0" {
				t.Fatalf("NICs in the order first heard: %v", nics)
			}
			if x1 := nics[0]; x1.Wire != 2 || x1.WireSelf+x1.Loopback != 3 || x1.Sources[netip.MustParseAddr(own)] != 3 {
				t.Errorf("enX1 counted %+v", *x1)
			}
			if x0 := nics[1]; x0.Loopback != 4 {
				t.Errorf("enX0 counted %+v", *x0)
			}
		})
	}
}

func TestSplitGroups(t *testing.T) {
	groups := func(n int, is6 bool) []netip.Addr {
		var gs []netip.Addr
		for i := range n {
			a := netip.AddrFrom4([4]byte{239, 1, 1, byte(i + 1)})
			if is6 {
				a = netip.AddrFrom16([16]byte{0: 0xff, 1: 0x15, 15: byte(i + 1)})
			}
			gs = append(gs, a)
		}
		return gs
	}
	sizes := func(cs [][]netip.Addr) []int {
		var out []int
		for _, c := range cs {
			out = append(out, len(c))
		}
		return out
	}
	capped := sysctls(t, map[string]string{"net.ipv4.igmp_max_memberships": "7"})
	unreadable := sysctls(t, nil)
	for _, tt := range []struct {
		name string
		fs   hostfs.FS
		gs   []netip.Addr
		want []int
	}{
		{"none", capped, nil, nil},
		{"up to 20 share a socket", capped, groups(15, false), []int{15}},
		{"more than 20: the host's cap", capped, groups(30, false), []int{7, 7, 7, 7, 2}},
		{"more than 20, cap unreadable: 20", unreadable, groups(30, false), []int{20, 10}},
		{"IPv6 has no cap", capped, groups(50, true), []int{50}},
	} {
		cs := stream.SplitGroups(tt.fs, tt.gs)
		if got := sizes(cs); !slices.Equal(got, tt.want) {
			t.Errorf("%s: sockets of %v groups, want %v", tt.name, got, tt.want)
		}
		var flat []netip.Addr
		for _, c := range cs {
			flat = append(flat, c...)
		}
		if len(flat) != len(tt.gs) || (len(flat) > 0 && flat[len(flat)-1] != tt.gs[len(tt.gs)-1]) {
			t.Errorf("%s: the sockets join %v", tt.name, flat)
		}
	}
}

func TestDescribeNIC(t *testing.T) {
	fs := sysctls(t, map[string]string{"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.enX1.rp_filter": "0",
		"net.ipv4.conf.enX1.accept_local": "0"})
	other := iface.Interface{Name: "enX2", Index: 4, Addrs: []netip.Prefix{netip.MustParsePrefix("192.168.1.2/24")}}
	all := []iface.Interface{enX0, enX1, other}
	n := stream.DescribeNIC(fs, enX1, all)
	if n.Name != "enX1" || len(n.Addrs) != 1 || n.Addrs[0] != netip.MustParseAddr("10.0.0.13") {
		t.Errorf("name %s addresses %v", n.Name, n.Addrs)
	}
	if len(n.LocalPeers) != 1 || n.LocalPeers[0] != "enX0" {
		t.Errorf("local peers %v, want enX0 (same subnet) only", n.LocalPeers)
	}
	if n.AcceptsOwn || !strings.Contains(n.RejectWhy, "accept_local=0") || n.RejectFix != "sysctl -w net.ipv4.conf.enX1.accept_local=1" {
		t.Errorf("accepts own %v, why %q, fix %q", n.AcceptsOwn, n.RejectWhy, n.RejectFix)
	}
	if n := stream.DescribeNIC(fs, enX0, all); !n.AcceptsOwn {
		t.Error("enX0, whose sysctls cannot be read, is taken to accept its own wire copies")
	}
}

func BenchmarkSessionHandleQuiet(b *testing.B) {
	s := newSession(b, stream.SessionConfig{All: []iface.Interface{eth0}})
	ds := from("10.0.0.1", 2, 64, 0)
	seq := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		renumber(ds, seq)
		seq += uint64(len(ds))
		s.Handle(ds)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ds)), "ns/datagram")
}
