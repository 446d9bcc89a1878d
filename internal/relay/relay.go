// Package relay is the mcast relay daemon: it captures multicast and
// broadcast datagrams on a local interface, carries them over encrypted
// unicast UDP to the peer relays that want them, and re-emits them there,
// with the original source address by default.
//
// The pure parts live in files without a build suffix, by job: the peer
// and route tables (peers.go), what the relay wants and joins
// (interest.go), the forward path from the LAN to the peers (forward.go),
// the emit path from the peers to the LAN (emit.go), the periodic work
// (tick.go) and reloads (reload.go), with dedupe, loop detection,
// election, rate caps and fragmentation beside them. They reach the
// sockets through a small seam (linkIO, io.go); its Linux implementation
// (io_linux.go) opens them through internal/sock, and the loops that feed
// the pure paths with batches are in run_linux.go.
package relay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// Drop reasons, the label values of mcast_relay_dropped_total.
const (
	DropMalformed   = "malformed"    // not a relay frame, or a bad record
	DropUnknownPeer = "unknown-peer" // a handshake from a key of no configured peer
	DropWrongSource = "wrong-source" // a peer's frame from another address
	DropReplay      = "replay"       // frame counter seen before or too old
	DropAuth        = "auth"         // failed AEAD or handshake authentication
	// DropUnknownSession: a frame naming no current session of this relay
	// (from before its restart, or made up).
	DropUnknownSession = "unknown-session"
	// DropNoSession: a frame not sent because the peer has no session yet.
	DropNoSession = "no-session"
	// DropSpoofedSource: a datagram whose source address is not in the
	// prefixes its peer may carry (`allow`), or that the interface it was
	// captured on lets in (`interface NAME allow`).
	DropSpoofedSource = "spoofed-source"
	DropDuplicate     = "duplicate"     // datagram ID seen before from that origin
	DropLoop          = "loop"          // content this relay captured itself
	DropNotCarried    = "not-carried"   // group or port not in this relay's config
	DropNotForwarder  = "not-forwarder" // another relay is this LAN's forwarder
	DropRateGroup     = "rate-group"    // per-group cap hit
	DropRatePeer      = "rate-peer"     // per-peer cap hit
	DropTooBig        = "too-big"       // could not be framed or emitted
	DropReassembly    = "reassembly"    // fragments that never completed, or too many in progress
	DropEmitError     = "emit-error"    // the kernel refused a re-emission
	DropSendError     = "send-error"    // the kernel refused a frame to a peer
	// DropServiceType: an mDNS message about a service type no
	// `mdns-type` line names (or not a DNS message).
	DropServiceType = "service-type"
	// DropReplyTableFull: a search carried to another interface whose
	// searcher could not be remembered (every slot taken): its unicast
	// answers will not be carried back.
	DropReplyTableFull = "reply-table-full"

	// Fan-out (fanout.go, reflector.go). DropReflectList: a fan-out frame
	// whose target list is too long, names a relay twice, names its
	// origin, the reflector itself or a relay the reflector does not know
	// (refused whole). DropReflectHop: a reflected frame asking to be
	// reflected again. DropReflectOrigin: a reflected frame naming an
	// unknown origin or the receiver. DropReflectNotChosen: a reflected
	// record from a relay the origin could not have chosen as reflector
	// for its group, or a record a reflector will not pass on for that
	// reason.
	DropReflectList      = "reflect-list"
	DropReflectHop       = "reflect-hop"
	DropReflectOrigin    = "reflect-origin"
	DropReflectNotChosen = "reflect-not-chosen"

	// IGMP and MLD messages heard on the LAN and refused, as the kernel
	// refuses them: a bad IPv4 header or message checksum, a fragment, a
	// group that is not multicast, a report without records, a message
	// cut short or of an unknown type.
	DropMembershipChecksum  = "membership-checksum"
	DropMembershipFragment  = "membership-fragment"
	DropMembershipGroup     = "membership-group"
	DropMembershipNoRecords = "membership-no-records"
	DropMembershipTruncated = "membership-truncated"
	DropMembershipType      = "membership-type"

	// Handshake floods (handshake_guard.go). DropHandshakeMAC: a
	// handshake message without the mac1 of this relay's public key
	// (garbage, or from whoever does not know the key), dropped before
	// any public-key work. DropHandshakeLoad: an initiation that arrived
	// while the relay was under load without a valid mac2, answered with
	// a cookie reply instead. DropHandshakeRate: one with a valid mac2
	// under load past its source address's share (sourceInits a second).
	DropHandshakeMAC  = "handshake-mac"
	DropHandshakeLoad = "handshake-load"
	DropHandshakeRate = "handshake-rate"
)

