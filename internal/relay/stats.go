package relay

import (
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcasttools/mcast/internal/contract"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"github.com/prometheus/client_golang/prometheus"
)

// maxCounterKeys bounds the groups counted one by one; past it, datagrams
// count under "other".
const maxCounterKeys = 4096

var otherGroup = netip.IPv6Unspecified()

// counterMap counts datagrams per group.
type counterMap struct {
	mu sync.RWMutex
	m  map[netip.Addr]*atomic.Uint64
}

func (c *counterMap) inc(g netip.Addr) {
	c.mu.RLock()
	v := c.m[g]
	c.mu.RUnlock()
	if v == nil {
		c.mu.Lock()
		if c.m == nil {
			c.m = map[netip.Addr]*atomic.Uint64{}
		}
		if len(c.m) >= maxCounterKeys {
			g = otherGroup
		}
		if v = c.m[g]; v == nil {
			v = &atomic.Uint64{}
			c.m[g] = v
		}
		c.mu.Unlock()
	}
	v.Add(1)
}

func (c *counterMap) snapshot() map[string]uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]uint64, len(c.m))
	for g, v := range c.m {
		out[groupName(g)] = v.Load()
	}
	return out
}

func groupName(g netip.Addr) string {
	switch g {
	case broadcastGroup:
		return "broadcast"
	case otherGroup:
		return "other"
	}
	return g.String()
}

type stats struct {
	drops                            map[string]*atomic.Uint64
	reloadFailures                   atomic.Uint64 // reloads refused (ReloadFailed)
	captured, emitted                counterMap
	ownSeen, fragmented, reassembled atomic.Uint64
	underlayReads                    atomic.Uint64
	segmentedSends                   atomic.Uint64
	reflected                        atomic.Uint64 // re-emitted on another interface of this relay
	reflectorFrames                  atomic.Uint64 // fan-out frames this relay passed on as a reflector
	replies                          atomic.Uint64 // unicast answers carried back to a searcher
	initsRead                        atomic.Uint64 // initiations given public-key work (ReadInit)
	cookieReplies                    atomic.Uint64 // cookie replies sent to initiations under load
	cookiesReceived                  atomic.Uint64 // cookie replies from peers under load, read
	interfaceLost                    atomic.Uint64
	refusedPeers                     atomic.Uint64 // certified peers refused, counted at each (re)load
	interfaceDown                    atomic.Bool   // an interface is gone, nothing is carried
	adminRefused                     map[string]*atomic.Uint64
	remoteLog                        logLimiter // the log lines others' packets trigger

	downIfaces atomic.Pointer[[]string] // the interfaces missing or down, while interfaceDown
}

func (s *stats) init() {
	s.drops = map[string]*atomic.Uint64{}
	for _, r := range dropReasons {
		s.drops[r] = &atomic.Uint64{}
	}
	s.adminRefused = map[string]*atomic.Uint64{}
	for _, r := range adminRefusals {
		s.adminRefused[r] = &atomic.Uint64{}
	}
}

func (s *stats) drop(reason string)            { s.drops[reason].Add(1) }
func (s *stats) dropN(reason string, n uint64) { s.drops[reason].Add(n) }

