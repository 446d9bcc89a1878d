package ping

import (
	"net/netip"
	"time"
)

// Machine is a protocol engine that Run drives: Engine or SSMClient.
type Machine interface {
	Start(now time.Time)
	Tick(now time.Time) ([]Packet, []Event)
	Handle(Packet) ([]Packet, []Event)
	NextTick(now time.Time) time.Time
	Done() bool
	LastHeard() time.Time
	Report(now time.Time) Report
}

// Join is one group membership: Source zero means any source (ASM).
type Join struct {
	Group, Source netip.Addr
}

// RunOptions say how Run opens its socket and when it ends.
type RunOptions struct {
	Bind      netip.AddrPort // wildcard address of the family, and the port (0: any)
	IfIndex   int            // interface for joins and multicast sends
	Joins     []Join
	TTL       int
	Broadcast bool          // allow sending to a broadcast address
	BcastAddr netip.Addr    // the broadcast address: datagrams to it count as group traffic
	Wait      time.Duration // once done, keep answering until peers were quiet this long
	Timeout   time.Duration // end the whole run after this long; 0: no limit
	Monitor   *Monitor      // fed the answers and asked for the peers' counts; nil: none
}

// monitorRequests is where Run takes a scrape's requests from: never
// ready without a monitor.
func monitorRequests(m *Monitor) chan chan []PeerHealth {
	if m == nil {
		return nil
	}
	return m.requests
}

// Stop reasons for the end of a run.
func waitOver(m Machine, doneAt, now time.Time, wait time.Duration) bool {
	last := m.LastHeard()
	if doneAt.After(last) {
		last = doneAt
	}
	return now.Sub(last) >= wait
}
