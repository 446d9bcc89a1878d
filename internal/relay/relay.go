// Package relay is the mcast relay daemon: it captures multicast and
// broadcast datagrams on a local interface, carries them over encrypted
// unicast UDP to the peer relays that want them, and re-emits them there,
// with the original source address by default.
//
// The pure parts (frame handling, interest, dedupe, loop detection,
// election, rate caps, fragmentation) live in files without a build
// suffix; the sockets are in relay_linux.go.
package relay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"golang.org/x/net/ipv4"
)

// Drop reasons, the label values of mcast_relay_dropped_total.
const (
	DropMalformed    = "malformed"     // not a relay frame, or a bad record
	DropUnknownPeer  = "unknown-peer"  // sender ID of no configured peer
	DropWrongSource  = "wrong-source"  // a peer's ID from another address
	DropReplay       = "replay"        // frame sequence seen before or too old
	DropAuth         = "auth"          // failed AEAD authentication
	DropDuplicate    = "duplicate"     // datagram ID seen before from that origin
	DropLoop         = "loop"          // content this relay captured itself
	DropNotCarried   = "not-carried"   // group or port not in this relay's config
	DropNotForwarder = "not-forwarder" // another relay is this LAN's forwarder
	DropRateGroup    = "rate-group"    // per-group cap hit
	DropRatePeer     = "rate-peer"     // per-peer cap hit
	DropTooBig       = "too-big"       // could not be framed or emitted
	DropReassembly   = "reassembly"    // fragments that never completed, or too many in progress
	DropEmitError    = "emit-error"    // the kernel refused a re-emission
	DropSendError    = "send-error"    // the kernel refused a frame to a peer
)

var dropReasons = []string{DropMalformed, DropUnknownPeer, DropWrongSource, DropReplay, DropAuth, DropDuplicate,
	DropLoop, DropNotCarried, DropNotForwarder, DropRateGroup, DropRatePeer, DropTooBig, DropReassembly, DropEmitError, DropSendError}

// broadcastGroup stands for "broadcast" in interests and counters.
var broadcastGroup = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// seenSpan is how long a transmission is remembered. Copies of one
// transmission (the relay's own re-emission coming back, another relay's,
// the same datagram from several peers in a loop) arrive within it.
const seenSpan = 500 * time.Millisecond

// seenBits sizes the table of transmissions seen: 2^seenBits buckets of
// seenWays keys (8 MiB), a quarter full with a span of 250,000
// datagrams/s.
const seenBits = 17

// Relay is one running relay.
type Relay struct {
	log  *slog.Logger
	keys *crypto.Keys
	seed maphash.Seed
	io   *osIO

	mu        sync.Mutex // guards cfg, peers, local, joined, members, lan, nextQuery
	cfg       *config.Config
	lan       *LANMembers // other hosts' memberships, from their reports
	lanCount  map[netip.Addr]int
	nextQuery time.Time
	peers     map[uint32]*peer
	local     []relayframe.Interest // what this relay wants, sorted
	joined    map[netip.Addr]bool
	members   map[netip.Addr]int
	reloads   atomic.Uint64
	started   time.Time
	table     atomic.Pointer[routeTable]
	frameSeq  atomic.Uint64
	dgramID   atomic.Uint64
	kick      chan struct{} // run a tick now (interest changed, peer came up, reload)

	ifaceCheck chan struct{} // check now that the LAN interface is still there (a read failed)

	cmu  sync.Mutex // guards seen
	seen *seenSet   // transmissions captured on or emitted to the LAN recently

	rmu     sync.Mutex // guards the per-group capture buckets
	buckets map[netip.Addr]*bucket

	amu   sync.Mutex // guards reasm
	reasm *reassembler

	stats stats
}

// peer is another relay and what this relay knows of it.
type peer struct {
	cfg      config.Peer
	udp      *net.UDPAddr
	lastSeen atomic.Int64 // unix nanoseconds of the last authenticated frame
	up       atomic.Bool
	// authWarned: a failed frame was logged since the last good one.
	authWarned atomic.Bool
	wants      map[relayframe.Interest]bool // from its hellos; guarded by Relay.mu
	// sources are the addresses it re-emits from (`source relay`), from
	// its hellos; guarded by Relay.mu.
	sources []netip.AddrPort

	replay crypto.ReplayWindow // frame sequences; underlay reader only
	dedupe crypto.ReplayWindow // datagram IDs; underlay reader only

	bmu  sync.Mutex
	rate bucket

	sentFrames, sentBytes, recvFrames, recvBytes atomic.Uint64
	sentByGroup, recvByGroup                     counterMap
}

