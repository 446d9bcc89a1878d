package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/mcasttools/mcast/internal/buildinfo"
	"github.com/mcasttools/mcast/internal/contract"
	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/stream"
)

// The --json records the CLI makes itself (the capabilities' records are
// their own types: stream.Report, watch.Event, ping.Report, relay.Status,
// tunnel.Report). docs/json.md describes them all.

// versionRecord is `mcast version --json`.
type versionRecord struct {
	contract.Header
	buildinfo.Info
}

// groupsRecord is `mcast groups --json`: the memberships by interface.
type groupsRecord struct {
	contract.Header
	Interfaces []hostfs.IfaceGroups `json:"interfaces"`
}

// macRecord is `mcast mac --json`: what each address given maps to.
type macRecord struct {
	contract.Header
	Results []macResult `json:"results"`
}

// macCheckRecord is `mcast mac --check --json`: the MACs groups share.
type macCheckRecord struct {
	contract.Header
	Shared []macShared `json:"shared"`
}

// sendStart is the first record of `mcast send --json`.
type sendStart struct {
	contract.Header
	Iface      string   `json:"iface"` // empty when the routing table picks it
	Groups     []string `json:"groups"`
	Port       uint16   `json:"port"`
	Source     string   `json:"source"`
	SourcePort uint16   `json:"source_port"`
	TTL        int      `json:"ttl"`
	Loop       bool     `json:"loop"`
	RatePPS    float64  `json:"rate_pps"` // asked; 0: one datagram per --interval; -1: as fast as possible
}

// sendDatagram is a `mcast send --json` record per datagram sent (without
// --rate).
type sendDatagram struct {
	contract.Header
	Seq  int    `json:"seq"`
	Text string `json:"text"`
}

// sendSummary is the last record of `mcast send --json`.
type sendSummary struct {
	contract.Header
	Sent           uint64  `json:"sent"`  // datagrams sent to each group
	Bytes          uint64  `json:"bytes"` // payload bytes sent to each group
	Groups         int     `json:"groups"`
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	RatePPS        float64 `json:"rate_pps"`  // achieved, per group
	RateBPS        float64 `json:"rate_bps"`  // payload bit/s, per group
	Segmented      bool    `json:"segmented"` // UDP_SEGMENT carried the batches
	Error          string  `json:"error,omitempty"`
}

// labRecord is `mcast lab up|down|plan --json`.
type labRecord struct {
	contract.Header
	Name     string   `json:"name"`
	Topology string   `json:"topology,omitempty"`
	Nodes    []string `json:"nodes,omitempty"`
	Commands []string `json:"commands,omitempty"` // plan: the commands up would run
}

// labListRecord is `mcast lab ls --json`.
type labListRecord struct {
	contract.Header
	Labs []labEntry `json:"labs"`
}

// labEntry is one lab that is up.
type labEntry struct {
	Name     string   `json:"name"`
	Topology string   `json:"topology"`
	Nodes    []string `json:"nodes"`
}

// labTopologiesRecord is `mcast lab topologies --json`.
type labTopologiesRecord struct {
	contract.Header
	Topologies []labTopology `json:"topologies"`
}

// labTopology is one built-in topology.
type labTopology struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// tunnelRecord is `mcast tunnel up|down|plan --json`: what was changed, or
// for plan what up would do.
type tunnelRecord struct {
	contract.Header
	Node    string   `json:"node"`
	Changes int      `json:"changes"` // up, down: changes made (0: nothing to do)
	Steps   []string `json:"steps"`   // the changes made, or plan's steps
}

// writeRecord writes one record as one line of JSON.
func writeRecord(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// stamp is contract.Stamp at the current time.
func stamp(typ string) contract.Header { return contract.Stamp(typ, time.Now()) }

// addrPortParts splits an address and port for a record.
func addrPortParts(ap netip.AddrPort) (string, uint16) {
	if !ap.Addr().IsValid() {
		return "", ap.Port()
	}
	return ap.Addr().WithZone("").String(), ap.Port()
}

// recvStart is the first record of `mcast recv --json`.
type recvStart struct {
	contract.Header
	Interfaces     []string `json:"interfaces"`
	Groups         []string `json:"groups"`
	Port           uint16   `json:"port"`
	Sources        []string `json:"sources"`
	ExcludeSources []string `json:"exclude_sources"`
	Broadcast      bool     `json:"broadcast"`
}

// datagramRecord is the --json-events record for one datagram. Class is
// what the receiver made of it (in_order, reordered, duplicate, too_late,
// end, foreign, malformed).
type datagramRecord struct {
	contract.Header
	Iface      string   `json:"iface"`
	Group      string   `json:"group"`
	Source     string   `json:"source"`
	SourcePort uint16   `json:"source_port"`
	Bytes      int      `json:"bytes"`
	TTL        int      `json:"ttl"`
	Class      string   `json:"class"`
	Path       string   `json:"path,omitempty"`
	Seq        *uint64  `json:"seq,omitempty"`
	SenderID   string   `json:"sender_id,omitempty"`
	LatencyMs  *float64 `json:"latency_ms,omitempty"`
	Text       *string  `json:"text,omitempty"`
}

// datagramEvent is the --json-events record for one datagram.
func datagramEvent(ev stream.Event, path string) datagramRecord {
	m := datagramRecord{Header: contract.Stamp("recv.datagram", ev.At), Group: ev.Dst.String(), Source: ev.Src.Addr().String(),
		SourcePort: ev.Src.Port(), Bytes: len(ev.Payload), TTL: ev.TTL, Class: string(ev.Kind), Path: path}
	if ev.Flow != nil {
		m.Iface = ev.Flow.Iface
		seq := uint64(ev.Header.Seq)
		lat := float64(ev.At.UnixNano()-ev.Header.SentNs) / 1e6
		m.Seq, m.SenderID, m.LatencyMs = &seq, fmt.Sprintf("%08x", ev.Header.SenderID), &lat
	}
	if ev.Kind != stream.KindEnd {
		t := showText(ev)
		m.Text = &t
	}
	return m
}
