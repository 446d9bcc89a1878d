package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/lab"
	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
	"github.com/mcasttools/mcast/internal/relay/config"
)

// fleetFanout are the lines every fleet relay gets for the fan-out to
// peers: with 31 peers wanting a group, `fanout 4` sends each datagram
// to 4 reflectors, which pass it on.
var fleetFanout = []string{"fanout 4"}

// fleetTiming is the failure detection the fleet labs use: probe every
// 500ms, a 250ms probe timeout, suspicion multiplier 3.
var fleetTiming = config.Profile{ProbeInterval: 500 * time.Millisecond, ProbeTimeout: 250 * time.Millisecond, SuspicionMult: 3}

// fleetLab is a cloud lab whose relays know no peer: each joins the fleet
// through the seeds vm1 and vm2. The relays run in the VMs' namespaces
// (ip netns exec: the process is the relay, so it can be killed by PID).
type fleetLab struct {
	*relayLab
	gossipKey string
}

func upFleetLab(t *testing.T, n int) *fleetLab {
	t.Helper()
	fl := &fleetLab{relayLab: upRelayLab(t, n)}
	fl.gossipKey = fl.writeGossipKey("gossip.key")
	return fl
}

// writeGossipKey writes a new gossip key (32 random bytes, base64) and
// returns its path.
func (fl *fleetLab) writeGossipKey(name string) string {
	k := make([]byte, 32)
	rand.Read(k)
	path := filepath.Join(fl.dir, name)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		fl.t.Fatal(err)
	}
	return path
}

// fleetConf writes vm's configuration: its identity, the gossip key, the
// seeds, no peer lines, then extra.
func (fl *fleetLab) fleetConf(vm, gossipKey string, extra ...string) string {
	return fl.writeFleetConf(fleetNode{vm: vm, name: vm, key: vm, gossipKey: gossipKey, join: "10.0.1.10 10.0.2.10"}, extra...)
}

// fleetNode is one relay of a fleet lab: the VM it runs on, its node
// name, whose private key it has, its gossip key and seeds ("": none).
type fleetNode struct{ vm, name, key, gossipKey, join string }

func (fl *fleetLab) writeFleetConf(n fleetNode, extra ...string) string {
	i, _ := strconv.Atoi(strings.TrimPrefix(n.vm, "vm"))
	var b strings.Builder
	fmt.Fprintf(&b, "node %s\nlisten 10.0.%d.10:7474\ninterface eth0\nadmin %s\nprivate-key %s\nkeepalive 300ms\npeer-timeout 1500ms\n", n.name, i,
		filepath.Join(fl.dir, n.vm+".sock"), writeNodeKey(fl.t, fl.dir, n.key))
	if n.gossipKey != "" {
		fmt.Fprintf(&b, "gossip-key %s\nprobe-interval %s\nprobe-timeout %s\nsuspicion-mult %d\n",
			n.gossipKey, fleetTiming.ProbeInterval, fleetTiming.ProbeTimeout, fleetTiming.SuspicionMult)
		if !slices.ContainsFunc(extra, func(e string) bool { return strings.HasPrefix(e, "fanout ") }) {
			for _, e := range fleetFanout {
				b.WriteString(e + "\n")
			}
		}
	}
	if n.join != "" {
		fmt.Fprintf(&b, "join %s\n", n.join)
	}
	for _, e := range extra {
		b.WriteString(e + "\n")
	}
	path := filepath.Join(fl.dir, n.vm+".conf")
	if err := os.WriteFile(path, []byte(withPeerKeys(b.String())), 0o600); err != nil {
		fl.t.Fatal(err)
	}
	return path
}

// withPeerKeys adds each peer line's public key (the test keys of
// relay_keys_test.go).
func withPeerKeys(conf string) string {
	return confPeer.ReplaceAllStringFunc(conf, func(l string) string {
		return l + " " + nodeKey(confPeer.FindStringSubmatch(l)[1]).Public().String()
	})
}

// run starts node's relay with the configuration at conf.
func (fl *fleetLab) run(node, conf string) *labtest.Proc {
	p := labtest.StartNS(fl.t, lab.Namespace(fl.Name, node), fl.Bin, "relay", "--config", conf)
	fl.procs[node] = p
	return p
}

// fleetStatus asks node's relay for its status through its admin socket.
func (fl *fleetLab) fleetStatus(node string) (relay.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return relay.QueryStatus(ctx, filepath.Join(fl.dir, node+".sock"))
}