// routeTable is an immutable snapshot the hot paths read without locks.
type routeTable struct {
	cfg  *config.Config
	want map[relayframe.Interest]*peerSet // peers that are up, not on this LAN, and want it
	lan  []uint32                         // this relay and its LAN peers that are up
	self uint32
	// copies are the addresses the peers re-emit from (`source relay`):
	// a datagram from one of them is a copy a relay of the mesh made, and
	// the relay that sent it to that peer sent it to every peer that
	// wanted it. Nil when no peer re-emits from its own address.
	copies map[netip.AddrPort]bool
}

// peerSet is the peers that want a group. Groups wanted by the same peers
// share one set, so that their datagrams pack into the same frames, each
// sealed once and sent to every peer of the set (one key serves the mesh).
// Each set also knows the singleton set of each of its peers, for
// datagrams a peer's rate cap keeps from some of them.
type peerSet struct {
	peers  []*peer
	single []*peerSet // single[i] holds peers[i] alone
}

// internSets gives groups wanted by the same peers one shared peerSet.
func internSets(lists map[relayframe.Interest][]*peer) map[relayframe.Interest]*peerSet {
	byKey := map[string]*peerSet{}
	singles := map[*peer]*peerSet{}
	one := func(p *peer) *peerSet {
		if s := singles[p]; s != nil {
			return s
		}
		s := &peerSet{peers: []*peer{p}}
		s.single = []*peerSet{s}
		singles[p] = s
		return s
	}
	out := make(map[relayframe.Interest]*peerSet, len(lists))
	var key []byte
	for in, peers := range lists {
		if len(peers) == 1 {
			out[in] = one(peers[0])
			continue
		}
		key = key[:0]
		for _, p := range peers {
			key = binary.BigEndian.AppendUint32(key, p.cfg.ID)
		}
		s := byKey[string(key)]
		if s == nil {
			s = &peerSet{peers: peers}
			for _, p := range peers {
				s.single = append(s.single, one(p))
			}
			byKey[string(key)] = s
		}
		out[in] = s
	}
	return out
}

func (t *routeTable) forwarder(g netip.Addr) bool {
	return len(t.lan) <= 1 || Forwarder(g, t.lan) == t.self
}

// Options carry what New needs besides the config.
type Options struct {
	Logger *slog.Logger
	Key    []byte // the key file's content
}

// New checks cfg and key and prepares a relay; Run opens its sockets.
func New(cfg *config.Config, o Options) (*Relay, error) {
	keys, err := crypto.NewKeys(o.Key, cfg.Cipher)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", cfg.KeyFile, err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now()
	r := &Relay{
		log: log, keys: keys, seed: maphash.MakeSeed(), cfg: cfg,
		peers: map[uint32]*peer{}, joined: map[netip.Addr]bool{}, members: map[netip.Addr]int{},
		kick: make(chan struct{}, 1), ifaceCheck: make(chan struct{}, 1), started: now, lan: NewLANMembers(), lanCount: map[netip.Addr]int{},
		seen:    newSeenSet(seenSpan, seenBits, hugeSlots),
		buckets: map[netip.Addr]*bucket{}, reasm: newReassembler(2*time.Second, 1024),
	}
	// Sequence numbers start at the clock so that a restarted relay never
	// reuses a nonce under the same key, and its peers accept it at once.
	r.frameSeq.Store(uint64(now.UnixNano()))
	r.dgramID.Store(uint64(now.UnixNano()))
	r.stats.init()
	r.setPeers(cfg)
	r.rebuild()
	return r, nil
}

// setPeers makes the peer table match cfg, keeping the state of peers whose
// name, address and LAN flag did not change. Caller holds mu (or owns r).
func (r *Relay) setPeers(cfg *config.Config) {
	next := map[uint32]*peer{}
	for _, pc := range cfg.Peers {
		if old, ok := r.peers[pc.ID]; ok && old.cfg.Name == pc.Name && old.cfg.Addr == pc.Addr && old.cfg.LAN == pc.LAN {
			old.cfg = pc
			next[pc.ID] = old
			continue
		}
		next[pc.ID] = &peer{cfg: pc, udp: net.UDPAddrFromAddrPort(pc.Addr), wants: map[relayframe.Interest]bool{}}
	}
	r.peers = next
}

