package relay

// Sessions with the peers: the handshakes this relay starts and answers,
// the table of session indexes the underlay reader finds frames' sessions
// in, and their renewal. A relay initiates to every peer without a
// session at once when it starts (so a restarted relay carries again one
// round trip after its sockets open), then on every tick while a peer has
// none or its session is due for a rekey.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"golang.org/x/net/ipv4"
)

const (
	// handshakeRetry is how often a peer without a usable session gets an
	// initiation (and how often a frame naming an unknown session from a
	// peer's address may trigger one).
	handshakeRetry = time.Second
	// handshakeTimeout is how long an unanswered initiation, or an
	// answered session its initiator never used, is kept.
	handshakeTimeout = 5 * time.Second
	// maxUnconfirmed bounds the answered sessions kept per peer: a replayed
	// initiation adds one, and cannot push out more than the oldest.
	maxUnconfirmed = 4
	// maxInitsSeen bounds the initiations remembered to refuse their
	// replays (the memory is cleared when full).
	maxInitsSeen = 4096
)

// sessionRef is an entry of the session table.
type sessionRef struct {
	s *crypto.Session
	p *peer
}

// pendingRef is an initiation this relay sent.
type pendingRef struct {
	in   *crypto.Initiation
	p    *peer
	sent time.Time
	mac1 []byte // the initiation's, which a cookie reply is sealed to
}

func randOr(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}

// newIndex picks an unused, non-zero local session index. Caller holds smu.
func (r *Relay) newIndex() uint32 {
	var b [4]byte
	for {
		if _, err := io.ReadFull(randOr(r.static.Rand), b[:]); err != nil {
			panic("relay: no randomness: " + err.Error())
		}
		i := binary.BigEndian.Uint32(b[:])
		if i != 0 && r.sessions[i] == nil && r.pending[i] == nil {
			return i
		}
	}
}

// session returns the session frames with local index i belong to.
func (r *Relay) session(i uint32) (*crypto.Session, *peer) {
	r.smu.Lock()
	ref := r.sessions[i]
	r.smu.Unlock()
	if ref == nil {
		return nil, nil
	}
	return ref.s, ref.p
}

// initiateLocked starts a handshake to p and returns the initiation frame,
// nil if it could not. Caller holds smu.
func (r *Relay) initiateLocked(p *peer, now time.Time) []byte {
	idx := r.newIndex()
	in, msg, err := r.static.Initiate(crypto.PublicKey(p.cfg.Key), idx)
	if err != nil {
		r.log.Warn("starting a handshake", "peer", p.cfg.Name, "err", err)
		return nil
	}
	for i, pr := range r.pending {
		if pr.p == p {
			delete(r.pending, i)
		}
	}
	var cookie []byte
	if p.cookie != nil && now.Sub(p.cookieAt) < crypto.CookieSecretLife {
		cookie = p.cookie
	}
	f := crypto.AppendMACs(relayframe.AppendInit(nil, msg), relayframe.HeaderLen, crypto.PublicKey(p.cfg.Key), cookie)
	mac1 := f[len(f)-2*relayframe.MACLen : len(f)-relayframe.MACLen]
	r.pending[idx] = &pendingRef{in: in, p: p, sent: now, mac1: mac1}
	p.hsSent = now
	return f
}

// sendControl sends one handshake frame to p.
func (r *Relay) sendControl(p *peer, f []byte) {
	r.sendControlTo(p.udp, p.cfg.Name, f)
}

// sendControlTo sends one handshake frame to addr (named name in logs).
func (r *Relay) sendControlTo(addr *net.UDPAddr, name string, f []byte) {
	if r.io == nil {
		return
	}
	if _, err := r.io.writeFrames([]ipv4.Message{{Buffers: [][]byte{f}, Addr: addr}}); err != nil {
		r.stats.drop(DropSendError)
		r.log.Debug("sending a handshake", "to", name, "err", err)
	}
}

