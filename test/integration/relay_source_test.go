package integration_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/stream"
)

// TestRelaySourceRelay: with `source relay` the relays re-emit through
// their own UDP sockets (same-sized datagrams as segmented sends): the
// receivers on vm2 and vm3 get every datagram once, from their relay's
// address, and nothing loops back into any relay.
func TestRelaySourceRelay(t *testing.T) {
	rl := upRelayLab(t, 3)
	// vm3 re-emits from a configured port, the others from an ephemeral one.
	rl.start("vm1", "group 239.1.1.1 239.1.1.2", "source relay")
	rl.start("vm2", "group 239.1.1.1 239.1.1.2", "source relay")
	rl.start("vm3", "group 239.1.1.1 239.1.1.2", "source relay 5400")
	const n, m = 2000, 300
	r2 := rl.StartMcast("vm2", recvArgs(n, "4s", "239.1.1.1")...)
	r3 := rl.StartMcast("vm3", recvArgs(n, "4s", "239.1.1.1")...)
	r3b := rl.StartMcast("vm3", recvArgs(m, "4s", "239.1.1.2")...)
	rl.waitStatus("vm1", "vm2 and vm3 wanting 239.1.1.1, vm3 wanting 239.1.1.2", func(st relay.Status) bool {
		return peerWants(st, "vm2", "239.1.1.1") && peerWants(st, "vm3", "239.1.1.1", "239.1.1.2")
	})
	// A segmented sender (runs of same-sized datagrams) and, interleaved, a
	// paced one to another group.
	s2 := rl.StartMcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(m), "--interval", "5ms", "--size", "100", "239.1.1.2")
	s1 := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--rate", "20000", "--size", "200", "239.1.1.1")
	if s1.Code != 0 {
		t.Fatalf("sender: %s", s1)
	}
	if r := s2.Wait(); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	exactlyOnceJSON(t, "vm2 239.1.1.1", r2.Wait(), n, "10.0.2.10")
	exactlyOnceJSON(t, "vm3 239.1.1.1", r3.Wait(), n, "10.0.3.10")
	exactlyOnceJSON(t, "vm3 239.1.1.2", r3b.Wait(), m, "10.0.3.10")

	var sts []relay.Status
	for _, node := range rl.nodes {
		st, err := rl.status(node)
		if err != nil {
			t.Fatal(err)
		}
		sts = append(sts, st)
	}
	if got := sts[0].Captured["239.1.1.1"]; got != n+stream.EndMarkers {
		t.Errorf("vm1 captured %d datagrams of 239.1.1.1, want %d", got, n+stream.EndMarkers)
	}
	if got := sts[1].Emitted["239.1.1.1"]; got != n+stream.EndMarkers {
		t.Errorf("vm2 emitted %d datagrams of 239.1.1.1, want %d", got, n+stream.EndMarkers)
	}
	if got := sts[2].Emitted["239.1.1.2"]; got != m+stream.EndMarkers {
		t.Errorf("vm3 emitted %d datagrams of 239.1.1.2, want %d", got, m+stream.EndMarkers)
	}
	if sts[1].SegmentedSends == 0 && !strings.Contains(rl.procs["vm2"].Stdout(), "refused a segmented") {
		t.Errorf("vm2 never sent several datagrams in one segmented send")
	}
	t.Logf("segmented sends: vm2 %d, vm3 %d", sts[1].SegmentedSends, sts[2].SegmentedSends)
	// No loop: the re-emissions carry the relay's mark, so no relay
	// captures them, and nothing goes back to vm1.
	for _, st := range sts {
		if st.Node != "vm1" && (st.OwnSeen != 0 || len(nonZero(st.Captured)) != 0) {
			t.Errorf("%s saw %d of its own re-emissions and captured %v, want nothing", st.Node, st.OwnSeen, st.Captured)
		}
		if st.Node == "vm1" && len(nonZero(st.Emitted)) != 0 {
			t.Errorf("vm1 re-emitted %v, want nothing", st.Emitted)
		}
		for reason, v := range st.Drops {
			if v != 0 {
				t.Errorf("%s dropped %d for %s", st.Node, v, reason)
			}
		}
	}
	for _, node := range []string{"vm2", "vm3"} {
		res := rl.stop(node)
		log := res.Stdout + res.Stderr
		if !strings.Contains(log, "re-emitting from the relay's own address") {
			t.Errorf("%s: the relay did not take the source relay path; log:\n%s", node, log)
		}
		for _, line := range strings.Split(log, "\n") {
			if strings.Contains(line, "re-emitting from") {
				t.Logf("%s: %s", node, line)
			}
		}
		if node == "vm3" && !strings.Contains(log, "from=10.0.3.10:5400 ") {
			t.Errorf("vm3: not re-emitting from the configured port 5400; log:\n%s", log)
		}
		if strings.Contains(log, "refused a segmented") {
			t.Logf("%s: the kernel refused UDP_SEGMENT; the relay sent datagram by datagram", node)
		}
	}
}

func nonZero(m map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
