package relay

// The fleet's part of the relay: the member peers merged into the peer
// table, memberlist's log, status and metrics.

import (
	"sort"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/members"
	"github.com/prometheus/client_golang/prometheus"
)

// withMembers is base with the member peers added after its static peers
// (those that clash with them left out, and those whose certificate
// expired). Caller holds mu.
func (r *Relay) withMembers(base *config.Config) *config.Config {
	if len(r.memberPeers) == 0 {
		return base
	}
	now := r.clock()
	live := r.memberPeers[:0:0]
	for _, p := range r.memberPeers {
		if p.NotAfter.IsZero() || now.Before(p.NotAfter) {
			live = append(live, p)
		}
	}
	self := config.Peer{Name: base.Node, ID: base.ID, Addr: base.Listen, Key: r.static.Key.Public()}
	peers, left := members.Merge(self, base.Peers, live)
	for name, why := range left {
		if r.fleetLeft[name] != why {
			r.log.Warn("member not taken as a peer", "member", name, "reason", why)
		}
	}
	r.fleetLeft = left
	out := *base
	out.Peers = peers
	return &out
}

// applyMembers makes the member peers joined, beside the static peers.
func (r *Relay) applyMembers(joined []config.Peer) {
	r.mu.Lock()
	r.memberPeers = joined
	r.cfg = r.withMembers(r.base)
	r.setPeers(r.cfg)
	r.rebuild()
	r.mu.Unlock()
	r.kickTick()
}

// gossipLog takes memberlist's log lines: it counts the gossip that failed
// decryption (a wrong or missing gossip key) and passes warnings and
// errors on at a bounded rate.
type gossipLog struct{ f *fleet }

func (g *gossipLog) Write(b []byte) (int, error) {
	line := strings.TrimSpace(string(b))
	kind, msg := classifyGossipLog(line)
	switch kind {
	case gossipDecrypt:
		g.f.decryptFails.Add(1)
		g.f.logLimited("gossip refused: it failed decryption (wrong gossip key?)", "decrypt", "detail", msg)
	case gossipSuspect:
		g.f.suspect(msg)
	case gossipWarn:
		// One kind per message text up to its first colon.
		k, _, _ := strings.Cut(msg, ":")
		g.f.logLimited("gossip: "+k, k, "detail", msg)
	}
	return len(b), nil
}

// Kinds of memberlist log line.
const (
	gossipDebug = iota
	gossipWarn
	gossipDecrypt
	gossipSuspect // msg is the member's name
)

// classifyGossipLog sorts a memberlist log line: a decryption failure (of
// a packet, or of a stream's state), this relay's suspicion of a member,
// another warning or error, or debug and information; msg is the line
// without its level and prefix (for a suspicion, the member's name).
func classifyGossipLog(line string) (kind int, msg string) {
	level := ""
	if strings.HasPrefix(line, "[") {
		if i := strings.IndexByte(line, ']'); i > 0 {
			level, line = line[1:i], strings.TrimSpace(line[i+1:])
		}
	}
	msg = strings.TrimPrefix(line, "memberlist: ")
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "decrypt") || strings.Contains(low, "remote state is not encrypted") ||
		strings.Contains(low, "encryption is not configured"):
		return gossipDecrypt, msg
	case strings.HasPrefix(msg, "Suspect ") && strings.HasSuffix(msg, " has failed, no acks received"):
		return gossipSuspect, strings.TrimSuffix(strings.TrimPrefix(msg, "Suspect "), " has failed, no acks received")
	case level == "WARN" || level == "ERR" || level == "ERROR":
		return gossipWarn, msg
	}
	return gossipDebug, msg
}

// FleetStatus is the relay's view of its fleet.
type FleetStatus struct {
	Enabled bool   `json:"enabled"`        // gossip-key is set
	Gossip  string `json:"gossip_address"` // the gossip endpoint
	// Joined: a join reached a seed (or another relay joined this one).
	Joined bool `json:"joined"`
	// NameTaken: another relay of the fleet has this relay's name; this
	// one stopped gossiping.
	NameTaken bool              `json:"name_taken"`
	ByState   map[string]int    `json:"members_by_state"`
	Members   []MemberStatus    `json:"members"`
	Events    []FleetEvent      `json:"events"`
	Counters  FleetCounters     `json:"counters"`
	Timing    FleetTimingStatus `json:"timing"`
}

// FleetCounters are the fleet's refusals and failures.
type FleetCounters struct {
	JoinFailures    uint64 `json:"join_failures"`           // seeds unresolved, joins that reached none
	Refused         uint64 `json:"members_refused"`         // members whose metadata failed the checks
	DecryptFailures uint64 `json:"gossip_decrypt_failures"` // gossip that failed decryption: a wrong key
	NameConflicts   uint64 `json:"name_conflicts"`          // two relays claiming one name
	// The gossip this relay sent and received: UDP packets (probes, acks,
	// gossip) and their bytes, and the TCP streams (joins, push/pull state
	// exchanges) and their bytes.
	PacketsSent     uint64 `json:"gossip_packets_sent"`
	PacketsReceived uint64 `json:"gossip_packets_received"`
	BytesSent       uint64 `json:"gossip_bytes_sent"`
	BytesReceived   uint64 `json:"gossip_bytes_received"`
	Streams         uint64 `json:"gossip_streams"`
	StreamBytesSent uint64 `json:"gossip_stream_bytes_sent"`
	StreamBytesRecv uint64 `json:"gossip_stream_bytes_received"`
}

