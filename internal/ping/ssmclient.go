package ping

import (
	"net/netip"
	"time"

	"github.com/mcasttools/mcast/internal/wire/pingmsg"
)

// SSMClientConfig configures an SSMClient.
type SSMClientConfig struct {
	Local    netip.Addr
	Server   Peer
	Port     uint16     // the server's port (4321)
	Group    netip.Addr // zero: leave it to the server (ssmpingd's default)
	Mode     Mode       // ModeSSM (ssmping) or ModeASM (asmping)
	Count    int
	Interval time.Duration
	PID      uint32
}

// SSMClient pings an ssmpingd as ssmping (SSM) or asmping (ASM) do: it
// sends requests by unicast and counts the replies that come back by
// unicast and by multicast.
type SSMClient struct {
	cfg       SSMClientConfig
	seq       uint32
	next      time.Time
	last      time.Time
	counters  [2]Counter
	version   string
	drops     Drops
	done      bool
	responded bool
}

// NewSSMClient makes an SSMClient.
func NewSSMClient(cfg SSMClientConfig) *SSMClient {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	c := &SSMClient{cfg: cfg}
	c.counters[0].Dist, c.counters[1].Dist = -1, -1
	return c
}

// Start marks the start of the run: the first request goes at once.
func (c *SSMClient) Start(now time.Time) { c.next = now }

// Tick sends the request that is due.
func (c *SSMClient) Tick(now time.Time) ([]Packet, []Event) {
	if c.done || now.Before(c.next) {
		return nil, nil
	}
	if c.cfg.Count > 0 && int(c.seq) >= c.cfg.Count {
		if now.Sub(c.last) >= min(max(c.cfg.Interval, 200*time.Millisecond), time.Second) {
			c.done = true
			return nil, []Event{{Kind: EvStopped, Peer: c.cfg.Server.Name, Text: "given amount of query messages was sent"}}
		}
		return nil, nil
	}
	c.seq++
	c.last = now
	c.next = c.next.Add(c.cfg.Interval)
	if c.next.Before(now) {
		c.next = now.Add(c.cfg.Interval)
	}
	q := pingmsg.AppendSSMQuery(nil, pingmsg.SSMQuery{PID: c.cfg.PID, Seq: c.seq, Time: now, ReqVersion: c.seq == 1, Group: c.cfg.Group})
	return []Packet{{Data: q, Peer: netip.AddrPortFrom(c.cfg.Server.Addr, c.cfg.Port), Src: c.cfg.Local}}, nil
}

// NextTick is when Tick next has something to do.
func (c *SSMClient) NextTick(now time.Time) time.Time {
	if c.cfg.Count > 0 && int(c.seq) >= c.cfg.Count {
		return c.last.Add(min(max(c.cfg.Interval, 200*time.Millisecond), time.Second))
	}
	return c.next
}

// Done reports whether all requests went out and their time is up.
func (c *SSMClient) Done() bool { return c.done }

// LastHeard is always zero: nobody pings an ssmping client.
func (c *SSMClient) LastHeard() time.Time { return time.Time{} }

// Handle processes a reply.
func (c *SSMClient) Handle(pk Packet) ([]Packet, []Event) {
	if pk.Peer.Addr() != c.cfg.Server.Addr {
		c.drops.UnknownSender++
		return nil, nil
	}
	m, err := pingmsg.DecodeSSM(pk.Data)
	if err != nil || m.Type != pingmsg.SSMReply {
		c.drops.Malformed++
		return nil, nil
	}
	if !m.HasPID || m.PID != c.cfg.PID || !m.HasSeq || m.Seq == 0 || m.Seq > c.seq || c.done {
		c.drops.NotOurs++
		return nil, nil
	}
	c.responded = true
	if len(m.Version) > 0 {
		c.version = string(m.Version)
	}
	dist := -1
	switch {
	case pk.TTL > 64:
		dist = 128 - pk.TTL // as ssmping: a TTL above 64 came from 128
	case pk.TTL > 0:
		dist = 64 - pk.TTL
	}
	var rtt time.Duration
	if !m.Time.IsZero() {
		rtt = max(pk.At.Sub(m.Time), 0)
	}
	i := 0
	if pk.Multicast {
		i = 1
	}
	dup := c.counters[i].Add(m.Seq, rtt, dist)
	return nil, []Event{{Kind: EvAnswer, Peer: c.cfg.Server.Name, Addr: pk.Peer, Multicast: pk.Multicast,
		Seq: m.Seq, Size: len(pk.Data), Dist: dist, RTT: rtt, Dup: dup}}
}

// Report is the outcome: one peer, and a matrix of one row.
func (c *SSMClient) Report(time.Time) Report {
	g := c.cfg.Group
	if !g.IsValid() {
		g = pingmsg.SSMDefaultGroup(c.cfg.Server.Addr.Is6())
	}
	sent := uint64(c.seq)
	pr := PeerReport{Name: c.cfg.Server.Name, Addr: c.cfg.Server.Addr.String(), Responded: c.responded, ServerInfo: c.version,
		Unicast: castReport(&c.counters[0], sent), Multicast: castReport(&c.counters[1], sent), State: "done"}
	if !c.responded {
		pr.State = "no response"
	}
	cell := Cell{From: c.cfg.Local.String(), To: c.cfg.Server.Addr.String(), Known: true, Source: "measured", Sent: uint32(sent),
		UnicastLossPct: pr.Unicast.LossPct, MulticastLossPct: pr.Multicast.LossFromFirstPct}
	return Report{Local: c.cfg.Local.String(), Group: g.String(), Port: c.cfg.Port, Mode: c.cfg.Mode.String(),
		Protocol: "ssmping", Peers: []PeerReport{pr}, Hosts: []string{cell.From, cell.To}, Matrix: []Cell{cell}, Drops: c.drops}
}
