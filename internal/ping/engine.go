// Package ping is the multicast ping: every host in a list answers the
// others and pings each of them by unicast and by multicast (or broadcast),
// speaking omping 0.0.5's protocol on the wire, and answers ssmping and
// asmping clients as ssmpingd does. It can also ping an ssmpingd.
//
// The protocol engines (Engine for the all-to-all omping protocol,
// SSMClient for pinging an ssmpingd) are pure state machines: they take
// datagrams and the time, and return datagrams to send and events to show.
// Run (Linux only) ties one to a socket.
package ping

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"github.com/mcasttools/mcast/internal/wire/pingmsg"
)

type clientState int

const (
	csInitial clientState = iota
	csQuery
	csStop
)

type peer struct {
	Peer
	// client side: this host pinging the peer
	state       clientState
	stopReason  string
	clientID    []byte
	sessionID   []byte
	seq         uint32
	sent        uint64
	lastInit    time.Time
	lastWaitMsg time.Time
	nextQuery   time.Time
	lastQuery   time.Time
	responded   bool
	serverCaps  bool
	serverInfo  string
	counters    [2]Counter // unicast, multicast
	ledger      ledger
	// server side: the peer pinging this host
	answering  bool
	srvSession []byte
	srvInit    time.Time
	clientCaps bool
	lastHeard  time.Time
	// the peer's own view, as it last reported it
	view   []pingmsg.ViewEntry
	viewAt time.Time
}

// Engine is the all-to-all ping of one host: client of every peer and
// server to every peer, on omping's protocol.
type Engine struct {
	cfg    Config
	peers  []*peer
	byAddr map[netip.Addr]*peer
	drops  Drops
	served uint64
	start  time.Time
	hinted bool // the hint for a run alone was given
}

// initPeriod is how often an unanswered Init is repeated.
func (e *Engine) initPeriod() time.Duration {
	return min(max(e.cfg.Interval, 100*time.Millisecond), time.Second)
}

// lastWait is how long the last query waits for its answers before the
// peer's count ends: longer than grace, so that a slow answer to the last
// query on a loaded host is not counted lost.
func (e *Engine) lastWait() time.Duration {
	return max(e.grace(), time.Second)
}

// grace is how long after a query its answers still count as on time.
func (e *Engine) grace() time.Duration {
	return min(max(e.cfg.Interval, 200*time.Millisecond), time.Second)
}

// New makes an Engine.
func New(cfg Config) *Engine {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.TTL <= 0 {
		cfg.TTL = 64
	}
	e := &Engine{cfg: cfg, byAddr: map[netip.Addr]*peer{}}
	for _, p := range cfg.Peers {
		if _, dup := e.byAddr[p.Addr]; dup || p.Addr == cfg.Local {
			continue
		}
		pp := &peer{Peer: p}
		pp.clientID = e.newID(pingmsg.ClientIDLen)
		for i := range pp.counters {
			pp.counters[i].Dist = -1
		}
		if cfg.ServeOnly {
			pp.state, pp.stopReason = csStop, "serving only"
		}
		e.peers = append(e.peers, pp)
		e.byAddr[p.Addr] = pp
	}
	return e
}

// newID makes an omping-style identifier: 4 bytes of "pid" and random bytes,
// with the local address inside client IDs, as omping's util_gen_id does.
func (e *Engine) newID(n int) []byte {
	b := make([]byte, n)
	if e.cfg.IDs != nil {
		e.cfg.IDs(b)
	}
	if n == pingmsg.ClientIDLen {
		a := e.cfg.Local.As16()
		copy(b[4:20], a[:])
	}
	return b
}

// Drops returns the drop counters.
func (e *Engine) Drops() Drops { return e.drops }

// SSMServed is how many ssmping requests were answered.
func (e *Engine) SSMServed() uint64 { return e.served }

// Start marks the start of the run.
func (e *Engine) Start(now time.Time) { e.start = now }

