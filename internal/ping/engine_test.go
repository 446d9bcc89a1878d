package ping_test

import (
	"math"
	"net/netip"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/ping"
	"github.com/mcasttools/mcast/internal/wire/pingmsg"
)

// net is an in-memory LAN: unicast goes to the addressed engine, group
// traffic to every other engine unless deaf says that host hears none.
type net struct {
	engines map[netip.Addr]*ping.Engine
	deaf    map[netip.Addr]bool
	now     time.Time
	answers map[netip.Addr]int
}

func (n *net) deliver(from netip.Addr, out []ping.Packet) {
	for _, p := range out {
		src := netip.AddrPortFrom(from, 4321)
		if p.Multicast {
			if n.deaf[from] {
				continue // the deaf host's group output is dropped too
			}
			for a, e := range n.engines {
				if a != from && !n.deaf[a] {
					n.handle(a, e, ping.Packet{Data: p.Data, Peer: src, Dst: p.Peer.Addr(), Multicast: true, TTL: 64, At: n.now})
				}
			}
			continue
		}
		if e, ok := n.engines[p.Peer.Addr()]; ok {
			n.handle(p.Peer.Addr(), e, ping.Packet{Data: p.Data, Peer: src, Dst: p.Peer.Addr(), TTL: 64, At: n.now})
		}
	}
}

func (n *net) handle(at netip.Addr, e *ping.Engine, pk ping.Packet) {
	out, ev := e.Handle(pk)
	for _, x := range ev {
		if x.Kind == ping.EvAnswer {
			n.answers[at]++
		}
	}
	n.deliver(at, out)
}

func run(t *testing.T, hosts []netip.Addr, deaf map[netip.Addr]bool, count int) map[netip.Addr]ping.Report {
	t.Helper()
	n := &net{engines: map[netip.Addr]*ping.Engine{}, deaf: deaf, now: time.Unix(1700000000, 0), answers: map[netip.Addr]int{}}
	seed := byte(0)
	for i, h := range hosts {
		var peers []ping.Peer
		for _, o := range hosts {
			if o != h {
				peers = append(peers, ping.Peer{Name: o.String(), Addr: o})
			}
		}
		n.engines[h] = ping.New(ping.Config{Local: h, LocalIndex: i, Peers: peers, Group: netip.MustParseAddr("232.43.211.234"),
			Port: 4321, Mode: ping.ModeSSM, Count: count, Interval: 100 * time.Millisecond, TTL: 64,
			IDs: func(b []byte) {
				for i := range b {
					seed++
					b[i] = seed
				}
			}})
		n.engines[h].Start(n.now)
	}
	for step := 0; step < 400; step++ {
		done := true
		for _, h := range hosts {
			out, _ := n.engines[h].Tick(n.now)
			n.deliver(h, out)
			done = done && n.engines[h].Done()
		}
		if done {
			break
		}
		n.now = n.now.Add(10 * time.Millisecond)
	}
	reports := map[netip.Addr]ping.Report{}
	for _, h := range hosts {
		if !n.engines[h].Done() {
			t.Fatalf("%s never finished", h)
		}
		reports[h] = n.engines[h].Report(n.now.Add(time.Second))
	}
	return reports
}

func TestEngineAllPairs(t *testing.T) {
	hosts := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("10.0.0.3")}
	deaf3 := map[netip.Addr]bool{hosts[2]: true}
	tests := []struct {
		name string
		deaf map[netip.Addr]bool
		lost func(from, to string) bool
	}{
		{"all hear all", nil, func(string, string) bool { return false }},
		{"10.0.0.3 hears no multicast", deaf3, func(f, to string) bool { return f == "10.0.0.3" || to == "10.0.0.3" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reports := run(t, hosts, tt.deaf, 5)
			for h, r := range reports {
				if len(r.Hosts) != 3 || r.Hosts[0] != "10.0.0.1" || r.Hosts[2] != "10.0.0.3" {
					t.Errorf("%s: hosts %v, want the list's order", h, r.Hosts)
				}
				for _, c := range r.Matrix {
					if !c.Known || c.Sent == 0 {
						t.Errorf("%s: cell %s hears %s unknown", h, c.From, c.To)
						continue
					}
					want := 0.0
					if tt.lost(c.From, c.To) {
						want = 100
					}
					if c.UnicastLossPct != 0 || c.MulticastLossPct != want {
						t.Errorf("%s: %s hears %s: unicast %.0f%% multicast %.0f%%, want 0%% %.0f%%", h, c.From, c.To, c.UnicastLossPct, c.MulticastLossPct, want)
					}
				}
				rr := r
				if exceeded := rr.CheckMaxLoss(50); exceeded != (tt.deaf != nil) {
					t.Errorf("%s: CheckMaxLoss(50) = %v", h, exceeded)
				}
			}
			for _, p := range reports[hosts[0]].Peers {
				if p.Unicast.Sent != 5 || p.Unicast.Received != 5 || p.State != "done" {
					t.Errorf("10.0.0.1 toward %s: %+v", p.Addr, p)
				}
			}
		})
	}
}