// isUpLANPeer reports whether a is the address of a relay declared on
// this LAN that is up. Caller holds mu.
func (r *Relay) isUpLANPeer(a netip.Addr) bool {
	for _, p := range r.peers {
		if p.cfg.LAN && p.cfg.Addr.Addr() == a && p.up.Load() {
			return true
		}
	}
	return false
}

// onMembership applies an IGMP or MLD message heard on the LAN from another
// host.
func (r *Relay) onMembership(now time.Time, src netip.Addr, m *igmp.Message) {
	self := r.io.addr4
	if src.Is6() {
		self = r.io.ll6
	}
	r.mu.Lock()
	changed := r.lan.Observe(now, src, self, m)
	r.mu.Unlock()
	if changed {
		r.kickTick()
	}
}

// rebuild publishes a new routeTable. Caller holds mu (or owns r).
func (r *Relay) rebuild() {
	t := &routeTable{cfg: r.cfg, self: r.cfg.ID, lan: []uint32{r.cfg.ID}}
	lists := map[relayframe.Interest][]*peer{}
	ids := make([]uint32, 0, len(r.peers))
	for id := range r.peers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := r.peers[id]
		// A peer's re-emissions are copies whether or not its frames
		// reach this relay now.
		for _, a := range p.sources {
			if t.copies == nil {
				t.copies = map[netip.AddrPort]bool{}
			}
			t.copies[a] = true
		}
		if !p.up.Load() {
			continue
		}
		if p.cfg.LAN {
			t.lan = append(t.lan, id)
			continue
		}
		for in := range p.wants {
			lists[in] = append(lists[in], p)
		}
	}
	t.want = internSets(lists)
	r.table.Store(t)
}

func (r *Relay) kickTick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// ---- capture side: LAN -> peers ----

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
	t := r.table.Load()
	g := dst.Addr()
	key := relayframe.Interest{Group: g}
	if bcast {
		if !t.cfg.CarriesBroadcast(dst.Port()) {
			return // some other broadcast: not ours, not counted
		}
		g = broadcastGroup
		key = relayframe.Interest{Group: broadcastGroup, Port: dst.Port()}
	} else if !t.cfg.Carries(g) {
		return
	}
	if t.copies != nil && t.copies[src] {
		// Another relay's `source relay` re-emission: the relay it came
		// from sent it to every peer that wanted it (split horizon).
		r.stats.drop(DropLoop)
		return
	}
	ck := contentKey(r.seed, src, dst, ipid, bcast, payload)
	r.cmu.Lock()
	again := r.seen.TestAndAdd(ck, now)
	r.cmu.Unlock()
	if again {
		// This relay's own re-emission coming back, or a copy of a
		// transmission it already handled.
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
	set := t.want[key]
	if set == nil {
		return
	}
	rec := relayframe.Record{Kind: relayframe.KindDatagram, Broadcast: bcast, TTL: ttl, IPID: ipid, ID: r.dgramID.Add(1), Src: src, Dst: dst, Payload: payload}
	if bcast {
		rec.Dst = netip.AddrPortFrom(broadcastGroup, dst.Port())
	}
	mb := maxBody(t.cfg)
	recs := append(w.frags[:0], rec)
	if rec.Len() > mb {
		var ok bool
		recs, ok = split(w.frags[:0], rec, mb)
		if !ok {
			r.stats.drop(DropTooBig)
			return
		}
		r.stats.fragmented.Add(1)
	}
	w.frags = recs
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
	for i := range recs {
		if len(pd.body) > 0 && len(pd.body)+recs[i].Len() > mb {
			r.sealTo(w, set.peers, relayframe.TypeData, pd.body)
			pd.body = pd.body[:0]
		}
		pd.body, _ = relayframe.AppendRecord(pd.body, &recs[i])
	}
	for _, p := range set.peers {
		p.sentByGroup.inc(g)
	}
}