// Tick sends what is due at now: Inits to peers that have not answered,
// queries to peers in session, and ends pinging after Count queries.
func (e *Engine) Tick(now time.Time) (out []Packet, ev []Event) {
	for _, p := range e.peers {
		switch p.state {
		case csInitial:
			if now.Sub(p.lastInit) >= e.initPeriod() {
				p.lastInit = now
				out = append(out, e.unicast(p, pingmsg.AppendInit(nil, p.clientID, e.cfg.Group, false, true)))
				if now.Sub(p.lastWaitMsg) >= time.Second {
					p.lastWaitMsg = now
					ev = append(ev, Event{Kind: EvWaiting, Peer: p.Name, Text: "waiting for response msg"})
				}
			}
		case csQuery:
			if now.Before(p.nextQuery) {
				continue
			}
			if e.cfg.Count > 0 && p.sent >= uint64(e.cfg.Count) {
				if now.Sub(p.lastQuery) >= e.lastWait() || e.lastAnswered(p) {
					p.state, p.stopReason = csStop, "given amount of query messages was sent"
					ev = append(ev, Event{Kind: EvStopped, Peer: p.Name, Text: p.stopReason})
				}
				continue
			}
			out = append(out, e.query(p, now))
			p.nextQuery = p.nextQuery.Add(e.cfg.Interval)
			if p.nextQuery.Before(now) {
				p.nextQuery = now.Add(e.cfg.Interval)
			}
		}
	}
	return out, e.aloneHint(now, ev)
}

// lastAnswered reports whether the last query got both of its answers.
func (e *Engine) lastAnswered(p *peer) bool {
	l := &p.ledger
	return l.last != 0 && l.got[l.last%dupWindow] == 3
}

// NextTick is when Tick next has something to do.
func (e *Engine) NextTick(now time.Time) time.Time {
	next := now.Add(time.Second)
	for _, p := range e.peers {
		var t time.Time
		switch p.state {
		case csInitial:
			t = p.lastInit.Add(e.initPeriod())
		case csQuery:
			t = p.nextQuery
			if e.cfg.Count > 0 && p.sent >= uint64(e.cfg.Count) {
				t = p.lastQuery.Add(e.lastWait())
				if e.lastAnswered(p) {
					t = now
				}
			}
		default:
			continue
		}
		if t.Before(next) {
			next = t
		}
	}
	if next.Before(now) {
		next = now
	}
	return next
}

// Done reports whether pinging every peer has ended.
func (e *Engine) Done() bool {
	for _, p := range e.peers {
		if p.state != csStop {
			return false
		}
	}
	return true
}

// LastHeard is the last time a peer pinged this host.
func (e *Engine) LastHeard() time.Time {
	var t time.Time
	for _, p := range e.peers {
		if p.lastHeard.After(t) {
			t = p.lastHeard
		}
	}
	return t
}

func (e *Engine) unicast(p *peer, b []byte) Packet {
	return Packet{Data: b, Peer: netip.AddrPortFrom(p.Addr, e.port()), Src: e.cfg.Local}
}

func (e *Engine) port() uint16 { return e.cfg.Port }

func (e *Engine) query(p *peer, now time.Time) Packet {
	p.seq++
	if p.seq == 0 {
		p.seq = 1
	}
	p.sent++
	p.lastQuery = now
	p.ledger.sentQuery(p.seq, now)
	q := pingmsg.Query{ClientID: p.clientID, Seq: p.seq, Time: now, Group: e.cfg.Group, SessionID: p.sessionID}
	if p.serverCaps {
		q.View, q.HasView = e.View(now), true
	}
	return e.unicast(p, pingmsg.AppendQuery(nil, q))
}

// View is this host's row of the matrix as of now: per peer, the queries
// old enough to have been answered and the answers they got.
func (e *Engine) View(now time.Time) []pingmsg.ViewEntry {
	out := make([]pingmsg.ViewEntry, 0, len(e.peers))
	for _, p := range e.peers {
		l := &p.ledger
		l.settle(now.Add(-e.grace()))
		out = append(out, pingmsg.ViewEntry{Peer: p.Addr, Sent: l.sent, UniRecv: l.uni, MultiRecv: l.multi, MultiFirst: l.mcFirst})
	}
	return out
}

// Handle processes one received datagram.
func (e *Engine) Handle(pk Packet) (out []Packet, ev []Event) {
	switch pingmsg.Classify(pk.Data) {
	case pingmsg.KindOmping:
	case pingmsg.KindSSMPing:
		return e.handleSSM(pk)
	default:
		e.drops.Malformed++
		return nil, nil
	}
	m, err := pingmsg.Decode(pk.Data)
	if err != nil {
		e.drops.Malformed++
		return nil, nil
	}
	p := e.byAddr[pk.Peer.Addr()]
	if m.Type != pingmsg.TypeAnswer && pk.Multicast {
		e.drops.NotOurs++ // only answers travel by multicast
		return nil, nil
	}
	switch m.Type {
	case pingmsg.TypeInit:
		return e.handleInit(pk, m, p), nil
	case pingmsg.TypeQuery:
		return e.handleQuery(pk, m, p), nil
	case pingmsg.TypeResponse:
		return nil, e.handleResponse(pk, m, p)
	case pingmsg.TypeAnswer:
		return nil, e.handleAnswer(pk, m, p)
	}
	e.drops.Malformed++
	return nil, nil
}