var dropReasons = []string{DropMalformed, DropUnknownPeer, DropWrongSource, DropReplay, DropAuth, DropDuplicate,
	DropLoop, DropNotCarried, DropNotForwarder, DropRateGroup, DropRatePeer, DropTooBig, DropReassembly, DropEmitError, DropSendError,
	DropUnknownSession, DropNoSession, DropSpoofedSource, DropServiceType, DropReplyTableFull,
	DropReflectList, DropReflectHop, DropReflectOrigin, DropReflectNotChosen,
	DropMembershipChecksum, DropMembershipFragment, DropMembershipGroup, DropMembershipNoRecords, DropMembershipTruncated, DropMembershipType,
	DropHandshakeMAC, DropHandshakeLoad, DropHandshakeRate}

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
	log    *slog.Logger
	static *crypto.Static   // this relay's identity, pre-shared key and cipher
	clock  func() time.Time // time.Now but in tests: session ages and handshake timers
	seed   maphash.Seed
	io     linkIO     // the sockets (nil until Run opens them)
	link   *linkFacts // io.facts(), read by the hot paths
	ifs    []*lanIf   // every interface served, the first with io (reach.go)

	mu        sync.Mutex // guards cfg, peers, local, joined, members, lan, nextQuery
	cfg       *config.Config
	srcCfg    *config.Config    // cfg as given, before the certified peers were checked
	refused   map[string]string // certified peers refused, and why
	lan       *LANMembers       // other hosts' memberships, from their reports
	lanCount  map[netip.Addr]int
	nextQuery time.Time
	peers     map[uint32]*peer
	byKey     map[crypto.PublicKey]*peer
	local     []relayframe.Interest // what this relay wants, sorted
	joined    map[netip.Addr]bool
	members   map[netip.Addr]int
	reloads   atomic.Uint64
	started   time.Time
	table     atomic.Pointer[routeTable]
	dgramID   atomic.Uint64
	kick      chan struct{} // run a tick now (interest changed, peer came up, reload)

	ifaceCheck chan struct{} // check now that the LAN interface is still there (a read failed)

	cmu  sync.Mutex // guards seen
	seen *seenSet   // transmissions captured on or emitted to the LAN recently

	rmu     sync.Mutex // guards the per-group capture buckets
	buckets map[netip.Addr]*bucket

	pmu     sync.Mutex  // guards replies
	replies *replyTable // searchers whose unicast answers are carried back (replies.go)

	amu   sync.Mutex // guards reasm
	reasm *reassembler

	smu      sync.Mutex             // guards sessions, pending and the peers' session state
	sessions map[uint32]*sessionRef // by local index
	pending  map[uint32]*pendingRef // handshakes this relay started, by local index
	// initsSeen are the initiations answered (their SHA-256): a replayed
	// one is refused.
	initsSeen map[[32]byte]bool
	hs        handshakeGuard // mac1, load and cookies (handshake_guard.go)

	stats stats

	ready func() // Options.Ready

	fleet  *fleet                // the fleet membership (nil without gossip-key), started by Run
	fleetP atomic.Pointer[fleet] // fleet once it runs, for Status
	// Guarded by mu: cfg without the fleet's members (fleet_status.go),
	// the live members, and those left out of the peers and why.
	base        *config.Config
	memberPeers []config.Peer
	fleetLeft   map[string]string
}

// Options carry what New needs besides the config.
type Options struct {
	Logger     *slog.Logger
	PrivateKey crypto.PrivateKey // the private-key file's key
	Key        []byte            // the optional mesh key file's content (nil: none)
	// Clock and Rand replace time.Now and crypto/rand in tests.
	Clock func() time.Time
	Rand  io.Reader
	// Ready, when not nil, is called once Run has opened the relay's
	// sockets and servers and is about to carry (systemd's READY=1).
	Ready func()
}

// ErrSharedKeyOnly is New's error for a configuration with a mesh key and
// no identity: the mode where one key file let any holder impersonate
// every relay is gone.
var ErrSharedKeyOnly = errors.New("no private-key directive: the mesh key alone no longer protects a relay (any host holding it could impersonate every relay); " +
	"give each relay an identity: mcast relay genkey > FILE; chmod 600 FILE; private-key FILE; and add each peer's public key (mcast relay pubkey < FILE) to its peer line; the key file may stay as an extra pre-shared key")

