package integration_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/stream"
)

// TestRelayWireGuardMesh: three namespaces joined only by WireGuard, a
// relay on each with the others' WireGuard addresses as peers. A stream
// sent on one node's WireGuard interface arrives at a receiver on each of
// the other two whole and once, from its sender's address and port, with
// the TTL (hop limit) it was sent with: to an IPv4 and to an IPv6 group,
// batched (sendmmsg) and segmented (UDP_SEGMENT, whose sends the relay
// sees before the kernel cuts them), the last without a loopback copy, so
// that only the relay's packet capture can have seen it. Malformed IPv6
// packets to the group (lying lengths, endless extension headers,
// fragments) sent before a stream are carried nowhere: the receivers count
// nothing malformed or foreign.
func TestRelayWireGuardMesh(t *testing.T) {
	m := upWGMesh(t)
	procs := m.relays("group 239.1.1.1 ff05::1:1")
	const n = 300
	for _, tc := range []struct {
		name  string
		from  int
		group string
		flags []string
		// hostile: malformed packets to the group come first, on the
		// sender's WireGuard interface, and none may be carried.
		hostile bool
	}{
		{"IPv4 sendmmsg", 1, "239.1.1.1", []string{"--rate", "2000", "--no-gso"}, false},
		{"IPv6 sendmmsg", 2, "ff05::1:1", []string{"--rate", "2000", "--no-gso"}, false},
		{"IPv4 UDP_SEGMENT", 3, "239.1.1.1", []string{"--rate", "20000"}, false},
		{"IPv6 UDP_SEGMENT without loopback", 1, "ff05::1:1", []string{"--rate", "20000", "--no-loop"}, false},
		{"IPv6 after malformed packets", 2, "ff05::1:1", []string{"--rate", "2000"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recvs := map[int]*labtest.Proc{}
			for i := 1; i <= wgMeshNodes; i++ {
				if i != tc.from {
					recvs[i] = labtest.StartNS(t, m.node(i), m.bin, "recv", "--iface", m.dev(i), "--json",
						"--expect", strconv.Itoa(n), "--timeout", "4s", tc.group)
				}
			}
			// The sender's relay has heard both receivers' interest.
			m.waitStatus(tc.from, "both peers wanting "+tc.group, func(st relay.Status) bool {
				for i := range recvs {
					if !peerWants(st, fmt.Sprintf("w%d", i), tc.group) {
						return false
					}
				}
				return true
			}, procs)
			if tc.hostile {
				m.hostile6(tc.from, tc.group)
			}
			args := append([]string{m.bin, "send", "--iface", m.dev(tc.from), "--count", strconv.Itoa(n), "--size", "200", "--ttl", "7"}, tc.flags...)
			s := labtest.StartNS(t, m.node(tc.from), append(args, tc.group)...).Wait()
			if s.Code != 0 {
				t.Fatalf("sender on w%d: %s", tc.from, s)
			}
			segmented := strings.Contains(s.Stdout+s.Stderr, "UDP_SEGMENT")
			if want := !strings.Contains(strings.Join(tc.flags, " "), "--no-gso"); segmented != want {
				t.Errorf("the sender used UDP_SEGMENT: %v, want %v: %s", segmented, want, s)
			}
			src := fmt.Sprintf("10.0.40.%d", tc.from)
			if strings.Contains(tc.group, ":") {
				src = fmt.Sprintf("fd00:40::%d", tc.from)
			}
			from := sendingFrom.FindStringSubmatch(s.Stdout)
			if from == nil {
				t.Fatalf("the sender did not say where it sends from: %s", s)
			}
			for i, r := range recvs {
				res := r.Wait()
				exactlyOnceJSON(t, fmt.Sprintf("w%d", i), res, n, src)
				keptHeader(t, fmt.Sprintf("w%d", i), res, from[1], 7)
			}
			if t.Failed() {
				for i := 1; i <= wgMeshNodes; i++ {
					out, _ := exec.Command(m.bin, "relay", "status", "--admin", m.sock(i)).CombinedOutput()
					t.Logf("relay w%d:\n%s", i, out)
				}
			}
		})
	}
}

// sendingFrom matches mcast send's line naming its source address and port.
var sendingFrom = regexp.MustCompile(`(?m)^sending to \S+ from (\S+) \(ttl`)

// keptHeader checks that every flow of a receiver's JSON summary came from
// the sender's address and port with the TTL (hop limit) it was sent with.
func keptHeader(t *testing.T, who string, res labtest.Result, from string, ttl int) {
	t.Helper()
	ap, err := netip.ParseAddrPort(from)
	if err != nil {
		t.Fatalf("the sender's address %q: %v", from, err)
	}
	for _, line := range strings.Split(res.Stdout, "\n") {
		var r stream.Report
		if json.Unmarshal([]byte(line), &r) != nil || r.Type != "recv.summary" {
			continue
		}
		for _, f := range r.Flows {
			if f.SourcePort != ap.Port() || f.TTL != ttl {
				t.Errorf("%s: a flow from port %d with TTL %d, want the sender's port %d and TTL %d", who, f.SourcePort, f.TTL, ap.Port(), ttl)
			}
		}
	}
}

// TestRelayWireGuardMeshMDNS: over the same three WireGuard peers with
// `service mdns`, a service python3-zeroconf registers on one is found by
// a zeroconf browser on each of the other two: over IPv4 (224.0.0.251)
// from w1, and over IPv6 (ff02::fb) from w2.
func TestRelayWireGuardMeshMDNS(t *testing.T) {
	needZeroconf(t)
	m := upWGMesh(t)
	procs := m.relays("service mdns")
	for _, tc := range []struct {
		v6    bool
		from  int
		name  string
		group string
	}{{false, 1, "overwg", "224.0.0.251"}, {true, 2, "overwg6", "ff02::fb"}} {
		reg := m.mdns(tc.from, tc.v6, "register", "_mcastwg._tcp", tc.name, "631", "30")
		reg.WaitFor("registered "+tc.name, 15*time.Second)
		var browsers []*labtest.Proc
		for i := 1; i <= wgMeshNodes; i++ {
			if i != tc.from {
				browsers = append(browsers, m.mdns(i, tc.v6, "browse", "_mcastwg._tcp", "10"))
			}
		}
		for _, b := range browsers {
			b.WaitFor("found "+tc.name, 12*time.Second)
		}
		// Nothing but the relays could have carried it: each one took
		// mDNS from its WireGuard interface and re-emitted the others',
		// refusing none for its source address.
		for i := 1; i <= wgMeshNodes; i++ {
			m.waitStatus(i, "capturing and emitting mDNS to "+tc.group+", refusing no source", func(st relay.Status) bool {
				return st.Captured[tc.group] > 0 && st.Emitted[tc.group] > 0 && st.Drops[relay.DropSpoofedSource] == 0
			}, procs)
		}
		reg.Stop()
	}
}

// needZeroconf skips the test where python3-zeroconf is missing (for
// /usr/bin/python3), and fails it in CI.
func needZeroconf(t *testing.T) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import zeroconf").Run(); err != nil {
		needTool(t, "python3-zeroconf (import zeroconf)", "python3-zeroconf")
	}
}