func TestEngineRefusesStrangersAndJunk(t *testing.T) {
	me := netip.MustParseAddr("10.0.0.1")
	e := ping.New(ping.Config{Local: me, Peers: []ping.Peer{{Name: "b", Addr: netip.MustParseAddr("10.0.0.2")}},
		Group: netip.MustParseAddr("232.43.211.234"), Port: 4321, Interval: time.Second, RespondSSM: true})
	now := time.Unix(1700000000, 0)
	stranger := netip.MustParseAddrPort("10.0.0.66:4321")
	// An Init from a host not in the list gets omping's "stop" response.
	out, _ := e.Handle(ping.Packet{Data: pingmsg.AppendInit(nil, make([]byte, 24), netip.MustParseAddr("232.43.211.234"), false, false), Peer: stranger, At: now})
	if len(out) != 1 {
		t.Fatalf("init from a stranger: %d packets", len(out))
	}
	if m, err := pingmsg.Decode(out[0].Data); err != nil || m.Type != 'S' || m.Group.IsValid() || m.SessionID != nil {
		t.Errorf("stranger got %+v, %v; want a stop response", m, err)
	}
	for _, junk := range [][]byte{nil, {'A'}, {'Q', 0, 0, 0xff, 0xff}, {'Z', 0, 0, 0, 1, 2}} {
		if out, _ := e.Handle(ping.Packet{Data: junk, Peer: stranger, At: now}); len(out) != 0 {
			t.Errorf("junk %x answered", junk)
		}
	}
	if d := e.Drops(); d.Malformed != 4 || d.UnknownSender != 1 {
		t.Errorf("drops %+v", d)
	}
	// ssmping requests are answered by unicast and to the group, from the
	// address they came to; a group ssmpingd refuses is not.
	q := pingmsg.AppendSSMQuery(nil, pingmsg.SSMQuery{PID: 9, Seq: 1, Time: now})
	out, _ = e.Handle(ping.Packet{Data: q, Peer: stranger, Dst: me, At: now})
	if len(out) != 2 || out[1].Peer != netip.MustParseAddrPort("232.43.211.234:4321") || !out[1].Multicast || out[0].Src != me {
		t.Errorf("ssmping reply: %+v", out)
	}
	bad := pingmsg.AppendSSMQuery(nil, pingmsg.SSMQuery{PID: 9, Seq: 1, Time: now, Group: netip.MustParseAddr("239.1.1.1")})
	if out, _ := e.Handle(ping.Packet{Data: bad, Peer: stranger, Dst: me, At: now}); len(out) != 0 || e.Drops().SSMRefused != 1 {
		t.Errorf("refused group answered: %+v", out)
	}
}

func TestCounter(t *testing.T) {
	var c ping.Counter
	for i, ms := range []float64{1, 2, 3, 4} {
		if c.Add(uint32(i+2), time.Duration(ms*float64(time.Millisecond)), 1) {
			t.Fatal("dup")
		}
	}
	if !c.Add(3, time.Millisecond, 1) || c.Duplicates != 1 || c.Received != 4 || c.FirstSeq != 2 {
		t.Errorf("counter %+v", c)
	}
	mn, avg, mx, sd := c.RTT()
	if mn != 1 || avg != 2.5 || mx != 4 || math.Abs(sd-1.2909944) > 1e-6 {
		t.Errorf("rtt %v %v %v %v", mn, avg, mx, sd)
	}
	tests := []struct {
		sent, recv uint64
		first      uint32
		loss, adj  float64
	}{
		{10, 10, 1, 0, 0},
		{10, 8, 3, 20, 0},
		{10, 0, 0, 100, 100},
		{0, 0, 0, 0, 0},
		{4, 3, 1, 25, 25},
	}
	for _, tt := range tests {
		if l := ping.LossPct(tt.sent, tt.recv); l != tt.loss {
			t.Errorf("LossPct(%d,%d) = %v, want %v", tt.sent, tt.recv, l, tt.loss)
		}
		if l := ping.LossFromFirstPct(tt.sent, tt.recv, tt.first); l != tt.adj {
			t.Errorf("LossFromFirstPct(%d,%d,%d) = %v, want %v", tt.sent, tt.recv, tt.first, l, tt.adj)
		}
	}
}

func FuzzEngineHandle(f *testing.F) {
	g := netip.MustParseAddr("232.43.211.234")
	f.Add(pingmsg.AppendInit(nil, make([]byte, 24), g, true, true), false)
	f.Add(pingmsg.AppendQuery(nil, pingmsg.Query{ClientID: make([]byte, 24), Seq: 1, Group: g, SessionID: make([]byte, 16)}), false)
	f.Add(pingmsg.AppendSSMQuery(nil, pingmsg.SSMQuery{PID: 1, Seq: 1, ReplySize: 60000}), false)
	f.Add([]byte{'A', 0, 0, 0, 1, 2}, true)
	f.Fuzz(func(t *testing.T, b []byte, multicast bool) {
		e := ping.New(ping.Config{Local: netip.MustParseAddr("10.0.0.1"), Peers: []ping.Peer{{Name: "b", Addr: netip.MustParseAddr("10.0.0.2")}},
			Group: g, Port: 4321, Count: 3, Interval: time.Second, RespondSSM: true})
		now := time.Unix(1700000000, 0)
		e.Start(now)
		e.Tick(now)
		out, _ := e.Handle(ping.Packet{Data: b, Peer: netip.MustParseAddrPort("10.0.0.2:4321"), Dst: netip.MustParseAddr("10.0.0.1"), Multicast: multicast, TTL: 63, At: now})
		for _, p := range out {
			if len(p.Data) > len(b)+8+pingmsg.MaxReplySize+pingmsg.MaxViewEntries*37 {
				t.Fatalf("%d-byte answer to %d bytes", len(p.Data), len(b))
			}
		}
		_ = e.Report(now)
	})
}