// awaitAll polls the relays of nodes (at most four at once) until ok
// accepts each one's status, and returns when each was first accepted. It
// fails the test after timeout.
func (fl *fleetLab) awaitAll(nodes []string, what string, timeout time.Duration, ok func(relay.Status) bool) map[string]time.Time {
	fl.t.Helper()
	deadline := time.Now().Add(timeout)
	done := map[string]time.Time{}
	last := map[string]relay.Status{}
	var mu sync.Mutex
	var ended []error
	for time.Now().Before(deadline) && len(done) < len(nodes) && len(ended) == 0 {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for _, n := range nodes {
			mu.Lock()
			_, got := done[n]
			mu.Unlock()
			if got {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				select {
				case <-fl.procs[n].Done():
					err := fmt.Errorf("%s's relay ended: %s", n, fl.procs[n].Stderr())
					mu.Lock()
					ended = append(ended, err)
					mu.Unlock()
					return
				default:
				}
				st, err := fl.fleetStatus(n)
				at := time.Now()
				mu.Lock()
				defer mu.Unlock()
				if err == nil {
					last[n] = st
					if ok(st) {
						done[n] = at
					}
				}
			}()
		}
		wg.Wait()
		if len(done) < len(nodes) {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(ended) > 0 {
		fl.t.Fatalf("waiting for %s: %v", what, ended[0])
	}
	if len(done) < len(nodes) {
		for _, n := range nodes {
			if _, got := done[n]; !got {
				b, _ := json.Marshal(last[n].Fleet)
				fl.t.Fatalf("%s: never saw %s within %s; its fleet status:\n%s\nits log:\n%s", n, what, timeout, b, fl.procs[n].Stderr())
			}
		}
	}
	return done
}

// aliveMembers counts the members st sees alive.
func aliveMembers(st relay.Status) int { return st.Fleet.ByState["alive"] }

// memberState is the state st gives member name ("" if unknown).
func memberState(st relay.Status, name string) string {
	for _, m := range st.Fleet.Members {
		if m.Name == name {
			return m.State
		}
	}
	return ""
}

// failedAt is when st recorded member name as failed, after since.
func failedAt(st relay.Status, name string, since time.Time) (time.Time, bool) {
	for _, e := range st.Fleet.Events {
		if e.Member != name || e.Event != "failed" {
			continue
		}
		at, err := time.Parse("2006-01-02T15:04:05.000Z07:00", e.Time)
		if err == nil && !at.Before(since.Truncate(time.Millisecond)) {
			return at, true
		}
	}
	return time.Time{}, false
}

func vmNames(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, "vm"+strconv.Itoa(i))
	}
	return out
}

// without returns nodes less drop.
func without(nodes []string, drop ...string) []string {
	var out []string
	for _, n := range nodes {
		keep := true
		for _, d := range drop {
			keep = keep && n != d
		}
		if keep {
			out = append(out, n)
		}
	}
	return out
}

// peersUpWanting reports whether st has every one of nodes as an up peer
// wanting group.
func peersUpWanting(st relay.Status, group string, nodes []string) bool {
	for _, n := range nodes {
		if !peerWants(st, n, group) {
			return false
		}
	}
	return true
}

// startReceivers starts recv for n datagrams of group on each of nodes.
func (fl *fleetLab) startReceivers(nodes []string, group string, n int, idle string) map[string]*labtest.Proc {
	out := map[string]*labtest.Proc{}
	for _, node := range nodes {
		out[node] = fl.StartMcast(node, recvArgs(n, idle, group)...)
	}
	return out
}

// kill sends SIGKILL to node's relay, by its PID.
func (fl *fleetLab) kill(node string) {
	if err := fl.procs[node].Signal(syscall.SIGKILL); err != nil {
		fl.t.Fatalf("killing %s's relay: %v", node, err)
	}
	fl.procs[node].Wait()
}

// stopAll stops every relay and process of the lab at once (each one's
// cleanup would stop them one after another); a relay that does not end
// cleanly on SIGTERM fails the test.
func (fl *fleetLab) stopAll(more ...map[string]*labtest.Proc) {
	var wg sync.WaitGroup
	stop := func(name string, p *labtest.Proc, relay bool) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case <-p.Done():
				return // ended before (killed, or refused to start)
			default:
			}
			if r := p.Stop(); relay && r.Code != 0 {
				fl.t.Errorf("%s's relay did not stop cleanly: exit %d", name, r.Code)
			}
		}()
	}
	for n, p := range fl.procs {
		stop(n, p, true)
	}
	for _, m := range more {
		for n, p := range m {
			stop(n, p, false)
		}
	}
	wg.Wait()
}
