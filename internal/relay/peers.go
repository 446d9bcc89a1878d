package relay

// The peer table and the route table the hot paths read.

import (
	"encoding/binary"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// peer is another relay and what this relay knows of it.
type peer struct {
	cfg      config.Peer
	udp      *net.UDPAddr
	lastSeen atomic.Int64 // unix nanoseconds of the last authenticated frame
	up       atomic.Bool
	// allow is cfg.Allow, read by the emit path (nil: any source).
	allow atomic.Pointer[[]netip.Prefix]

	// Sessions: cur sends (and receives), prev still receives the frames
	// in flight when cur replaced it, nexts are those this relay answered
	// and their initiator has not used yet. cur is read by the forward
	// path; the rest is guarded by Relay.smu.
	cur    atomic.Pointer[crypto.Session]
	prev   *crypto.Session
	nexts  []*crypto.Session // answered, not yet used by the initiator (at most maxUnconfirmed)
	hsSent time.Time         // when this relay last sent it an initiation
	// cookie is the one its last cookie reply handed this relay, for the
	// mac2 of the next initiations; received at cookieAt.
	cookie   []byte
	cookieAt time.Time
	wants    map[relayframe.Interest]bool // from its hellos; guarded by Relay.mu
	// sources are the addresses it re-emits from (`source relay`), from
	// its hellos; guarded by Relay.mu.
	sources []netip.AddrPort

	// dedupe remembers datagram IDs; underlay reader only. A new session
	// with the peer resets it.
	dedupe crypto.ReplayWindow

	bmu  sync.Mutex
	rate bucket

	sentFrames, sentBytes, recvFrames, recvBytes atomic.Uint64
	// Fan-out: frames this relay passed on to the peer for other origins
	// (reflectedTo), fan-out frames of the peer's it passed on
	// (reflectedFor), records of the peer's that reached this relay
	// through a reflector (reflectedVia).
	reflectedTo, reflectedFor, reflectedVia atomic.Uint64
	sentByGroup, recvByGroup                counterMap
}

// routeTable is an immutable snapshot the hot paths read without locks.
type routeTable struct {
	cfg  *config.Config
	want map[relayframe.Interest]*peerSet // peers that are up, not on this LAN, and want it
	// fan are the groups more peers want than `fanout` allows: sent to
	// reflectors (fanout.go).
	fan  map[relayframe.Interest]*fanPlan
	lan  []uint32         // this relay and its LAN peers that are up
	byID map[uint32]*peer // every peer, up or not
	self uint32
	// copies are the addresses the peers re-emit from (`source relay`):
	// a datagram from one of them is a copy a relay of the mesh made, and
	// the relay that sent it to that peer sent it to every peer that
	// wanted it. Nil when no peer re-emits from its own address.
	copies map[netip.AddrPort]bool
}

// peerSet is the peers that want a group. Groups wanted by the same peers
// share one set, so that their datagrams pack into the same frames, each
// sealed for every peer of the set under its session, and sent in one
// batch.
// Each set also knows the singleton set of each of its peers, for
// datagrams a peer's rate cap keeps from some of them.
type peerSet struct {
	peers  []*peer
	single []*peerSet // single[i] holds peers[i] alone
	// member holds peers, for sets of more than a few.
	member map[*peer]struct{}
	// hdr, for a reflector's leg of a fan-out plan, is the Reflect header
	// its frames start with (TypeReflect); nil for data frames.
	hdr []byte
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
			if len(peers) > 8 {
				s.member = make(map[*peer]struct{}, len(peers))
				for _, p := range peers {
					s.member[p] = struct{}{}
				}
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

// setPeers makes the peer table match cfg, keeping the state of peers whose
// name, address and LAN flag did not change. Caller holds mu (or owns r).
func (r *Relay) setPeers(cfg *config.Config) {
	next := map[uint32]*peer{}
	for _, pc := range cfg.Peers {
		if old, ok := r.peers[pc.ID]; ok && old.cfg.Name == pc.Name && old.cfg.Addr == pc.Addr && old.cfg.LAN == pc.LAN && old.cfg.Key == pc.Key {
			old.cfg = pc
			old.allow.Store(allowOf(pc))
			next[pc.ID] = old
			continue
		}
		p := &peer{cfg: pc, udp: net.UDPAddrFromAddrPort(pc.Addr), wants: map[relayframe.Interest]bool{}}
		p.allow.Store(allowOf(pc))
		next[pc.ID] = p
	}
	r.peers = next
	r.byKey = make(map[crypto.PublicKey]*peer, len(next))
	for _, p := range next {
		r.byKey[crypto.PublicKey(p.cfg.Key)] = p
	}
	r.forgetSessions(next)
}

func allowOf(pc config.Peer) *[]netip.Prefix {
	if pc.Allow == nil {
		return nil
	}
	a := pc.Allow
	return &a
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

// rebuild publishes a new routeTable. Caller holds mu (or owns r).
func (r *Relay) rebuild() {
	t := &routeTable{cfg: r.cfg, self: r.cfg.ID, lan: []uint32{r.cfg.ID}, byID: make(map[uint32]*peer, len(r.peers))}
	lists := map[relayframe.Interest][]*peer{}
	ids := make([]uint32, 0, len(r.peers))
	for id := range r.peers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := r.peers[id]
		t.byID[id] = p
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
	t.fan = buildFanout(t.self, t.want, r.cfg.Fanout)
	r.table.Store(t)
}
