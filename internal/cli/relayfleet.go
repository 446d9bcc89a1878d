package cli

import (
	"fmt"
	"io"

	"github.com/mcasttools/mcast/internal/relay"
)

// writeFleetStatus prints the fleet part of relay status: the members as
// this relay sees them, the counters and the last convergence events.
func writeFleetStatus(w io.Writer, f relay.FleetStatus) {
	if !f.Enabled {
		return
	}
	joined := "joined"
	if !f.Joined {
		joined = "not joined yet"
	}
	if f.NameTaken {
		joined = "refused: another relay has this name, gossip stopped"
	}
	fmt.Fprintf(w, "fleet: gossip %s, %s; members alive %d, suspect %d, dead %d, left %d; detection bound %.1fs\n",
		f.Gossip, joined, f.ByState["alive"], f.ByState["suspect"], f.ByState["dead"], f.ByState["left"], f.Timing.DetectionBoundSeconds)
	c := f.Counters
	fmt.Fprintf(w, "  join failures %d, members refused %d, gossip decrypt failures %d, name conflicts %d\n",
		c.JoinFailures, c.Refused, c.DecryptFailures, c.NameConflicts)
	for _, m := range f.Members {
		fmt.Fprintf(w, "  %s %s (gossip %s): %s for %.1fs\n", m.Name, m.Address, m.Gossip, m.State, m.SinceSeconds)
	}
	if len(f.Events) > 0 {
		fmt.Fprintln(w, "  events:")
	}
	for _, e := range f.Events {
		fmt.Fprintf(w, "    %s %s %s %s\n", e.Time, e.Member, e.Event, e.Detail)
	}
}