// New checks cfg and the keys and prepares a relay; Run opens its sockets.
func New(cfg *config.Config, o Options) (*Relay, error) {
	if cfg.PrivateKey == "" {
		return nil, fmt.Errorf("%w", ErrSharedKeyOnly)
	}
	clock := o.Clock
	if clock == nil {
		clock = time.Now
	}
	src := cfg
	cfg, refused, err := withCerts(cfg, clock())
	if err != nil {
		return nil, err
	}
	if o.PrivateKey == (crypto.PrivateKey{}) {
		return nil, fmt.Errorf("private key file %s: no key given", cfg.PrivateKey)
	}
	st := &crypto.Static{Key: o.PrivateKey, Cipher: cfg.Cipher, Rand: o.Rand}
	if o.Key != nil {
		psk, err := crypto.DerivePSK(o.Key, cfg.Cipher)
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", cfg.KeyFile, err)
		}
		st.PSK = psk
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := clock()
	r := &Relay{
		log: log, static: st, clock: clock, seed: maphash.MakeSeed(), cfg: cfg, srcCfg: src, base: cfg, refused: refused,
		sessions: map[uint32]*sessionRef{}, pending: map[uint32]*pendingRef{}, initsSeen: map[[32]byte]bool{},
		peers: map[uint32]*peer{}, joined: map[netip.Addr]bool{}, members: map[netip.Addr]int{},
		kick: make(chan struct{}, 1), ifaceCheck: make(chan struct{}, 1), started: now, lan: NewLANMembers(), lanCount: map[netip.Addr]int{},
		seen:    newSeenSet(seenSpan, seenBits, hugeSlots),
		buckets: map[netip.Addr]*bucket{}, replies: newReplyTable(), reasm: newReassembler(2*time.Second, 1024),
	}
	r.hs.init(r.static.Key.Public(), r.static.Rand)
	// Datagram IDs (the receivers' dedupe keys) start anywhere: a
	// receiver forgets the IDs it saw when a new session with this relay
	// begins, so nothing depends on the clock.
	var id [8]byte
	if _, err := io.ReadFull(randOr(o.Rand), id[:]); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	r.dgramID.Store(binary.BigEndian.Uint64(id[:]) >> 1)
	r.stats.init()
	r.ready = o.Ready
	if r.fleet, err = newFleet(r, cfg, r.static.Key.Public()); err != nil {
		return nil, err
	}
	r.logRefused(refused)
	r.setPeers(cfg)
	r.rebuild()
	return r, nil
}

// warnOpen logs, once the relay runs, what its configuration leaves open:
// peers that may carry any source address, no mesh key.
func (r *Relay) warnOpen() {
	cfg := r.config()
	for _, p := range cfg.Peers {
		if p.Allow == nil {
			r.log.Warn("peer has no allow prefixes: the datagrams it carries may have any source address", "peer", p.Name)
		}
	}
	if r.static.PSK == nil {
		r.log.Info("no mesh key: sessions rest on the relays' identities alone")
	}
	if name, mtu := underlayMTU(cfg.Listen.Addr()); mtu > 0 && mtu < cfg.MTU {
		r.log.Warn("the underlay interface's MTU is below mtu: larger frames fail or are fragmented; set mtu to it",
			"interface", name, "interface_mtu", mtu, "mtu", cfg.MTU)
	}
}

func (r *Relay) kickTick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// config returns the current configuration.
func (r *Relay) config() *config.Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg
}

// setIO makes l the sockets the relay uses, on its first interface and,
// with several, more on the others (in the config's order); no loop may be
// running.
func (r *Relay) setIO(l linkIO, more ...linkIO) { r.setIOOn(nil, l, more...) }

// setIOOn is setIO for the interfaces names (nil: the config's), those
// served when some marked wait are not (wait.go). The other hosts'
// memberships heard on an interface are kept across, by name.
func (r *Relay) setIOOn(names []string, l linkIO, more ...linkIO) {
	r.mu.Lock()
	r.io = l
	r.link = l.facts()
	if names == nil {
		names = ifaceNames(r.cfg)
	}
	old := r.ifs
	if len(old) > 0 && old[0].name != names[0] {
		r.lan = NewLANMembers() // the first interface is another one now
	}
	r.ifs = []*lanIf{newLANIf(names[0], l, r.lan)}
	r.ifs[0].joined = r.joined
	for i, m := range more {
		name := ""
		if i+1 < len(names) {
			name = names[i+1]
		}
		lan := NewLANMembers()
		for _, o := range old[min(1, len(old)):] {
			if o.name == name {
				lan = o.lan
			}
		}
		r.ifs = append(r.ifs, newLANIf(name, m, lan))
	}
	r.mu.Unlock()
}

// offline drops what the relay knew while its sockets were open: the joins
// went with them (the next sockets join again), and its peers, no longer
// heard, are down until they are heard again.
func (r *Relay) offline() {
	r.mu.Lock()
	clear(r.joined)
	for _, l := range r.ifs {
		clear(l.joined)
	}
	r.members = map[netip.Addr]int{}
	for _, p := range r.peers {
		p.up.Store(false)
	}
	r.rebuild()
	r.mu.Unlock()
}