// sealTo seals body into one frame and queues it to each of peers.
func (r *Relay) sealTo(w *sendWork, peers []*peer, typ uint8, body []byte) {
	if w.nframe == len(w.frames) {
		w.frames = append(w.frames, make([]byte, 0, 2048))
	}
	h := relayframe.Header{Type: typ, Sender: r.cfg.ID, Seq: r.frameSeq.Add(1)}
	f := r.keys.Seal(w.frames[w.nframe][:0], h, body)
	w.frames[w.nframe] = f
	w.nframe++
	for _, p := range peers {
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
		if len(pd.body) > 0 {
			r.sealTo(w, pd.set.peers, relayframe.TypeData, pd.body)
			pd.body = pd.body[:0]
		}
		delete(w.pend, pd.set)
		pd.set = nil
		w.free = append(w.free, pd)
	}
	w.order = w.order[:0]
}

// flush seals what is pending and sends every queued frame.
func (r *Relay) flush(w *sendWork) {
	r.sealPending(w)
	defer func() { w.nframe, w.nmsg = 0, 0 }()
	if w.nmsg == 0 {
		return
	}
	if w.nmsg > 1 && r.io.gso.Load() {
		if err := r.sendSegmented(w); err == nil {
			return
		} else {
			// No UDP_SEGMENT here (old kernel, or a device without
			// checksum offload): send frame by frame from now on.
			r.io.gso.Store(false)
			r.log.Warn("segmented sends refused, sending frames one by one", "err", err)
		}
	}
	r.sendMsgs(w.msgs[:w.nmsg])
}