// Status is what `mcast relay status` shows. Its JSON field names are stable.
type Status struct {
	contract.Header                   // type "relay.status"; the printer stamps it
	Node            string            `json:"node"`
	Interface       string            `json:"interface"`
	ListenAddress   string            `json:"listen_address"` // the underlay socket's address
	ListenPort      uint16            `json:"listen_port"`
	Source          string            `json:"source_mode"` // which source address re-emitted datagrams carry
	UptimeSeconds   float64           `json:"uptime_seconds"`
	Reloads         uint64            `json:"reloads"`
	Wants           []string          `json:"wants"`  // what this relay asks its peers for
	Joined          []string          `json:"joined"` // groups the capture sockets joined
	Members         map[string]int    `json:"local_members"`
	LANMembers      map[string]int    `json:"lan_members"` // other hosts on the LAN that reported the group
	Peers           []PeerStatus      `json:"peers"`
	Captured        map[string]uint64 `json:"captured"` // datagrams taken from the LAN, by group
	Emitted         map[string]uint64 `json:"emitted"`  // datagrams re-emitted on the LAN, by group
	Drops           map[string]uint64 `json:"drops"`
	OwnSeen         uint64            `json:"own_emissions_seen"`
	Fragmented      uint64            `json:"fragmented"`
	Reassembled     uint64            `json:"reassembled"`
	// UnderlayReads counts the datagrams the underlay socket read, as the
	// kernel's Udp InDatagrams does: frames a peer sent segmented and the
	// kernel coalesced (UDP_GRO) count once.
	UnderlayReads uint64 `json:"underlay_reads"`
	// SegmentedSends counts the `source relay` sends that carried several
	// re-emitted datagrams at once (UDP_SEGMENT).
	SegmentedSends uint64 `json:"segmented_sends"`
	// Interfaces are every interface the relay serves (Interface is the
	// first), and Reflected counts the datagrams captured on one of them
	// and re-emitted on another.
	Interfaces []string `json:"interfaces"`
	Reflected  uint64   `json:"reflected"`
	// RepliesCarried counts the unicast answers to searches (SSDP,
	// WS-Discovery, LLMNR) carried back to the searcher's interface.
	RepliesCarried uint64 `json:"replies_carried"`
	// SeenEvicted counts transmissions forgotten before their time because
	// the table of those seen was full where they fell: a copy of one of
	// them could pass the loop check once.
	SeenEvicted uint64 `json:"seen_evicted"`

	// ReloadFailures counts the reloads refused (see ReloadFailed).
	ReloadFailures uint64 `json:"reload_failures"`

	// InterfaceUp is false while the relay carries nothing and waits for
	// an interface: one not marked `wait` is gone (deleted, or replaced by
	// another of its name), or none is up. InterfaceLost counts the times
	// an interface went.
	InterfaceUp   bool   `json:"interface_up"`
	InterfaceLost uint64 `json:"interface_lost"`
	// InterfacesDown names the interfaces missing or down: while
	// InterfaceUp is false, those the relay waits for; while it is true,
	// those marked `wait` that it does not serve until they are up.
	InterfacesDown []string `json:"interfaces_down"`
	// AdminRefused counts the admin socket's refused connections, by
	// reason: too-long, credentials, busy.
	AdminRefused map[string]uint64 `json:"admin_refused"`
	// RefusedPeers are the certified peers refused (name: reason), and
	// PeersRefused how many refusals the loads of the config counted.
	RefusedPeers map[string]string `json:"refused_peers"`
	PeersRefused uint64            `json:"peers_refused"`

	// Fanout is the configured fan-out (`fanout`); FanoutGroups are the
	// groups this relay sends through reflectors, more peers wanting them
	// than Fanout; ReflectorFrames counts the fan-out frames of other
	// relays this relay passed on as a reflector.
	Fanout          int           `json:"fanout"`
	FanoutGroups    []FanoutGroup `json:"fanout_groups"`
	ReflectorFrames uint64        `json:"reflector_frames"`
	// Fleet is the gossip membership (fleet_status.go).
	Fleet FleetStatus `json:"fleet"`
	// Handshakes is the defence against handshake floods
	// (handshake_guard.go).
	Handshakes HandshakeStatus `json:"handshakes"`
}

// PeerStatus is one peer in Status.
type PeerStatus struct {
	Name            string            `json:"name"`
	Address         string            `json:"address"`
	Port            uint16            `json:"port"`
	LAN             bool              `json:"lan"`
	Up              bool              `json:"up"`
	LastSeenSeconds float64           `json:"last_seen_seconds"` // -1: never
	Wants           []string          `json:"wants"`
	SentFrames      uint64            `json:"sent_frames"`
	SentBytes       uint64            `json:"sent_bytes"`
	ReceivedFrames  uint64            `json:"received_frames"`
	ReceivedBytes   uint64            `json:"received_bytes"`
	SentDatagrams   map[string]uint64 `json:"sent_datagrams"`     // by group
	RecvDatagrams   map[string]uint64 `json:"received_datagrams"` // by group
	// PublicKey is the peer's public key (base64); SessionAgeSeconds the
	// age of the session this relay sends it with (-1: none yet).
	PublicKey         string  `json:"public_key"`
	SessionAgeSeconds float64 `json:"session_age_seconds"`
	// Fan-out: ReflectedTo counts the frames this relay passed on to the
	// peer for other origins, ReflectedFor the peer's fan-out frames this
	// relay passed on, ReflectedVia the peer's records that reached this
	// relay through a reflector.
	ReflectedTo  uint64 `json:"reflected_to_frames"`
	ReflectedFor uint64 `json:"reflected_for_frames"`
	ReflectedVia uint64 `json:"reflected_via_records"`
	// Member: the peer is a fleet member (joined by gossip), not a peer line.
	Member bool `json:"member"`
}