// stop is omping's "stop" Response: no group, no session.
func (e *Engine) stop(pk Packet, m pingmsg.Message) []Packet {
	r := pingmsg.Response{ClientID: m.ClientID, Seq: m.Seq, HasSeq: m.HasSeq}
	return []Packet{{Data: pingmsg.AppendResponse(nil, r), Peer: pk.Peer, Src: e.cfg.Local}}
}

func (e *Engine) handleInit(pk Packet, m pingmsg.Message, p *peer) []Packet {
	if m.Version != pingmsg.ProtocolVersion {
		e.drops.NotOurs++
		return e.stop(pk, m)
	}
	if p == nil {
		e.drops.UnknownSender++
		return e.stop(pk, m)
	}
	p.lastHeard = pk.At
	if !m.HasPrefix || !m.Prefix.Contains(e.cfg.Group) {
		// Tell the client which group this host uses.
		r := pingmsg.Response{ClientID: m.ClientID, Seq: m.Seq, HasSeq: m.HasSeq, Prefix: e.cfg.Group}
		return []Packet{{Data: pingmsg.AppendResponse(nil, r), Peer: pk.Peer, Src: e.cfg.Local}}
	}
	if p.answering && pk.At.Sub(p.srvInit) < time.Second && p.srvInit.After(time.Time{}) {
		// omping ignores Inits less than a second apart; repeat the same session.
		return e.response(pk, m, p)
	}
	p.answering, p.srvInit = true, pk.At
	p.srvSession = e.newID(pingmsg.SessionIDLen)
	p.clientCaps = m.Caps
	return e.response(pk, m, p)
}

func (e *Engine) response(pk Packet, m pingmsg.Message, p *peer) []Packet {
	r := pingmsg.Response{ClientID: m.ClientID, Seq: m.Seq, HasSeq: m.HasSeq, Group: e.cfg.Group,
		SessionID: p.srvSession, Caps: true}
	if m.ReqServerInfo {
		r.ServerInfo = e.cfg.ServerInfo
	}
	return []Packet{{Data: pingmsg.AppendResponse(nil, r), Peer: pk.Peer, Src: e.cfg.Local}}
}

func (e *Engine) handleQuery(pk Packet, m pingmsg.Message, p *peer) []Packet {
	switch {
	case m.Version != pingmsg.ProtocolVersion:
		e.drops.NotOurs++
		return e.stop(pk, m)
	case p == nil:
		e.drops.UnknownSender++
		return e.stop(pk, m)
	case !p.answering || !m.HasSeq || !m.Group.IsValid() || !bytes.Equal(m.SessionID, p.srvSession):
		e.drops.NotOurs++
		return e.stop(pk, m)
	}
	p.lastHeard = pk.At
	if m.HasView {
		p.view, p.viewAt = m.View, pk.At
	}
	var view []pingmsg.ViewEntry
	if p.clientCaps {
		view = e.View(pk.At)
	}
	a, err := pingmsg.AppendAnswer(nil, pk.Data, uint8(e.cfg.TTL), pk.At, view)
	if err != nil {
		e.drops.Malformed++
		return nil
	}
	return []Packet{
		{Data: a, Peer: pk.Peer, Src: e.cfg.Local},
		{Data: a, Peer: netip.AddrPortFrom(e.cfg.Group, pk.Peer.Port()), Src: e.cfg.Local, Multicast: true},
	}
}

func (e *Engine) handleResponse(pk Packet, m pingmsg.Message, p *peer) []Event {
	if p == nil {
		e.drops.UnknownSender++
		return nil
	}
	if p.state == csStop || !bytes.Equal(m.ClientID, p.clientID) {
		e.drops.NotOurs++
		return nil
	}
	if len(m.ServerInfo) > 0 {
		p.serverInfo = string(m.ServerInfo)
	}
	if !m.Group.IsValid() {
		if p.state == csQuery {
			// The server lost our session (it restarted): start over.
			p.state = csInitial
			p.clientID = e.newID(pingmsg.ClientIDLen)
			return nil
		}
		p.state, p.stopReason = csStop, "server told us to stop"
		if m.HasPrefix {
			p.stopReason = fmt.Sprintf("server told us to stop: it uses group %s", m.Prefix.Addr())
		}
		return []Event{{Kind: EvStopped, Peer: p.Name, Text: p.stopReason}}
	}
	if m.SessionID == nil || (p.state == csQuery && bytes.Equal(m.SessionID, p.sessionID)) {
		e.drops.NotOurs++ // no session, or a repeated response
		return nil
	}
	old := p.state
	p.state, p.responded = csQuery, true
	p.sessionID = append([]byte(nil), m.SessionID...)
	p.serverCaps = m.Caps
	var ev []Event
	if old == csInitial {
		var text string
		switch e.cfg.Mode {
		case ModeSSM:
			text = fmt.Sprintf("joined (S,G) = (%s, %s), pinging", p.Addr, e.cfg.Group)
		default:
			text = fmt.Sprintf("joined (S,G) = (*, %s), pinging", e.cfg.Group)
		}
		ev = append(ev, Event{Kind: EvJoined, Peer: p.Name, Text: text})
		p.nextQuery = pk.At // the first query goes now, on the next Tick
	}
	return ev
}