func (r *Relay) sendMsgs(msgs []ipv4.Message) {
	for len(msgs) > 0 {
		n, err := r.io.writeUnderlay(msgs)
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
			w.gmsgs = append(w.gmsgs, ipv4.Message{OOB: make([]byte, 0, segmentOOBLen)})
		}
		m := &w.gmsgs[nm]
		m.Buffers = w.iov[start:len(w.iov):len(w.iov)]
		m.Addr = p.udp
		m.OOB = m.OOB[:0]
		if len(m.Buffers) > 1 {
			m.OOB = appendSegmentSize(m.OOB, seg)
		}
		nm++
	}
	msgs := w.gmsgs[:nm]
	first := true
	for len(msgs) > 0 {
		n, err := r.io.writeUnderlay(msgs)
		if err != nil {
			if first && segmentUnsupported(err) && len(msgs[0].OOB) > 0 {
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

// ---- underlay side: peers -> LAN ----

// recvWork is the state of the underlay loop: re-emissions being batched.
type recvWork struct {
	out4, out6 emitBatch
	seg4, seg6 segBatch // `source relay` re-emissions, through UDP sockets
	segs       segSender
	hello      []relayframe.Interest
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
	if b.addrs == nil {
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

// onFrame handles one frame read from the underlay.
func (r *Relay) onFrame(w *recvWork, from netip.AddrPort, b []byte, now time.Time) {
	h, _, err := relayframe.ParseHeader(b)
	if err != nil {
		r.stats.drop(DropMalformed)
		return
	}
	r.mu.Lock()
	p := r.peers[h.Sender]
	r.mu.Unlock()
	if p == nil {
		r.stats.drop(DropUnknownPeer)
		return
	}
	if from.Addr().Unmap() != p.cfg.Addr.Addr() {
		r.stats.drop(DropWrongSource)
		return
	}
	if !p.replay.Check(h.Seq) {
		r.stats.drop(DropReplay)
		return
	}
	// Decrypted in place: the frame's buffer is this loop's until the
	// next read, and everything taken from it is copied before then.
	clear, err := r.keys.Open(b[relayframe.HeaderLen:relayframe.HeaderLen], h, b)
	if err != nil {
		r.stats.drop(DropAuth)
		if !p.authWarned.Swap(true) {
			r.log.Warn("a frame from the peer's address failed authentication: forged, or the peer has another key file or cipher",
				"peer", p.cfg.Name, "addr", from.String())
		}
		return
	}
	if p.authWarned.Load() {
		p.authWarned.Store(false)
	}
	p.replay.Accept(h.Seq)
	p.recvFrames.Add(1)
	p.recvBytes.Add(uint64(len(b)))
	p.lastSeen.Store(now.UnixNano())
	if !p.up.Load() {
		p.up.Store(true)
		r.log.Info("peer up", "peer", p.cfg.Name, "addr", p.cfg.Addr.String())
		r.mu.Lock()
		r.rebuild()
		r.mu.Unlock()
		r.kickTick() // so that it hears our interests at once
	}
	switch h.Type {
	case relayframe.TypeHello:
		hl, err := relayframe.ParseHello(clear, w.hello[:0])
		if err != nil {
			r.stats.drop(DropMalformed)
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
				r.stats.drop(DropMalformed)
				return
			}
			rest = next
			r.onRecord(w, t, p, &rec, now)
		}
	}
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
	} else if !g.IsMulticast() || !t.cfg.Carries(g) {
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
	if !p.dedupe.Accept(rec.ID) {
		r.stats.drop(DropDuplicate)
		return
	}
	ck := contentKey(r.seed, rec.Src, rec.Dst, rec.IPID, rec.Broadcast, rec.Payload)
	r.cmu.Lock()
	loop := r.seen.Has(ck, now)
	r.cmu.Unlock()
	if loop {
		r.stats.drop(DropLoop)
		return
	}
	if r.io.ownSource(rec.Src) {
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
	if err := r.emit(w, t, rec, ck, now); err != nil {
		r.stats.drop(DropTooBig)
	}
}

// emit builds the datagram's packet for the LAN and queues it.
func (r *Relay) emit(w *recvWork, t *routeTable, rec *relayframe.Record, ck uint64, now time.Time) error {
	src, dst := rec.Src, rec.Dst
	v6 := dst.Addr().Is6()
	if t.cfg.Source == config.SourceRelay && r.io.udpEmit(v6) {
		// From the relay's own UDP socket: the kernel builds the headers,
		// and same-sized datagrams to one group go out as one segmented
		// send.
		if rec.Broadcast {
			dst = netip.AddrPortFrom(r.io.bcast4, dst.Port())
		}
		hdr, b := 28, &w.seg4
		if v6 {
			hdr, b = 48, &w.seg6
		}
		if hdr+len(rec.Payload) > r.io.mtu {
			return errors.New("too big")
		}
		b.add(dst, rec.TTL, rec.Payload, r.io.emitGSO.Load())
		// Own re-emissions carry the relay's mark and never reach the
		// capture filter; the content key still guards against copies.
		r.cmu.Lock()
		r.seen.Add(ck, now)
		r.cmu.Unlock()
		r.stats.emitted.inc(rec.Dst.Addr())
		return nil
	}
	if t.cfg.Source == config.SourceRelay {
		a := r.io.addr4
		if v6 {
			a = r.io.addr6
		}
		if !a.IsValid() {
			return errors.New("no source address of that family")
		}
		src = netip.AddrPortFrom(a, src.Port())
	}
	if rec.Broadcast {
		dst = netip.AddrPortFrom(r.io.bcast4, dst.Port())
	}
	limit := r.io.mtu
	var bp *[]byte
	if v6 {
		if 48+len(rec.Payload) > limit || !r.io.has6() {
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
	r.stats.emitted.inc(rec.Dst.Addr())
	return nil
}

func (r *Relay) flushEmit(w *recvWork) {
	for _, b := range []*emitBatch{&w.out4, &w.out6} {
		msgs := b.msgs[:b.n]
		for len(msgs) > 0 {
			n, err := r.io.writeLAN(b == &w.out6, msgs)
			if err != nil {
				r.stats.drop(DropEmitError)
				r.log.Debug("re-emitting", "err", err)
				n = max(n, 1)
			}
			msgs = msgs[n:]
		}
		b.n = 0
	}
	r.flushSeg(w, false, &w.seg4)
	r.flushSeg(w, true, &w.seg6)
}

// flushSeg sends the `source relay` runs: one message per run, all in one
// sendmmsg. When the kernel refuses a segmented send, the relay logs it
// once, sends that run datagram by datagram, and stops merging.
func (r *Relay) flushSeg(w *recvWork, v6 bool, b *segBatch) {
	runs := b.runs[:b.n]
	b.n = 0
	for len(runs) > 0 {
		msgs := w.segs.build(runs, v6)
		n, err := r.io.writeSeg(v6, msgs)
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
		if runs[0].count > 1 && segmentUnsupported(err) {
			if r.io.emitGSO.Swap(false) {
				r.log.Warn("the kernel refused a segmented (UDP_SEGMENT) re-emission: sending datagram by datagram", "err", err)
			}
			one := w.segs.split(&runs[0], v6)
			for len(one) > 0 {
				k, err := r.io.writeSeg(v6, one)
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

// ---- housekeeping ----

// localInterests computes what this relay wants from the kernel's
// membership counts (members, own joins subtracted), the members other
// hosts on the LAN reported (lan) and the config.
func localInterests(cfg *config.Config, users map[netip.Addr]int, joined map[netip.Addr]bool, lan map[netip.Addr]int) []relayframe.Interest {
	var out []relayframe.Interest
	seen := map[netip.Addr]bool{}
	for g, n := range users {
		if joined[g] {
			n--
		}
		n += lan[g]
		if n > 0 && cfg.Carries(g) && !seen[g] {
			seen[g] = true
			out = append(out, relayframe.Interest{Group: g})
		}
	}
	for g, n := range lan {
		if n > 0 && cfg.Carries(g) && !seen[g] {
			seen[g] = true
			out = append(out, relayframe.Interest{Group: g})
		}
	}
	if cfg.Interest == config.InterestAll {
		for _, p := range cfg.Groups {
			if config.Single(p) && !seen[p.Addr()] {
				seen[p.Addr()] = true
				out = append(out, relayframe.Interest{Group: p.Addr()})
			}
		}
	}
	for _, port := range cfg.BroadcastPorts {
		out = append(out, relayframe.Interest{Group: broadcastGroup, Port: port})
	}
	sortInterests(out)
	return out
}

// addLANPeerWants adds to local the groups that relays on this LAN want
// and this relay is the elected forwarder of, keeping local sorted.
func addLANPeerWants(local []relayframe.Interest, peers map[uint32]*peer, t *routeTable) []relayframe.Interest {
	have := map[relayframe.Interest]bool{}
	for _, in := range local {
		have[in] = true
	}
	n := len(local)
	for _, p := range peers {
		if !p.cfg.LAN || !p.up.Load() {
			continue
		}
		for in := range p.wants {
			if in.Group != broadcastGroup && !have[in] && t.cfg.Carries(in.Group) && t.forwarder(in.Group) {
				have[in] = true
				local = append(local, in)
			}
		}
	}
	if len(local) != n {
		sortInterests(local)
	}
	return local
}

func sortInterests(list []relayframe.Interest) {
	slices.SortFunc(list, func(a, b relayframe.Interest) int {
		if c := a.Group.Compare(b.Group); c != 0 {
			return c
		}
		return int(a.Port) - int(b.Port)
	})
}

// wantedJoins is the set of groups the capture sockets should be joined
// to: every single configured group, and every carried group a peer wants
// (so that local senders' datagrams reach the capture socket).
func wantedJoins(cfg *config.Config, peers map[uint32]*peer) map[netip.Addr]bool {
	out := map[netip.Addr]bool{}
	for _, p := range cfg.Groups {
		if config.Single(p) {
			out[p.Addr()] = true
		}
	}
	for _, p := range peers {
		if !p.up.Load() || p.cfg.LAN {
			continue
		}
		for in := range p.wants {
			if in.Group != broadcastGroup && in.Group.IsMulticast() && cfg.Carries(in.Group) {
				out[in.Group] = true
			}
		}
	}
	return out
}

func formatInterests(list []relayframe.Interest) []string {
	out := make([]string, 0, len(list))
	for _, in := range list {
		if in.Group == broadcastGroup {
			out = append(out, fmt.Sprintf("broadcast:%d", in.Port))
		} else {
			out = append(out, in.Group.String())
		}
	}
	return out
}

// tick runs the periodic work: membership, joins, liveness, hellos.
func (r *Relay) tick(ctx context.Context, now time.Time, helloDue bool) {
	users := r.io.readMembership()
	r.mu.Lock()
	cfg := r.cfg
	// Liveness.
	changed := false
	for _, p := range r.peers {
		if p.up.Load() && now.Sub(time.Unix(0, p.lastSeen.Load())) > cfg.PeerTimeout {
			p.up.Store(false)
			changed = true
			r.log.Warn("peer down", "peer", p.cfg.Name, "addr", p.cfg.Addr.String(), "silent_for", now.Sub(time.Unix(0, p.lastSeen.Load())).Round(time.Millisecond).String())
		}
	}
	// Joins.
	want := wantedJoins(cfg, r.peers)
	for g := range r.joined {
		if !want[g] {
			if err := r.io.leave(g); err != nil {
				r.log.Warn("leaving group", "group", g.String(), "err", err)
			}
			delete(r.joined, g)
		}
	}
	for g := range want {
		if !r.joined[g] {
			if err := r.io.join(g); err != nil {
				r.log.Warn("joining group", "group", g.String(), "err", err)
				continue
			}
			r.joined[g] = true
		}
	}
	// Interests: this host's members, other hosts' reports, and, for the
	// groups this relay forwards, what the other relays on this LAN want
	// for their own hosts (they are not the forwarder, so they do not add
	// ours: no feedback).
	if r.lan.Expire(now) {
		r.log.Debug("LAN memberships expired")
	}
	lan := r.lan.Groups(r.isUpLANPeer)
	local := localInterests(cfg, users, r.joined, lan)
	if t := r.table.Load(); len(t.lan) > 1 {
		local = addLANPeerWants(local, r.peers, t)
	}
	r.members = users
	r.lanCount = lan
	queries := cfg.Querier && !now.Before(r.nextQuery)
	var q4, q6 bool
	if queries {
		r.nextQuery = now.Add(defaultQueryInterval)
		q4 = !r.lan.OtherQuerier(now, false)
		q6 = !r.lan.OtherQuerier(now, true)
	}
	if !slices.Equal(local, r.local) {
		r.local = local
		helloDue = true
		r.log.Info("local interest", "wants", formatInterests(local))
	}
	if changed {
		r.rebuild()
	}
	var body []byte
	var targets []*peer
	if helloDue {
		var sources []netip.AddrPort
		if cfg.Source == config.SourceRelay {
			sources = r.io.emitSources()
		}
		body, _ = relayframe.AppendHello(nil, &relayframe.Hello{Interests: local, Sources: sources})
		for _, p := range r.peers {
			targets = append(targets, p)
		}
	}
	r.mu.Unlock()
	if helloDue {
		w := newSendWork()
		for _, p := range targets {
			r.sealTo(w, []*peer{p}, relayframe.TypeHello, body)
		}
		r.flush(w)
	}
	if q4 || q6 {
		r.io.query(q4, q6, r.log)
	}
	r.amu.Lock()
	n := r.reasm.expire(now)
	r.amu.Unlock()
	if n > 0 {
		r.stats.dropN(DropReassembly, uint64(n))
	}
}

// Reload applies a new configuration. The settings restartOnly names
// cannot change without a restart.
func (r *Relay) Reload(cfg *config.Config) error {
	r.mu.Lock()
	if err := restartOnly(r.cfg, cfg); err != nil {
		r.mu.Unlock()
		return err
	}
	if needs6(cfg) && !r.io.has6() {
		r.mu.Unlock()
		return errors.New("IPv6 groups added: restart the relay to open its IPv6 sockets")
	}
	r.cfg = cfg
	r.setPeers(cfg)
	r.rebuild()
	r.mu.Unlock()
	r.reloads.Add(1)
	r.log.Info("reloaded", "peers", len(cfg.Peers), "groups", len(cfg.Groups), "broadcast_ports", len(cfg.BroadcastPorts))
	r.kickTick()
	return nil
}

// restartOnly names the first setting that a reload from old to cfg would
// change and that only a restart applies, or returns nil.
func restartOnly(old, cfg *config.Config) error {
	for _, f := range []struct {
		name     string
		from, to any
	}{
		{"node", old.Node, cfg.Node},
		{"listen", old.Listen, cfg.Listen},
		{"interface", old.Interface, cfg.Interface},
		{"key", old.KeyFile, cfg.KeyFile},
		{"cipher", old.Cipher, cfg.Cipher},
		{"source relay port", old.SourcePort, cfg.SourcePort},
		{"metrics", old.Metrics, cfg.Metrics},
		{"admin", old.Admin, cfg.Admin},
	} {
		if f.from != f.to {
			return fmt.Errorf("%s changed from %q to %q: restart the relay for that", f.name, fmt.Sprint(f.from), fmt.Sprint(f.to))
		}
	}
	return nil
}

func needs6(cfg *config.Config) bool {
	if cfg.Auto {
		return true
	}
	for _, p := range cfg.Groups {
		if p.Addr().Is6() {
			return true
		}
	}
	return false
}