// FleetTimingStatus is the failure-detection timing in force.
type FleetTimingStatus struct {
	ProbeIntervalSeconds float64 `json:"probe_interval_seconds"`
	ProbeTimeoutSeconds  float64 `json:"probe_timeout_seconds"`
	SuspicionMult        int     `json:"suspicion_mult"`
	// DetectionBoundSeconds is the longest a failed member stays alive in
	// this relay's view at the current fleet size (config.DetectionBound).
	DetectionBoundSeconds float64 `json:"detection_bound_seconds"`
}

// MemberStatus is one member of the fleet.
type MemberStatus struct {
	Name         string  `json:"name"`
	Gossip       string  `json:"gossip_address"`
	Address      string  `json:"address"` // its underlay data address
	State        string  `json:"state"`   // alive, suspect, dead or left
	Since        string  `json:"since"`   // RFC 3339
	SinceSeconds float64 `json:"since_seconds"`
}

// FleetEvent is one convergence event: a member joined, failed or left,
// or was refused.
type FleetEvent struct {
	Time   string `json:"time"` // RFC 3339 with milliseconds
	Member string `json:"member"`
	Event  string `json:"event"`
	Detail string `json:"detail"`
}

// fleetStatus reports the fleet (Enabled false without gossip).
func (r *Relay) fleetStatus(now time.Time) FleetStatus {
	st := FleetStatus{ByState: map[string]int{}, Members: []MemberStatus{}, Events: []FleetEvent{}}
	f := r.fleetP.Load()
	if f == nil {
		return st
	}
	tm := f.cfg.Timing()
	st.Enabled, st.Gossip, st.Joined, st.NameTaken = true, f.cfg.GossipAddr().String(), f.joined.Load(), f.selfRefused.Load()
	gc := &f.counts
	st.Counters = FleetCounters{JoinFailures: f.joinFailures.Load(), Refused: f.refused.Load(), DecryptFailures: f.decryptFails.Load(), NameConflicts: f.conflicts.Load(),
		PacketsSent: gc.packetsOut.Load(), PacketsReceived: gc.packetsIn.Load(), BytesSent: gc.bytesOut.Load(), BytesReceived: gc.bytesIn.Load(),
		Streams: gc.streams.Load(), StreamBytesSent: gc.streamBytesOut.Load(), StreamBytesRecv: gc.streamBytesIn.Load()}
	f.mu.Lock()
	ms, evs, counts := f.table.Members(), f.table.Events(), f.table.Count()
	f.mu.Unlock()
	for s, n := range counts {
		st.ByState[string(s)] = n
	}
	alive := 1 + counts[members.Alive] + counts[members.Suspect]
	st.Timing = FleetTimingStatus{ProbeIntervalSeconds: tm.ProbeInterval.Seconds(), ProbeTimeoutSeconds: tm.ProbeTimeout.Seconds(),
		SuspicionMult: tm.SuspicionMult, DetectionBoundSeconds: config.DetectionBound(tm, alive).Seconds()}
	for _, m := range ms {
		st.Members = append(st.Members, MemberStatus{Name: m.Name, Gossip: m.Gossip, Address: m.Peer.Addr.String(), State: string(m.State),
			Since: m.Since.UTC().Format(time.RFC3339Nano), SinceSeconds: now.Sub(m.Since).Seconds()})
	}
	for _, e := range evs {
		st.Events = append(st.Events, FleetEvent{Time: e.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), Member: e.Name, Event: e.Kind, Detail: e.Detail})
	}
	return st
}

var (
	descMembers       = prometheus.NewDesc("mcast_relay_members", "Fleet members known, by state (alive, suspect, dead, left).", []string{"state"}, nil)
	descJoinFailures  = prometheus.NewDesc("mcast_relay_member_join_failures_total", "Join attempts that reached no seed, and seeds that did not resolve.", nil, nil)
	descMembersRefuse = prometheus.NewDesc("mcast_relay_members_refused_total", "Members refused: metadata that does not decode or verify, a forged identity, a flood.", nil, nil)
	descGossipDecrypt = prometheus.NewDesc("mcast_relay_gossip_decrypt_failures_total", "Gossip packets and streams that failed decryption (a wrong or missing gossip key).", nil, nil)
	descNameConflicts = prometheus.NewDesc("mcast_relay_member_name_conflicts_total", "Times two relays claimed one node name.", nil, nil)
	descGossipBytes   = prometheus.NewDesc("mcast_relay_gossip_bytes_total", "Gossip bytes, by direction (sent, received) and kind (packet: UDP probes and gossip; stream: TCP joins and push/pull).", []string{"direction", "kind"}, nil)

	fleetDescs = []*prometheus.Desc{descMembers, descJoinFailures, descMembersRefuse, descGossipDecrypt, descNameConflicts, descGossipBytes}
)

// collectFleet sends the fleet's metrics (none without gossip).
func collectFleet(ch chan<- prometheus.Metric, st FleetStatus) {
	if !st.Enabled {
		return
	}
	states := make([]string, 0, len(st.ByState))
	for s := range st.ByState {
		states = append(states, s)
	}
	sort.Strings(states)
	for _, s := range states {
		ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(st.ByState[s]), s)
	}
	c := st.Counters
	for d, v := range map[*prometheus.Desc]uint64{descJoinFailures: c.JoinFailures, descMembersRefuse: c.Refused, descGossipDecrypt: c.DecryptFailures, descNameConflicts: c.NameConflicts} {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	for _, b := range []struct {
		v         uint64
		dir, kind string
	}{{c.BytesSent, "sent", "packet"}, {c.BytesReceived, "received", "packet"}, {c.StreamBytesSent, "sent", "stream"}, {c.StreamBytesRecv, "received", "stream"}} {
		ch <- prometheus.MustNewConstMetric(descGossipBytes, prometheus.CounterValue, float64(b.v), b.dir, b.kind)
	}
}
