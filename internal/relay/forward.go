package relay

// The forward path: a datagram captured on the LAN is packed into frames
// for the peers that want it, sealed, and written to them.

import (
	"net/netip"
	"slices"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/mdns"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"golang.org/x/net/ipv4"
)

// sendWork is the state of one capture loop: frames being packed per set
// of peers, sealed frames and the messages that carry them.
type sendWork struct {
	pend    map[*peerSet]*pending
	order   []*pending
	free    []*pending
	frames  [][]byte       // sealed frames; nframe of them queued
	to      []*peer        // the peer of each message
	msgs    []ipv4.Message // one per frame and peer; nmsg of them queued
	frags   []relayframe.Record
	allowed []bool // per peer of a set: its rate cap let the datagram through
	nframe  int
	nmsg    int

	// Segmented sends (UDP_SEGMENT): one message per run of a peer's
	// frames, its frames as the message's buffers.
	gmsgs []ipv4.Message
	iov   [][]byte
	done  []bool

	// With several interfaces: the one this loop captures on (its index
	// in Relay.ifs) and the re-emissions on the others.
	from int
	refl *recvWork

	mdns mdns.Checker // `mdns-type`: the service types of an mDNS message
}

type pending struct {
	set  *peerSet
	body []byte
}

func newSendWork() *sendWork { return &sendWork{pend: map[*peerSet]*pending{}} }

// maxBody is the largest clear frame body that fits the underlay MTU.
func maxBody(cfg *config.Config) int {
	ip := 20
	if cfg.Listen.Addr().Is6() {
		ip = 40
	}
	return cfg.MTU - ip - 8 - relayframe.HeaderLen - crypto.Overhead
}

// onCaptured handles one datagram read from the LAN: it decides which
// peers get it and packs it into their pending frames.
func (r *Relay) onCaptured(w *sendWork, src, dst netip.AddrPort, ipid uint16, ttl uint8, bcast bool, payload []byte, now time.Time) {
	r.onCapturedFlow(w, src, dst, ipid, 0, ttl, bcast, payload, now)
}

// onCapturedFlow is onCaptured for a datagram whose IPv6 flow label is
// known (flow; 0: none, or unknown).
func (r *Relay) onCapturedFlow(w *sendWork, src, dst netip.AddrPort, ipid uint16, flow uint32, ttl uint8, bcast bool, payload []byte, now time.Time) {
	t := r.table.Load()
	g := dst.Addr()
	key := relayframe.Interest{Group: g}
	if bcast {
		if !t.cfg.CarriesBroadcast(dst.Port()) {
			return // some other broadcast: not ours, not counted
		}
		g = broadcastGroup
		key = relayframe.Interest{Group: broadcastGroup, Port: dst.Port()}
	} else if !t.cfg.Carries(g) || !t.cfg.PortCarried(dst) {
		return
	}
	if t.cfg.InterfaceAllow != nil && !t.cfg.SourceAllowed(r.ifs[w.from].name, src.Addr()) {
		r.stats.drop(DropSpoofedSource) // a source the interface line's allow does not hold
		return
	}
	if len(t.cfg.MDNSTypes) > 0 && !bcast && dst.Port() == mdns.Port && (g == mdns4 || g == mdns6) {
		if ok, _ := w.mdns.Allowed(payload, t.cfg.MDNSTypes); !ok {
			r.stats.drop(DropServiceType)
			return
		}
	}
	if t.copies != nil && t.copies[src] {
		// Another relay's `source relay` re-emission: the relay it came
		// from sent it to every peer that wanted it (split horizon).
		r.stats.drop(DropLoop)
		return
	}
	ck := contentKey(r.seed, src, dst, ipid, bcast, payload)
	if r.capturedCopy(ck, src, dst, flow, payload, now) {
		// This relay's own re-emission coming back, or a copy of a
		// transmission it already handled (IPv6: another relay's).
		r.stats.ownSeen.Add(1)
		return
	}
	if !t.forwarder(g) {
		r.stats.drop(DropNotForwarder)
		return
	}
	r.stats.captured.inc(g)
	if t.cfg.RateGroup > 0 {
		r.rmu.Lock()
		b := r.buckets[g]
		if b == nil {
			b = &bucket{}
			r.buckets[g] = b
		}
		ok := b.Allow(t.cfg.RateGroup, now)
		r.rmu.Unlock()
		if !ok {
			r.stats.drop(DropRateGroup)
			return
		}
	}
	rec := relayframe.Record{Kind: relayframe.KindDatagram, Broadcast: bcast, TTL: ttl, IPID: ipid, Src: src, Dst: dst, Payload: payload}
	if bcast {
		rec.Dst = netip.AddrPortFrom(broadcastGroup, dst.Port())
	}
	if len(r.ifs) > 1 {
		r.reflect(w, t, &rec, ck, now)
	}
	set := t.want[key]
	if set == nil {
		return
	}
	rec.ID = r.dgramID.Add(1)
	mb := maxBody(t.cfg)
	plan := t.fan[key]
	room := mb // for the records: the frames of a fan-out carry a list too
	if plan != nil {
		room -= plan.maxHdr
	}
	recs := append(w.frags[:0], rec)
	if rec.Len() > room {
		var ok bool
		recs, ok = split(w.frags[:0], rec, room)
		if !ok {
			r.stats.drop(DropTooBig)
			return
		}
		r.stats.fragmented.Add(1)
	}
	w.frags = recs
	if plan != nil {
		r.fanOut(w, t, plan, recs, g, mb, now)
		return
	}
	if t.cfg.RatePeer > 0 {
		w.allowed = w.allowed[:0]
		all := true
		for _, p := range set.peers {
			p.bmu.Lock()
			ok := p.rate.Allow(t.cfg.RatePeer, now)
			p.bmu.Unlock()
			if !ok {
				r.stats.drop(DropRatePeer)
				all = false
			}
			w.allowed = append(w.allowed, ok)
		}
		if !all {
			// Some peers' caps refused it: to the others one by one.
			for i, ok := range w.allowed {
				if ok {
					r.pack(w, set.single[i], recs, g, mb)
				}
			}
			return
		}
	}
	r.pack(w, set, recs, g, mb)
}

