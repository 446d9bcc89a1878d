package cli

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay"
)

// fakeAdmin answers one status request on a unix socket at path, as a
// running relay's admin socket does.
func fakeAdmin(t *testing.T, path string, st relay.Status) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
				json.NewEncoder(c).Encode(st)
			}
			c.Close()
		}
	}()
}

// A running relay is fine while its config file has an error (being
// edited, say): status needs only the admin socket, so it uses the file's
// admin line and says that the rest of the file was not read.
func TestRelayStatusWithBrokenConfig(t *testing.T) {
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "relay.sock")
	fakeAdmin(t, sockPath, relay.Status{Node: "alpha", Interface: "eth0", InterfaceUp: true})
	cfg := filepath.Join(dir, "relay.conf")
	text := "node alpha\nadmin " + sockPath + "   # the admin socket\nbogus directive\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errb := run(t, nil, "mcast", "relay", "status", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "relay alpha on eth0") {
		t.Fatalf("status with a broken config: exit %d, stdout %q, stderr %q", code, out, errb)
	}
	if !strings.Contains(errb, cfg+":3") || !strings.Contains(errb, "using its admin socket "+sockPath) {
		t.Errorf("stderr does not say the config has an error and which socket was used: %q", errb)
	}

	// Without a readable admin line it cannot know the socket: it says
	// both what is wrong with the file and which socket it tried.
	if err := os.WriteFile(cfg, []byte("node alpha\nbogus directive\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errb = run(t, nil, "mcast", "relay", "status", "--config", cfg)
	if code != 1 || !strings.Contains(errb, cfg+":2") || strings.Count(strings.TrimSpace(errb), "\n") > 0 {
		t.Errorf("status with a broken config and no admin line: exit %d, stderr %q", code, errb)
	}
}

// TestRelayStatusAdminRefused: the text status names admin connections the
// relay refused, and says nothing of them when there were none.
func TestRelayStatusAdminRefused(t *testing.T) {
	st := relay.Status{Node: "vm1", InterfaceUp: true, AdminRefused: map[string]uint64{relay.AdminTooLong: 2, relay.AdminBusy: 0, relay.AdminCredentials: 1}}
	var b strings.Builder
	writeRelayStatus(&b, st)
	if !strings.HasSuffix(b.String(), "\nadmin socket refused: credentials=1 too-long=2\n") {
		t.Errorf("status with refusals:\n%s", b.String())
	}
	b.Reset()
	st.AdminRefused = map[string]uint64{relay.AdminTooLong: 0}
	writeRelayStatus(&b, st)
	if strings.Contains(b.String(), "admin") {
		t.Errorf("status without refusals mentions them:\n%s", b.String())
	}
}

// TestRelayStatusFanout: the text status names the groups sent through
// reflectors, their reflectors, and what the relay passed on.
func TestRelayStatusFanout(t *testing.T) {
	st := relay.Status{Node: "vm1", InterfaceUp: true, Fanout: 2, ReflectorFrames: 7,
		FanoutGroups: []relay.FanoutGroup{{Group: "239.1.1.1", Wanting: 7, Frames: 2, Reflectors: []string{"vm2", "vm7"}}},
		Peers:        []relay.PeerStatus{{Name: "vm2", ReflectedTo: 3, ReflectedFor: 4, ReflectedVia: 5}}}
	var b strings.Builder
	writeRelayStatus(&b, st)
	for _, want := range []string{
		"fan-out 2: 239.1.1.1 wanted by 7, 2 frames via vm2 vm7; passed on as a reflector: 7 frames\n",
		"    fan-out: passed on to it 3 frames, passed on for it 4 frames, its records through reflectors 5\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	b.Reset()
	writeRelayStatus(&b, relay.Status{Node: "vm1", InterfaceUp: true, Fanout: 16})
	if !strings.Contains(b.String(), "fan-out 16: every group sent directly; passed on as a reflector: 0 frames\n") {
		t.Errorf("status without fan-out:\n%s", b.String())
	}
}

// TestRelayStatusFleet: the text status lists the fleet's members with
// their states, its counters and events, and marks joined peers; a relay
// without gossip prints no fleet block.
func TestRelayStatusFleet(t *testing.T) {
	st := relay.Status{Node: "vm1", InterfaceUp: true, Peers: []relay.PeerStatus{{Name: "vm2", Address: "10.0.2.10", Port: 7474, Member: true}}}
	var b strings.Builder
	writeRelayStatus(&b, st)
	if strings.Contains(b.String(), "fleet") || !strings.Contains(b.String(), "vm2 10.0.2.10:7474 (member):") {
		t.Errorf("status:\n%s", b.String())
	}
	st.Fleet = relay.FleetStatus{Enabled: true, Gossip: "10.0.1.10:7475", Joined: true, ByState: map[string]int{"alive": 1, "dead": 1},
		Members: []relay.MemberStatus{{Name: "vm2", Address: "10.0.2.10:7474", Gossip: "10.0.2.10:7475", State: "alive", SinceSeconds: 3},
			{Name: "vm3", Address: "10.0.3.10:7474", Gossip: "10.0.3.10:7475", State: "dead", SinceSeconds: 1}},
		Events:   []relay.FleetEvent{{Time: "2026-12-06T18:00:00.000Z", Member: "vm3", Event: "failed", Detail: "10.0.3.10:7475"}},
		Counters: relay.FleetCounters{DecryptFailures: 4}, Timing: relay.FleetTimingStatus{DetectionBoundSeconds: 26.5}}
	b.Reset()
	writeRelayStatus(&b, st)
	for _, want := range []string{
		"fleet: gossip 10.0.1.10:7475, joined; members alive 1, suspect 0, dead 1, left 0; detection bound 26.5s\n",
		"gossip decrypt failures 4",
		"  vm3 10.0.3.10:7474 (gossip 10.0.3.10:7475): dead for 1.0s\n",
		"    2026-12-06T18:00:00.000Z vm3 failed 10.0.3.10:7475\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
}
