package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
)

// wgMesh is three namespaces, w1, w2 and w3, joined only by WireGuard:
// each has a wireguard-go interface (10.0.40.N/24, fd00:40::N/64) whose
// peers are the other two, and a veth to a hub namespace that routes the
// WireGuard underlay (192.168.N.2 to 192.168.M.2) and nothing else: no
// multicast and no Ethernet segment is shared between the three. A relay
// on each carries multicast over the WireGuard addresses.
type wgMesh struct {
	t   *testing.T
	pre string
	bin string
	dir string
}

const wgMeshNodes = 3

func upWGMesh(t *testing.T) *wgMesh {
	t.Helper()
	labtest.RequireRoot(t)
	needWireGuard(t)
	m := &wgMesh{t: t, pre: fmt.Sprintf("wgm%d", os.Getpid()%100000), bin: labtest.Binary(t), dir: t.TempDir()}
	addNS := func(ns string) {
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		must(t, "ip", "netns", "add", ns)
		must(t, "ip", "-n", ns, "link", "set", "lo", "up")
		// No duplicate address detection: the relay binds the IPv6
		// address at once.
		must(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0")
	}
	hub := m.ns("hub")
	addNS(hub)
	must(t, "ip", "netns", "exec", hub, "sysctl", "-qw", "net.ipv4.ip_forward=1")
	privs, pubs := map[int]string{}, map[int]string{}
	for i := 1; i <= wgMeshNodes; i++ {
		ns := m.node(i)
		addNS(ns)
		port := fmt.Sprintf("u%d", i)
		must(t, "ip", "-n", hub, "link", "add", port, "type", "veth", "peer", "name", "under", "netns", ns)
		must(t, "ip", "-n", hub, "addr", "add", fmt.Sprintf("192.168.%d.1/24", i), "dev", port)
		must(t, "ip", "-n", hub, "link", "set", port, "up")
		must(t, "ip", "-n", ns, "addr", "add", fmt.Sprintf("192.168.%d.2/24", i), "dev", "under")
		must(t, "ip", "-n", ns, "link", "set", "under", "up")
		must(t, "ip", "-n", ns, "route", "add", "192.168.0.0/16", "via", fmt.Sprintf("192.168.%d.1", i))
		privs[i], pubs[i] = wgKey(t, m.dir, ns)
	}
	for i := 1; i <= wgMeshNodes; i++ {
		var peers []wgPeer
		for j := 1; j <= wgMeshNodes; j++ {
			if j != i {
				// Each peer's own addresses only: cryptokey routing
				// gives a group to one peer at most, so none gets it.
				peers = append(peers, wgPeer{pubs[j], fmt.Sprintf("10.0.40.%d/32,fd00:40::%d/128", j, j), fmt.Sprintf("192.168.%d.2:51820", j)})
			}
		}
		ns := m.node(i)
		startWireGuard(t, ns, m.dev(i))
		configureWireGuard(t, ns, m.dev(i), privs[i], peers, fmt.Sprintf("10.0.40.%d/24", i), fmt.Sprintf("fd00:40::%d/64", i))
		// The WireGuard side is the way out (so that the mDNS client
		// announces its WireGuard address); the underlay is routed above.
		must(t, "ip", "-n", ns, "route", "add", "default", "dev", m.dev(i))
		must(t, "ip", "-n", ns, "-6", "route", "add", "default", "dev", m.dev(i))
	}
	return m
}

func (m *wgMesh) ns(name string) string { return m.pre + "-" + name }
func (m *wgMesh) node(i int) string     { return m.ns(fmt.Sprintf("w%d", i)) }
func (m *wgMesh) dev(i int) string      { return fmt.Sprintf("%sw%d", m.pre, i) }
func (m *wgMesh) sock(i int) string     { return filepath.Join(m.dir, fmt.Sprintf("w%d.sock", i)) }

// relays starts a relay on each node: its WireGuard interface, the other
// nodes' WireGuard addresses as peers (each may carry datagrams from its
// own WireGuard addresses, and from link-local ones: mDNS over IPv6 is
// sent from the interface's link-local address where it has one), the
// WireGuard interface's MTU as
// the underlay's (frames cross WireGuard, whose interface has a smaller
// MTU than the default 1500), and the lines extra.
func (m *wgMesh) relays(extra ...string) []*labtest.Proc {
	m.t.Helper()
	var procs []*labtest.Proc
	for i := 1; i <= wgMeshNodes; i++ {
		var b strings.Builder
		fmt.Fprintf(&b, "node w%d\nlisten 10.0.40.%d:7474\ninterface %s\nadmin %s\nmtu 1420\nkeepalive 300ms\npeer-timeout 1500ms\n", i, i, m.dev(i), m.sock(i))
		for j := 1; j <= wgMeshNodes; j++ {
			if j != i {
				fmt.Fprintf(&b, "peer w%d 10.0.40.%d:7474 allow 10.0.40.%d/32,fd00:40::%d/128,fe80::/64\n", j, j, j, j)
			}
		}
		for _, l := range extra {
			b.WriteString(l + "\n")
		}
		path := filepath.Join(m.dir, fmt.Sprintf("w%d.conf", i))
		if err := os.WriteFile(path, []byte(withKeys(m.t, m.dir, b.String())), 0o600); err != nil {
			m.t.Fatal(err)
		}
		procs = append(procs, labtest.StartNS(m.t, m.node(i), m.bin, "relay", "--config", path))
	}
	for i := 1; i <= wgMeshNodes; i++ {
		m.waitStatus(i, "its peers up", func(st relay.Status) bool {
			up := 0
			for _, p := range st.Peers {
				if p.Up {
					up++
				}
			}
			return up == wgMeshNodes-1
		}, procs)
	}
	return procs
}

// waitStatus polls relay i's status until ok accepts it, failing the test
// (with every relay's log) after a deadline.
func (m *wgMesh) waitStatus(i int, what string, ok func(relay.Status) bool, procs []*labtest.Proc) {
	m.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := exec.Command(m.bin, "relay", "status", "--admin", m.sock(i), "--json").Output()
		var st relay.Status
		if err == nil && jsonUnmarshal(string(out), &st) == nil && ok(st) {
			return
		}
		if time.Now().After(deadline) {
			var logs strings.Builder
			for k, p := range procs {
				fmt.Fprintf(&logs, "--- w%d:\n%s\n", k+1, p.Stderr())
			}
			m.t.Fatalf("relay w%d: never %s (%v): %s\n%s", i, what, err, out, logs.String())
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// mdns runs the zeroconf client (testdata/mdns_peer.py) with args on node
// i, over IPv6 (ff02::fb) or IPv4 (224.0.0.251).
func (m *wgMesh) mdns(i int, v6 bool, args ...string) *labtest.Proc {
	m.t.Helper()
	py, err := filepath.Abs(filepath.Join("testdata", "mdns_peer.py"))
	if err != nil {
		m.t.Fatal(err)
	}
	env := "MDNS_IPV6=0"
	if v6 {
		env = "MDNS_IPV6=1"
	}
	return labtest.StartNS(m.t, m.node(i), append([]string{"env", env, "/usr/bin/python3", py}, args...)...)
}

// hostile6 writes malformed IPv6 UDP packets to group on node i's
// WireGuard interface (testdata/hostile6.py), from its own address.
func (m *wgMesh) hostile6(i int, group string) {
	m.t.Helper()
	py, err := filepath.Abs(filepath.Join("testdata", "hostile6.py"))
	if err != nil {
		m.t.Fatal(err)
	}
	r := labtest.StartNS(m.t, m.node(i), "/usr/bin/python3", py, m.dev(i), fmt.Sprintf("fd00:40::%d", i), group, "28000", "500").Wait()
	if r.Code != 0 || !strings.Contains(r.Stdout, "sent 3000") {
		m.t.Fatalf("sending malformed packets on w%d: %s", i, r)
	}
}