// installLocked makes s the session p sends with; the one it replaces
// still receives until it expires. Caller holds smu; the underlay reader
// calls it (it owns p.dedupe).
func (r *Relay) installLocked(p *peer, s *crypto.Session) {
	old := p.cur.Load()
	if p.prev != nil && p.prev != old {
		delete(r.sessions, p.prev.Local)
	}
	p.prev = old
	p.cur.Store(s)
	r.sessions[s.Local] = &sessionRef{s: s, p: p}
	// A new session may be with a restarted peer whose datagram IDs
	// start anywhere.
	p.dedupe = crypto.ReplayWindow{}
}

// onHandshake handles a handshake frame from the underlay.
func (r *Relay) onHandshake(from netip.AddrPort, h relayframe.Header, body []byte, now time.Time) {
	hs, err := relayframe.ParseHandshake(h, body)
	if err != nil {
		r.stats.drop(DropMalformed)
		return
	}
	if !r.hs.admit(r, from, h, hs, now) {
		return
	}
	if h.Type == relayframe.TypeInit {
		r.onInit(from, hs.Msg)
		return
	}
	msg := hs.Msg
	r.smu.Lock()
	pr := r.pending[h.Index]
	if pr == nil {
		r.smu.Unlock()
		r.stats.drop(DropUnknownSession)
		return
	}
	p := pr.p
	if from.Addr().Unmap() != p.cfg.Addr.Addr() {
		r.smu.Unlock()
		r.stats.drop(DropWrongSource)
		return
	}
	// A response that fails spoils the initiation (Noise has mixed it
	// in): it is retried on a later tick.
	delete(r.pending, h.Index)
	s, err := pr.in.Finish(msg, r.clock())
	if err != nil {
		r.smu.Unlock()
		r.authFailed(p, from)
		return
	}
	r.installLocked(p, s)
	r.smu.Unlock()
	r.log.Debug("session up", "peer", p.cfg.Name, "role", "initiator")
	r.heard(p, now)
}

// onInit answers an initiation from an authorised peer.
func (r *Relay) onInit(from netip.AddrPort, msg []byte) {
	r.stats.initsRead.Add(1)
	req, err := r.static.ReadInit(msg)
	if err != nil {
		r.mu.Lock()
		p := r.byAddr(from.Addr().Unmap())
		r.mu.Unlock()
		if p == nil {
			r.stats.drop(DropAuth)
			return
		}
		r.authFailed(p, from)
		return
	}
	r.mu.Lock()
	p := r.byKey[req.Peer]
	r.mu.Unlock()
	if p == nil {
		r.stats.drop(DropUnknownPeer)
		return
	}
	if from.Addr().Unmap() != p.cfg.Addr.Addr() {
		r.stats.drop(DropWrongSource)
		return
	}
	sum := sha256.Sum256(msg)
	r.smu.Lock()
	if r.initsSeen[sum] {
		r.smu.Unlock()
		r.stats.drop(DropReplay)
		return
	}
	if len(r.initsSeen) >= maxInitsSeen {
		clear(r.initsSeen)
	}
	r.initsSeen[sum] = true
	idx := r.newIndex()
	s, reply, err := req.Accept(idx, r.clock())
	if err != nil {
		r.smu.Unlock()
		r.log.Warn("answering a handshake", "peer", p.cfg.Name, "err", err)
		return
	}
	if len(p.nexts) == maxUnconfirmed {
		delete(r.sessions, p.nexts[0].Local)
		p.nexts = p.nexts[1:]
	}
	p.nexts = append(p.nexts, s)
	r.sessions[idx] = &sessionRef{s: s, p: p}
	r.smu.Unlock()
	r.sendControl(p, crypto.AppendMACs(relayframe.AppendResponse(nil, req.Remote, reply), relayframe.HeaderLen, req.Peer, nil))
}