// Status reports the relay's state and counters.
func (r *Relay) Status() Status {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	st := Status{
		Node: r.cfg.Node, Interface: r.cfg.Interface, ListenAddress: r.cfg.Listen.Addr().String(), ListenPort: r.cfg.Listen.Port(), Source: string(r.cfg.Source),
		UptimeSeconds: now.Sub(r.started).Seconds(), Reloads: r.reloads.Load(),
		Wants: formatInterests(r.local), Members: map[string]int{}, LANMembers: map[string]int{},
		Captured: r.stats.captured.snapshot(), Emitted: r.stats.emitted.snapshot(), Drops: map[string]uint64{},
		OwnSeen: r.stats.ownSeen.Load(), Fragmented: r.stats.fragmented.Load(), Reassembled: r.stats.reassembled.Load(),
		SegmentedSends: r.stats.segmentedSends.Load(),
		Interfaces:     append([]string{}, r.cfg.Interfaces...), Reflected: r.stats.reflected.Load(),
		RepliesCarried: r.stats.replies.Load(),
		UnderlayReads:  r.stats.underlayReads.Load(),
		InterfaceUp:    !r.stats.interfaceDown.Load(), InterfaceLost: r.stats.interfaceLost.Load(),
		InterfacesDown: []string{},
		ReloadFailures: r.stats.reloadFailures.Load(),
		RefusedPeers:   map[string]string{}, PeersRefused: r.stats.refusedPeers.Load(),
	}
	if d := r.stats.downIfaces.Load(); d != nil {
		st.InterfacesDown = append(st.InterfacesDown, (*d)...)
	}
	r.cmu.Lock()
	st.SeenEvicted = r.seen.evicted
	r.cmu.Unlock()
	if st.Wants == nil {
		st.Wants = []string{}
	}
	st.Joined = []string{}
	for g := range r.joined {
		st.Joined = append(st.Joined, g.String())
	}
	sort.Strings(st.Joined)
	for g, n := range r.members {
		if r.joined[g] {
			n--
		}
		if n > 0 && r.cfg.Carries(g) {
			st.Members[g.String()] = n
		}
	}
	for g, n := range r.lanCount {
		if n > 0 && r.cfg.Carries(g) {
			st.LANMembers[g.String()] = n
		}
	}
	st.Fanout, st.FanoutGroups, st.ReflectorFrames = r.cfg.Fanout, fanoutGroups(r.table.Load()), r.stats.reflectorFrames.Load()
	for name, why := range r.refused {
		st.RefusedPeers[name] = why
	}
	for reason, v := range r.stats.drops {
		st.Drops[reason] = v.Load()
	}
	st.Fleet = r.fleetStatus(now)
	st.Handshakes = r.handshakeStatus(r.clock())
	st.AdminRefused = map[string]uint64{}
	for reason, v := range r.stats.adminRefused {
		st.AdminRefused[reason] = v.Load()
	}
	for _, pc := range r.cfg.Peers {
		p := r.peers[pc.ID]
		if p == nil {
			continue
		}
		ps := PeerStatus{
			Name: pc.Name, Address: pc.Addr.Addr().String(), Port: pc.Addr.Port(), LAN: pc.LAN, Up: p.up.Load(), LastSeenSeconds: -1,
			SentFrames: p.sentFrames.Load(), SentBytes: p.sentBytes.Load(), ReceivedFrames: p.recvFrames.Load(), ReceivedBytes: p.recvBytes.Load(),
			SentDatagrams: p.sentByGroup.snapshot(), RecvDatagrams: p.recvByGroup.snapshot(), Wants: []string{}, Member: pc.Line == 0,
			ReflectedTo: p.reflectedTo.Load(), ReflectedFor: p.reflectedFor.Load(), ReflectedVia: p.reflectedVia.Load(),
		}
		if ls := p.lastSeen.Load(); ls != 0 {
			ps.LastSeenSeconds = now.Sub(time.Unix(0, ls)).Seconds()
		}
		ps.PublicKey, ps.SessionAgeSeconds = crypto.PublicKey(pc.Key).String(), -1
		if s := p.cur.Load(); s != nil {
			ps.SessionAgeSeconds = r.clock().Sub(s.Created).Seconds()
		}
		for in := range p.wants {
			ps.Wants = append(ps.Wants, formatInterests([]relayframe.Interest{in})...)
		}
		sort.Strings(ps.Wants)
		st.Peers = append(st.Peers, ps)
	}
	return st
}

// Collector exports the relay's counters to Prometheus.
func (r *Relay) Collector() prometheus.Collector { return collector{r} }

type collector struct{ r *Relay }