// pack appends recs to the pending frame body of set, sealing the body
// into a frame first when they would not fit.
func (r *Relay) pack(w *sendWork, set *peerSet, recs []relayframe.Record, g netip.Addr, mb int) {
	pd := w.pend[set]
	if pd == nil {
		if n := len(w.free); n > 0 {
			pd, w.free = w.free[n-1], w.free[:n-1]
		} else {
			pd = &pending{}
		}
		pd.set = set
		w.pend[set] = pd
		w.order = append(w.order, pd)
	}
	if len(pd.body) == 0 {
		pd.body = append(pd.body, set.hdr...)
	}
	for i := range recs {
		if len(pd.body) > len(set.hdr) && len(pd.body)+recs[i].Len() > mb {
			r.sealTo(w, set.peers, set.frameType(), pd.body)
			pd.body = append(pd.body[:0], set.hdr...)
		}
		pd.body, _ = relayframe.AppendRecord(pd.body, &recs[i])
	}
	for _, p := range set.peers {
		p.sentByGroup.inc(g)
	}
}

// sealTo seals body into a frame for each of peers, under the session
// with that peer, and queues it. A peer without a session gets nothing.
func (r *Relay) sealTo(w *sendWork, peers []*peer, typ uint8, body []byte) {
	for _, p := range peers {
		s := p.cur.Load()
		if s == nil {
			r.stats.drop(DropNoSession)
			continue
		}
		if w.nframe == len(w.frames) {
			w.frames = append(w.frames, make([]byte, 0, 2048))
		}
		f, ok := s.Seal(w.frames[w.nframe][:0], typ, body)
		if !ok {
			r.stats.drop(DropNoSession) // counter exhausted: the next tick rekeys
			continue
		}
		w.frames[w.nframe] = f
		w.nframe++
		if w.nmsg == len(w.msgs) {
			w.msgs = append(w.msgs, ipv4.Message{Buffers: make([][]byte, 1)})
			w.to = append(w.to, nil)
		}
		w.to[w.nmsg] = p
		w.msgs[w.nmsg].Buffers[0] = f
		w.msgs[w.nmsg].Addr = p.udp
		w.nmsg++
		p.sentFrames.Add(1)
		p.sentBytes.Add(uint64(len(f)))
	}
}

// sealPending seals every pending body into a frame.
func (r *Relay) sealPending(w *sendWork) {
	for _, pd := range w.order {
		if len(pd.body) > len(pd.set.hdr) {
			r.sealTo(w, pd.set.peers, pd.set.frameType(), pd.body)
		}
		pd.body = pd.body[:0]
		delete(w.pend, pd.set)
		pd.set = nil
		w.free = append(w.free, pd)
	}
	w.order = w.order[:0]
}

// flush seals what is pending and sends every queued frame.
func (r *Relay) flush(w *sendWork) {
	r.sealPending(w)
	if w.refl != nil {
		r.flushEmit(w.refl)
	}
	defer func() { w.nframe, w.nmsg = 0, 0 }()
	if w.nmsg == 0 {
		return
	}
	if w.nmsg > 1 && r.link.gso.Load() {
		if err := r.sendSegmented(w); err == nil {
			return
		} else {
			// No UDP_SEGMENT here (old kernel, or a device without
			// checksum offload): send frame by frame from now on.
			r.link.gso.Store(false)
			r.log.Warn("segmented sends refused, sending frames one by one", "err", err)
		}
	}
	r.sendMsgs(w.msgs[:w.nmsg])
}

