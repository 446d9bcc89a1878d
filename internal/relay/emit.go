package relay

// The emit path: a frame from a peer is opened, its datagrams deduplicated
// and re-emitted on the LAN.

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"golang.org/x/net/ipv4"
)

// recvWork is the state of the underlay loop: re-emissions being batched.
type recvWork struct {
	out4, out6 emitBatch
	seg4, seg6 segBatch // `source relay` re-emissions, through UDP sockets
	segs       segSender
	fan        reflectWork // fan-out: frames passed on, and their checks (reflector.go)
	hello      []relayframe.Interest
	more       []*recvWork // the re-emissions on the further interfaces (on)
}

type emitBatch struct {
	bufs  [][]byte
	msgs  []ipv4.Message
	addrs map[netip.Addr]*net.IPAddr
	n     int
}

func (b *emitBatch) add(dst netip.Addr) *[]byte {
	if b.n == len(b.bufs) {
		b.bufs = append(b.bufs, make([]byte, 0, 2048))
		b.msgs = append(b.msgs, ipv4.Message{Buffers: make([][]byte, 1)})
	}
	if b.addrs == nil || len(b.addrs) > 4096 {
		// Unicast answers name one address per searcher: start over
		// now and then (the messages queued keep theirs).
		b.addrs = map[netip.Addr]*net.IPAddr{}
	}
	a := b.addrs[dst]
	if a == nil {
		a = &net.IPAddr{IP: dst.AsSlice()}
		b.addrs[dst] = a
	}
	b.msgs[b.n].Addr = a
	b.n++
	return &b.bufs[b.n-1]
}

// onDatagram handles one read from the underlay: a frame, or frames the
// kernel coalesced (UDP_GRO), all of seg bytes but the last.
func (r *Relay) onDatagram(w *recvWork, from netip.AddrPort, b []byte, seg int, now time.Time) {
	if seg <= 0 {
		seg = len(b)
	}
	for len(b) > 0 {
		k := min(seg, len(b))
		r.onFrame(w, from, b[:k], now)
		b = b[k:]
	}
}

// onFrame handles one frame read from the underlay.
func (r *Relay) onFrame(w *recvWork, from netip.AddrPort, b []byte, now time.Time) {
	h, body, err := relayframe.ParseHeader(b)
	if err != nil {
		r.dropLogged(DropMalformed, 0, now, "a malformed frame from the underlay", from, err)
		return
	}
	if h.Type == relayframe.TypeInit || h.Type == relayframe.TypeResponse {
		r.onHandshake(from, h, body, now)
		return
	}
	if h.Type == relayframe.TypeCookie {
		r.onCookieReply(from, h, body, now)
		return
	}
	s, p := r.session(h.Index)
	if s == nil {
		r.unknownSession(from, now)
		return
	}
	if from.Addr().Unmap() != p.cfg.Addr.Addr() {
		r.dropLogged(DropWrongSource, p.cfg.ID, now, "a frame naming a peer came from another address", from, nil)
		return
	}
	if s.Expired(now) {
		r.stats.drop(DropUnknownSession)
		return
	}
	// Decrypted in place: the frame's buffer is this loop's until the
	// next read, and everything taken from it is copied before then.
	clear, err := s.Open(b[relayframe.HeaderLen:relayframe.HeaderLen], h, b)
	if err != nil {
		if errors.Is(err, crypto.ErrReplay) {
			r.dropLogged(DropReplay, p.cfg.ID, now, "a frame replayed, or too old for the replay window", from, nil)
		} else {
			r.authFailed(p, from)
		}
		return
	}
	if p.cur.Load() != s {
		r.confirm(p, s)
	}
	p.recvFrames.Add(1)
	p.recvBytes.Add(uint64(len(b)))
	r.heard(p, now)
	switch h.Type {
	case relayframe.TypeHello:
		hl, err := relayframe.ParseHello(clear, w.hello[:0])
		if err != nil {
			r.dropLogged(DropMalformed, p.cfg.ID, now, "a malformed hello from a peer", from, err)
			return
		}
		w.hello = hl.Interests
		r.mu.Lock()
		if !slices.Equal(p.sources, hl.Sources) {
			p.sources = slices.Clone(hl.Sources)
			r.log.Info("peer re-emits from its own address", "peer", p.cfg.Name, "sources", fmt.Sprint(hl.Sources))
			r.rebuild()
		}
		if !sameWants(p.wants, hl.Interests) {
			p.wants = map[relayframe.Interest]bool{}
			for _, in := range hl.Interests {
				p.wants[in] = true
			}
			r.log.Info("peer interest", "peer", p.cfg.Name, "wants", formatInterests(hl.Interests))
			r.rebuild()
			r.mu.Unlock()
			r.kickTick() // joins may change
			return
		}
		r.mu.Unlock()
	case relayframe.TypeData:
		t := r.table.Load()
		rest := clear
		for len(rest) > 0 {
			rec, next, err := relayframe.ParseRecord(rest)
			if err != nil {
				r.dropLogged(DropMalformed, p.cfg.ID, now, "a malformed record in a data frame from a peer", from, err)
				return
			}
			rest = next
			r.onRecord(w, t, p, &rec, now)
		}
	case relayframe.TypeReflect:
		r.onReflect(w, p, clear, now)
	}
}