var (
	descPeerUp       = prometheus.NewDesc("mcast_relay_peer_up", "1 when the peer was heard from within peer-timeout.", []string{"peer"}, nil)
	descPeerFrames   = prometheus.NewDesc("mcast_relay_peer_frames_total", "Frames exchanged with a peer.", []string{"peer", "direction"}, nil)
	descPeerBytes    = prometheus.NewDesc("mcast_relay_peer_bytes_total", "Frame bytes exchanged with a peer.", []string{"peer", "direction"}, nil)
	descPeerDgrams   = prometheus.NewDesc("mcast_relay_peer_datagrams_total", "Datagrams carried to or from a peer, by group.", []string{"peer", "direction", "group"}, nil)
	descCaptured     = prometheus.NewDesc("mcast_relay_captured_datagrams_total", "Datagrams captured on the local interface, by group.", []string{"group"}, nil)
	descEmitted      = prometheus.NewDesc("mcast_relay_emitted_datagrams_total", "Datagrams re-emitted on the local interface, by group.", []string{"group"}, nil)
	descDropped      = prometheus.NewDesc("mcast_relay_dropped_total", "Frames or datagrams dropped, by reason.", []string{"reason"}, nil)
	descOwnSeen      = prometheus.NewDesc("mcast_relay_own_emissions_seen_total", "Re-emitted datagrams seen again by the capture socket and ignored.", nil, nil)
	descFragmented   = prometheus.NewDesc("mcast_relay_fragmented_datagrams_total", "Datagrams split into several frames.", nil, nil)
	descReassembled  = prometheus.NewDesc("mcast_relay_reassembled_datagrams_total", "Datagrams rejoined from fragments.", nil, nil)
	descSegmented    = prometheus.NewDesc("mcast_relay_segmented_sends_total", "Re-emission sends (source relay) that carried several datagrams (UDP_SEGMENT).", nil, nil)
	descSeenEvicted  = prometheus.NewDesc("mcast_relay_seen_evicted_total", "Transmissions forgotten early because the table of those seen was full.", nil, nil)
	descIfaceUp      = prometheus.NewDesc("mcast_relay_interface_up", "1 while the relay carries; 0 while it waits for an interface (one not marked wait gone, or none up).", nil, nil)
	descIfaceLost    = prometheus.NewDesc("mcast_relay_interface_lost_total", "Times the LAN interface vanished (deleted, or replaced by another of its name).", nil, nil)
	descReloads      = prometheus.NewDesc("mcast_relay_reloads_total", "Configuration reloads applied.", nil, nil)
	descAdminRefused = prometheus.NewDesc("mcast_relay_admin_refused_total", "Admin socket connections refused, by reason.", []string{"reason"}, nil)
	descLocalMembers = prometheus.NewDesc("mcast_relay_local_members", "Local memberships of carried groups (the relay's own excluded).", []string{"group"}, nil)
)

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPeerUp, descPeerFrames, descPeerBytes, descPeerDgrams, descCaptured, descEmitted, descDropped,
		descOwnSeen, descFragmented, descReassembled, descSegmented, descSeenEvicted, descIfaceUp, descIfaceLost, descReloads, descLocalMembers, descAdminRefused} {
		ch <- d
	}
	for _, d := range append(moreDescs, fleetDescs...) {
		ch <- d
	}
	for _, d := range append(fanoutDescs, handshakeDescs...) {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.r.Status()
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, p := range st.Peers {
		up := 0.0
		if p.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descPeerUp, prometheus.GaugeValue, up, p.Name)
		if p.LastSeenSeconds >= 0 {
			ch <- prometheus.MustNewConstMetric(descPeerLastSeen, prometheus.GaugeValue, p.LastSeenSeconds, p.Name)
		}
		counter(descPeerFrames, p.SentFrames, p.Name, "sent")
		counter(descPeerFrames, p.ReceivedFrames, p.Name, "received")
		counter(descPeerBytes, p.SentBytes, p.Name, "sent")
		counter(descPeerBytes, p.ReceivedBytes, p.Name, "received")
		for g, v := range p.SentDatagrams {
			counter(descPeerDgrams, v, p.Name, "sent", g)
		}
		for g, v := range p.RecvDatagrams {
			counter(descPeerDgrams, v, p.Name, "received", g)
		}
	}
	zeroConfiguredGroups(c.r.config(), st)
	for g, v := range st.Captured {
		counter(descCaptured, v, g)
	}
	for g, v := range st.Emitted {
		counter(descEmitted, v, g)
	}
	for reason, v := range st.Drops {
		counter(descDropped, v, reason)
	}
	for reason, v := range st.AdminRefused {
		counter(descAdminRefused, v, reason)
	}
	for g, n := range st.Members {
		ch <- prometheus.MustNewConstMetric(descLocalMembers, prometheus.GaugeValue, float64(n), g)
	}
	collectMore(ch, st)
	collectFanout(ch, st)
	collectHandshakes(ch, st.Handshakes)
	collectFleet(ch, st.Fleet)
	counter(descOwnSeen, st.OwnSeen)
	counter(descFragmented, st.Fragmented)
	counter(descReassembled, st.Reassembled)
	counter(descSegmented, st.SegmentedSends)
	counter(descSeenEvicted, st.SeenEvicted)
	counter(descReloads, st.Reloads)
	counter(descIfaceLost, st.InterfaceLost)
	up := 0.0
	if st.InterfaceUp {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(descIfaceUp, prometheus.GaugeValue, up)
}