func (r *Relay) sendMsgs(msgs []ipv4.Message) {
	for len(msgs) > 0 {
		n, err := r.io.writeFrames(msgs)
		if err != nil {
			r.stats.drop(DropSendError)
			r.log.Debug("sending to peer", "err", err)
			n = max(n, 1)
		}
		msgs = msgs[n:]
	}
}

// maxSegments is the most frames one segmented send carries (the kernel's
// UDP_MAX_SEGMENTS is 64 or more), and maxSegmented their most bytes.
const (
	maxSegments  = 64
	maxSegmented = 65000
)

// sendSegmented sends the queued frames as few messages as possible: each
// message carries consecutive frames to one peer, all of one length but
// the last, which the kernel cuts into datagrams (UDP_SEGMENT), so that
// one trip through the stack carries many frames. It fails only when the
// kernel refuses the first message with an error that says segmentation
// is not available; nothing was sent then.
func (r *Relay) sendSegmented(w *sendWork) error {
	queued, to := w.msgs[:w.nmsg], w.to[:w.nmsg]
	frame := func(i int) []byte { return queued[i].Buffers[0] }
	w.done = slices.Grow(w.done[:0], len(queued))[:len(queued)]
	clear(w.done)
	w.iov = w.iov[:0]
	nm := 0
	for i := range queued {
		if w.done[i] {
			continue
		}
		p, seg := to[i], len(frame(i))
		start, total := len(w.iov), 0
		for j := i; j < len(queued) && len(w.iov)-start < maxSegments; j++ {
			if w.done[j] || to[j] != p {
				continue
			}
			if len(frame(j)) > seg || total+len(frame(j)) > maxSegmented {
				break
			}
			w.iov = append(w.iov, frame(j))
			w.done[j] = true
			total += len(frame(j))
			if len(frame(j)) < seg {
				break // a shorter frame ends the run
			}
		}
		if nm == len(w.gmsgs) {
			w.gmsgs = append(w.gmsgs, ipv4.Message{OOB: make([]byte, 0, sock.SegmentOOBLen)})
		}
		m := &w.gmsgs[nm]
		m.Buffers = w.iov[start:len(w.iov):len(w.iov)]
		m.Addr = p.udp
		m.OOB = m.OOB[:0]
		if len(m.Buffers) > 1 {
			m.OOB = sock.AppendSegmentSize(m.OOB, seg)
		}
		nm++
	}
	msgs := w.gmsgs[:nm]
	first := true
	for len(msgs) > 0 {
		n, err := r.io.writeFrames(msgs)
		if err != nil {
			if first && sock.SegmentUnsupported(err) && len(msgs[0].OOB) > 0 {
				return err
			}
			r.stats.drop(DropSendError)
			r.log.Debug("sending to peer", "err", err)
			n = max(n, 1)
		}
		first = false
		msgs = msgs[n:]
	}
	return nil
}

// capturedFrame handles one frame read by the packet capture: a virtio-net
// header, a link-layer header of linkLen bytes (VLAN tags too), an IPv4
// packet.
func (r *Relay) capturedFrame(w *sendWork, b []byte, linkLen int, now time.Time) {
	seg, ok := sock.VNetSegment(b)
	if !ok {
		return
	}
	off, ok := ipOffset(b[sock.VNetHdrLen:], linkLen)
	if !ok {
		return
	}
	r.captured4(w, seg, b[sock.VNetHdrLen+off:], now)
}

// captured4 handles one IPv4 packet read from the LAN; seg is the segment
// size of a segmented send not yet cut (0: one datagram).
func (r *Relay) captured4(w *sendWork, seg int, pkt []byte, now time.Time) {
	src, dst, ipid, ttl, payload, err := ParseIPv4UDP(pkt)
	if err != nil {
		return
	}
	d := dst.Addr()
	b4 := r.ifs[w.from].link.bcast4
	bcast := d == broadcastGroup || (d == b4 && b4.IsValid())
	if !bcast && !d.IsMulticast() {
		if len(r.ifs) > 1 && seg <= 0 {
			r.onReply(w, src, dst, ipid, ttl, payload, now)
		}
		return
	}
	// A segmented send (UDP_SEGMENT) seen before the kernel cut it: its
	// datagrams, with the identifications they get.
	for k, p := range segments(payload, seg) {
		r.onCaptured(w, src, dst, ipid+uint16(k), ttl, bcast, p, now)
	}
}
