package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// wgLink joins router r1 of v and a new host c by WireGuard: wireguard-go
// (userspace, on TUN: an interface without an Ethernet header), 10.0.30.1
// and 10.0.30.2, over a veth underlay. Each side's peer may carry
// multicast, and c accepts VLAN A's sources from r1. It returns c's
// namespace and the two interfaces' names (unique on the host: wireguard-go's
// control sockets are named after them, outside the namespaces).
func wgLink(t *testing.T, v *vlanLab) (c, wgR, wgC string) {
	t.Helper()
	needWireGuard(t)
	r1 := v.ns("r1")
	c, wgR, wgC = v.ns("c"), v.pre+"r", v.pre+"c"
	t.Cleanup(func() { exec.Command("ip", "netns", "del", c).Run() })
	must(t, "ip", "netns", "add", c)
	must(t, "ip", "-n", c, "link", "set", "lo", "up")
	must(t, "ip", "-n", r1, "link", "add", "under", "type", "veth", "peer", "name", "under", "netns", c)
	for i, ns := range []string{r1, c} {
		must(t, "ip", "-n", ns, "addr", "add", "192.168.77."+strconv.Itoa(i+1)+"/24", "dev", "under")
		must(t, "ip", "-n", ns, "link", "set", "under", "up")
	}
	privR, pubR := wgKey(t, v.dir, r1)
	privC, pubC := wgKey(t, v.dir, c)
	startWireGuard(t, r1, wgR)
	configureWireGuard(t, r1, wgR, privR, []wgPeer{{pubC, "10.0.30.2/32,224.0.0.0/4", "192.168.77.2:51820"}}, "10.0.30.1/24")
	startWireGuard(t, c, wgC)
	configureWireGuard(t, c, wgC, privC, []wgPeer{{pubR, "10.0.30.1/32,10.0.10.0/24,224.0.0.0/4", "192.168.77.1:51820"}}, "10.0.30.2/24")
	must(t, "ip", "-n", c, "route", "add", "10.0.10.0/24", "dev", wgC)
	must(t, "ip", "-n", c, "route", "add", "224.0.0.0/4", "dev", wgC)
	return c, wgR, wgC
}

// TestRelayReflectorWireGuard: one relay serving VLAN A (Ethernet) and a
// WireGuard interface (no Ethernet header): a group sent on A reaches a
// receiver behind WireGuard, and one sent there, by a sender that uses
// UDP_SEGMENT on the WireGuard interface itself, reaches a receiver on A, every datagram once.
func TestRelayReflectorWireGuard(t *testing.T) {
	v := upVLANs(t, 1)
	c, wgR, wgC := wgLink(t, v)
	path := filepath.Join(v.dir, "r1.conf")
	conf := "node r1\nlisten 10.0.10.1:7474\ninterface ethA\ninterface " + wgR + "\nadmin " + v.sock(1) + "\ngroup 239.1.1.1 239.1.1.2\n"
	os.WriteFile(path, []byte(withKeys(t, v.dir, conf)), 0o600)
	p := labtest.StartNS(t, v.ns("r1"), v.bin, "relay", "--config", path)
	deadline := time.Now().Add(15 * time.Second)
	for exec.Command(v.bin, "relay", "status", "--admin", v.sock(1), "--json").Run() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("relay never answered: %s", p.Stderr())
		}
		time.Sleep(150 * time.Millisecond)
	}
	const n = 500
	recvArgsOn := func(iface, group string) []string {
		return []string{v.bin, "recv", "--iface", iface, "--json", "--expect", strconv.Itoa(n), "--timeout", "4s", group}
	}
	// A to WireGuard.
	rc := labtest.StartNS(t, c, recvArgsOn(wgC, "239.1.1.1")...)
	time.Sleep(500 * time.Millisecond)
	s := labtest.StartNS(t, v.ns("a"), v.bin, "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--rate", "2000", "--size", "200", "239.1.1.1").Wait()
	if s.Code != 0 {
		t.Fatalf("sender on A: %s", s)
	}
	exactlyOnceJSON(t, "c behind WireGuard", rc.Wait(), n, "10.0.10.100")
	// WireGuard to A, segmented on the WireGuard interface.
	ra := labtest.StartNS(t, v.ns("a"), recvArgsOn("eth0", "239.1.1.2")...)
	time.Sleep(500 * time.Millisecond)
	s = labtest.StartNS(t, c, v.bin, "send", "--iface", wgC, "--count", strconv.Itoa(n), "--rate", "20000", "--size", "200", "239.1.1.2").Wait()
	if s.Code != 0 {
		t.Fatalf("sender on WireGuard: %s", s)
	}
	if !strings.Contains(s.Stdout+s.Stderr, "UDP_SEGMENT") {
		t.Errorf("the sender on WireGuard did not use UDP_SEGMENT, so this test shows less than it says: %s", s)
	}
	exactlyOnceJSON(t, "a on VLAN A", ra.Wait(), n, "10.0.30.2")
}