func (e *Engine) handleAnswer(pk Packet, m pingmsg.Message, p *peer) []Event {
	if p == nil {
		e.drops.UnknownSender++
		return nil
	}
	if !bytes.Equal(m.ClientID, p.clientID) || !m.HasSeq || p.state == csInitial || m.Seq > p.seq {
		e.drops.NotOurs++ // someone else's answer heard on the group, or stale
		return nil
	}
	if m.HasView {
		p.view, p.viewAt = m.View, pk.At
	}
	if p.state == csStop {
		e.drops.NotOurs++ // late
		return nil
	}
	dist := -1
	if pk.TTL > 0 && m.HasTTL && m.TTL > 0 && int(m.TTL) >= pk.TTL {
		dist = int(m.TTL) - pk.TTL
	}
	var rtt time.Duration
	if !m.ClientTime.IsZero() {
		rtt = pk.At.Sub(m.ClientTime)
		if rtt < 0 {
			rtt = -rtt
		}
	}
	i := 0
	if pk.Multicast {
		i = 1
	}
	dup := p.counters[i].Add(m.Seq, rtt, dist)
	if !dup {
		p.ledger.answered(m.Seq, pk.Multicast)
	}
	return []Event{{Kind: EvAnswer, Peer: p.Name, Addr: pk.Peer, Multicast: pk.Multicast, Seq: m.Seq,
		Size: len(pk.Data), Dist: dist, RTT: rtt, Dup: dup}}
}

func (e *Engine) handleSSM(pk Packet) ([]Packet, []Event) {
	if !e.cfg.RespondSSM || pk.Multicast {
		e.drops.NotOurs++
		return nil, nil
	}
	if m, err := pingmsg.DecodeSSM(pk.Data); err != nil || m.Type != pingmsg.SSMRequest {
		e.drops.Malformed++
		return nil, nil
	}
	out, ev, ok := ServeSSM(pk, e.cfg.ServerInfo)
	if !ok {
		e.drops.SSMRefused++
		return nil, ev
	}
	e.served++
	return out, ev
}

// ServeSSM answers an ssmping/asmping request as ssmpingd does: the reply
// goes back by unicast and to the group (the request's, or ssmpingd's
// default) at the client's port, from the address the request came to.
// ok is false when the request is malformed or names a group ssmpingd
// would refuse.
func ServeSSM(pk Packet, version string) (out []Packet, ev []Event, ok bool) {
	m, err := pingmsg.DecodeSSM(pk.Data)
	if err != nil || m.Type != pingmsg.SSMRequest {
		return nil, nil, false
	}
	src := pk.Dst
	if src.IsMulticast() {
		src = netip.Addr{}
	}
	g := m.Group
	if !g.IsValid() {
		g = pingmsg.SSMDefaultGroup(pk.Peer.Addr().Is6() && !pk.Peer.Addr().Is4In6())
	}
	if !pingmsg.SSMGroupOK(g) || g.Is4() != pk.Peer.Addr().Is4() {
		return nil, []Event{{Kind: EvDropped, Addr: pk.Peer, Text: fmt.Sprintf("ssmping request for group %s refused (ssmpingd answers only on x.x.x.234 and ...:4321:1234)", g)}}, false
	}
	r := pingmsg.AppendSSMReply(nil, pk.Data, m, version)
	out = []Packet{
		{Data: r, Peer: pk.Peer, Src: src},
		{Data: r, Peer: netip.AddrPortFrom(g, pk.Peer.Port()), Src: src, Multicast: true},
	}
	return out, []Event{{Kind: EvSSMServed, Addr: pk.Peer, Seq: m.Seq, Size: len(r),
		Text: fmt.Sprintf("answered ssmping request from %s for group %s", pk.Peer, g)}}, true
}