// confirm is called for an authenticated frame in s, a session of p this
// relay does not send with. If this relay answered its handshake, its
// initiator has begun to use it; if it is newer than the current one,
// this relay sends with it from now on.
func (r *Relay) confirm(p *peer, s *crypto.Session) {
	r.smu.Lock()
	promoted := false
	for i, n := range p.nexts {
		if n != s {
			continue
		}
		p.nexts = append(p.nexts[:i], p.nexts[i+1:]...)
		if cur := p.cur.Load(); cur == nil || !s.Created.Before(cur.Created) {
			r.installLocked(p, s)
			promoted = true
		} else {
			p.prev = s // older than cur: receive with it until it expires
		}
		break
	}
	r.smu.Unlock()
	if promoted {
		r.log.Debug("session up", "peer", p.cfg.Name, "role", "responder")
		r.kickTick() // so that it hears our interests at once
	}
}

// unknownSession counts a frame naming no session; from a peer's address,
// it is likely a peer still using a session this relay lost (it
// restarted): a handshake then, at most every handshakeRetry.
func (r *Relay) unknownSession(from netip.AddrPort, now time.Time) {
	r.stats.drop(DropUnknownSession)
	r.mu.Lock()
	p := r.byAddr(from.Addr().Unmap())
	r.mu.Unlock()
	if p == nil {
		return
	}
	r.smu.Lock()
	var f []byte
	if now.Sub(p.hsSent) >= handshakeRetry {
		f = r.initiateLocked(p, now)
	}
	r.smu.Unlock()
	if f != nil {
		r.sendControl(p, f)
	}
}

// renewSessions, on each tick, forgets what expired and starts the
// handshakes peers need: none yet, or a rekey due.
func (r *Relay) renewSessions(peers []*peer, now time.Time) {
	type out struct {
		p *peer
		f []byte
	}
	var send []out
	r.smu.Lock()
	for i, pr := range r.pending {
		if now.Sub(pr.sent) >= handshakeTimeout {
			delete(r.pending, i)
		}
	}
	for _, p := range peers {
		if s := p.cur.Load(); s != nil && s.Expired(now) {
			delete(r.sessions, s.Local)
			p.cur.Store(nil)
		}
		if p.prev != nil && p.prev.Expired(now) {
			delete(r.sessions, p.prev.Local)
			p.prev = nil
		}
		for len(p.nexts) > 0 && now.Sub(p.nexts[0].Created) >= handshakeTimeout {
			delete(r.sessions, p.nexts[0].Local)
			p.nexts = p.nexts[1:]
		}
		s := p.cur.Load()
		if (s == nil || s.NeedsRekey(now)) && now.Sub(p.hsSent) >= handshakeRetry {
			if f := r.initiateLocked(p, now); f != nil {
				send = append(send, out{p, f})
			}
		}
	}
	r.smu.Unlock()
	for _, o := range send {
		r.sendControl(o.p, o.f)
	}
}

// forgetSessions drops the sessions of peers no longer in next (removed,
// or their key or address changed). Caller holds mu.
func (r *Relay) forgetSessions(next map[uint32]*peer) {
	r.smu.Lock()
	defer r.smu.Unlock()
	for i, ref := range r.sessions {
		if next[ref.p.cfg.ID] != ref.p {
			delete(r.sessions, i)
		}
	}
	for i, pr := range r.pending {
		if next[pr.p.cfg.ID] != pr.p {
			delete(r.pending, i)
		}
	}
}

// byAddr is the peer at underlay address a. Caller holds mu.
func (r *Relay) byAddr(a netip.Addr) *peer {
	for _, p := range r.peers {
		if p.cfg.Addr.Addr() == a {
			return p
		}
	}
	return nil
}

// authFailed counts a frame or handshake from p's address that failed
// authentication, and logs it at most once per interval (dropLogged).
func (r *Relay) authFailed(p *peer, from netip.AddrPort) {
	r.dropLogged(DropAuth, p.cfg.ID, r.clock(), "a frame from the peer's address failed authentication: forged, or the peer has another key, pre-shared key or cipher", from, nil)
}