// heard marks p heard at now, and up if it was not: it enters the route
// table and hears this relay's interests at once.
func (r *Relay) heard(p *peer, now time.Time) {
	p.lastSeen.Store(now.UnixNano())
	if !p.up.Load() {
		p.up.Store(true)
		r.log.Info("peer up", "peer", p.cfg.Name, "addr", p.cfg.Addr.String())
		r.mu.Lock()
		r.rebuild()
		r.mu.Unlock()
		r.kickTick()
	}
}

// allowed reports whether a is in one of prefixes.
func allowed(prefixes []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, pr := range prefixes {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

func sameWants(m map[relayframe.Interest]bool, list []relayframe.Interest) bool {
	if len(m) != len(list) {
		return false
	}
	for _, in := range list {
		if !m[in] {
			return false
		}
	}
	return true
}

func (r *Relay) onRecord(w *recvWork, t *routeTable, p *peer, rec *relayframe.Record, now time.Time) {
	g := rec.Dst.Addr()
	if rec.Broadcast {
		if g != broadcastGroup || !t.cfg.CarriesBroadcast(rec.Dst.Port()) || !rec.Src.Addr().Is4() {
			r.stats.drop(DropNotCarried)
			return
		}
	} else if !g.IsMulticast() || !t.cfg.Carries(g) || !t.cfg.PortCarried(rec.Dst) {
		r.stats.drop(DropNotCarried)
		return
	}
	if rec.Kind == relayframe.KindFragment {
		r.amu.Lock()
		whole, done, full := r.reasm.add(p.cfg.ID, rec, now)
		r.amu.Unlock()
		if full {
			r.stats.drop(DropReassembly)
		}
		if !done {
			return
		}
		r.stats.reassembled.Add(1)
		*rec = whole
	}
	if a := p.allow.Load(); a != nil && !allowed(*a, rec.Src.Addr()) {
		// Another LAN's address, or one no host has: the peer may carry
		// only its own LAN's datagrams.
		r.stats.drop(DropSpoofedSource)
		return
	}
	if !p.dedupe.Accept(rec.ID) {
		r.stats.drop(DropDuplicate)
		return
	}
	ck := contentKey(r.seed, rec.Src, rec.Dst, rec.IPID, rec.Broadcast, rec.Payload)
	v6 := g.Is6()
	if r.recordLoops(ck, v6, p.cfg.ID, now) {
		r.stats.drop(DropLoop)
		return
	}
	if r.ownSource(rec.Src) {
		// This relay's own `source relay` re-emission, captured by another
		// relay and sent back: its key differs (the kernel chose the IPv4
		// identification), its source does not.
		r.stats.drop(DropLoop)
		return
	}
	if !t.forwarder(g) {
		r.stats.drop(DropNotForwarder)
		return
	}
	p.recvByGroup.inc(g)
	emitted := false
	for i, l := range r.ifs {
		if i > 0 && !l.wants(t.cfg, rec.Dst, rec.Broadcast) {
			continue
		}
		if err := r.emit(w.on(i), l.link, t, rec, ck, now); err != nil {
			r.stats.drop(DropTooBig)
			continue
		}
		emitted = true
	}
	if emitted && v6 {
		r.reemitted(ck, p.cfg.ID, now)
	}
}

// emit builds the datagram's packet for the LAN of link and queues it.
func (r *Relay) emit(w *recvWork, link *linkFacts, t *routeTable, rec *relayframe.Record, ck uint64, now time.Time) error {
	src, dst := rec.Src, rec.Dst
	v6 := dst.Addr().Is6()
	if t.cfg.Source == config.SourceRelay && link.udpEmit(v6) {
		// From the relay's own UDP socket: the kernel builds the headers,
		// and same-sized datagrams to one group go out as one segmented
		// send.
		if rec.Broadcast {
			dst = netip.AddrPortFrom(link.bcast4, dst.Port())
		}
		hdr, b := 28, &w.seg4
		if v6 {
			hdr, b = 48, &w.seg6
		}
		if hdr+len(rec.Payload) > link.mtu {
			return errors.New("too big")
		}
		b.add(dst, rec.TTL, rec.Payload, link.emitGSO.Load())
		// Own re-emissions carry the relay's mark and never reach the
		// capture filter; the content key still guards against copies.
		r.cmu.Lock()
		r.seen.Add(ck, now)
		r.cmu.Unlock()
		r.countEmitted(rec)
		return nil
	}
	if t.cfg.Source == config.SourceRelay {
		a := link.addr4
		if v6 {
			a = link.addr6
		}
		if !a.IsValid() {
			return errors.New("no source address of that family")
		}
		src = netip.AddrPortFrom(a, src.Port())
	}
	if rec.Broadcast {
		dst = netip.AddrPortFrom(link.bcast4, dst.Port())
	}
	limit := link.mtu
	var bp *[]byte
	if v6 {
		if 48+len(rec.Payload) > limit || !link.has6() {
			return errors.New("too big")
		}
		bp = w.out6.add(dst.Addr())
		*bp = AppendIPv6UDP((*bp)[:0], src, dst, rec.TTL, rec.Payload)
		w.out6.msgs[w.out6.n-1].Buffers[0] = *bp
	} else {
		if 28+len(rec.Payload) > limit {
			return errors.New("too big")
		}
		bp = w.out4.add(dst.Addr())
		*bp = AppendIPv4UDP((*bp)[:0], src, dst, rec.IPID, rec.TTL, rec.Payload)
		w.out4.msgs[w.out4.n-1].Buffers[0] = *bp
	}
	// The capture socket will see this packet come back: remember it.
	r.cmu.Lock()
	r.seen.Add(ck, now)
	if src != rec.Src {
		r.seen.Add(contentKey(r.seed, src, rec.Dst, rec.IPID, rec.Broadcast, rec.Payload), now)
	}
	r.cmu.Unlock()
	r.countEmitted(rec)
	return nil
}

// countEmitted counts a re-emission by group; the unicast answers carried
// back to a searcher are counted apart (replies.go).
func (r *Relay) countEmitted(rec *relayframe.Record) {
	if rec.Broadcast || rec.Dst.Addr().IsMulticast() {
		r.stats.emitted.inc(rec.Dst.Addr())
	}
}

// flushEmit sends the queued re-emissions, on every interface.
func (r *Relay) flushEmit(w *recvWork) {
	r.flushReflected(w)
	r.flushEmitOn(w, r.ifs[0])
	for i, m := range w.more {
		r.flushEmitOn(m, r.ifs[i+1])
	}
}

func (r *Relay) flushEmitOn(w *recvWork, l *lanIf) {
	for _, b := range []*emitBatch{&w.out4, &w.out6} {
		msgs := b.msgs[:b.n]
		for len(msgs) > 0 {
			n, err := l.io.emitPackets(b == &w.out6, msgs)
			if err != nil {
				r.stats.drop(DropEmitError)
				r.log.Debug("re-emitting", "err", err)
				n = max(n, 1)
			}
			msgs = msgs[n:]
		}
		b.n = 0
	}
	r.flushSeg(w, l, false, &w.seg4)
	r.flushSeg(w, l, true, &w.seg6)
}

// flushSeg sends the `source relay` runs: one message per run, all in one
// sendmmsg. When the kernel refuses a segmented send, the relay logs it
// once, sends that run datagram by datagram, and stops merging.
func (r *Relay) flushSeg(w *recvWork, l *lanIf, v6 bool, b *segBatch) {
	runs := b.runs[:b.n]
	b.n = 0
	for len(runs) > 0 {
		msgs := w.segs.build(runs, v6)
		n, err := l.io.emitDatagrams(v6, msgs)
		for _, run := range runs[:n] {
			if run.count > 1 {
				r.stats.segmentedSends.Add(1)
			}
		}
		runs = runs[n:]
		if err == nil && n > 0 {
			continue
		}
		if len(runs) == 0 {
			break
		}
		if runs[0].count > 1 && sock.SegmentUnsupported(err) {
			if l.link.emitGSO.Swap(false) {
				r.log.Warn("the kernel refused a segmented (UDP_SEGMENT) re-emission: sending datagram by datagram", "err", err)
			}
			one := w.segs.split(&runs[0], v6)
			for len(one) > 0 {
				k, err := l.io.emitDatagrams(v6, one)
				if err != nil {
					r.stats.drop(DropEmitError)
					r.log.Debug("re-emitting", "err", err)
					k = max(k, 1)
				}
				one = one[k:]
			}
		} else {
			r.stats.dropN(DropEmitError, uint64(runs[0].count))
			r.log.Debug("re-emitting", "err", err)
		}
		runs = runs[1:]
	}
}
