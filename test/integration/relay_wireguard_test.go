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
	for _, bin := range []string{"wireguard-go", "wg"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (scripts/install-deps.sh)", bin)
		}
	}
	r1 := v.ns("r1")
	c, wgR, wgC = v.ns("c"), v.pre+"r", v.pre+"c"
	dev := map[string]string{r1: wgR}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	dev[c] = wgC
	t.Cleanup(func() { exec.Command("ip", "netns", "del", c).Run() })
	run("ip", "netns", "add", c)
	run("ip", "-n", c, "link", "set", "lo", "up")
	run("ip", "-n", r1, "link", "add", "under", "type", "veth", "peer", "name", "under", "netns", c)
	for i, ns := range []string{r1, c} {
		run("ip", "-n", ns, "addr", "add", "192.168.77."+strconv.Itoa(i+1)+"/24", "dev", "under")
		run("ip", "-n", ns, "link", "set", "under", "up")
	}
	keys := map[string][2]string{}
	for _, ns := range []string{r1, c} {
		priv := run("wg", "genkey")
		cmd := exec.Command("wg", "pubkey")
		cmd.Stdin = strings.NewReader(priv)
		pub, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(v.dir, ns+".wgkey")
		os.WriteFile(f, []byte(priv+"\n"), 0o600)
		keys[ns] = [2]string{f, strings.TrimSpace(string(pub))}
	}
	for i, ns := range []string{r1, c} {
		other, allowed := c, "10.0.30.2/32,224.0.0.0/4"
		if i == 1 {
			other, allowed = r1, "10.0.30.1/32,10.0.10.0/24,224.0.0.0/4"
		}
		wg := exec.Command("ip", "netns", "exec", ns, "wireguard-go", "-f", dev[ns])
		wg.Env = append(os.Environ(), "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1")
		if err := wg.Start(); err != nil {
			t.Fatalf("wireguard-go in %s: %v", ns, err)
		}
		t.Cleanup(func() { wg.Process.Kill(); wg.Wait() })
		deadline := time.Now().Add(5 * time.Second)
		for exec.Command("ip", "-n", ns, "link", "show", dev[ns]).Run() != nil {
			if time.Now().After(deadline) {
				t.Fatalf("wireguard-go made no %s in %s", dev[ns], ns)
			}
			time.Sleep(50 * time.Millisecond)
		}
		run("ip", "netns", "exec", ns, "wg", "set", dev[ns], "private-key", keys[ns][0], "listen-port", "51820",
			"peer", keys[other][1], "allowed-ips", allowed, "endpoint", "192.168.77."+strconv.Itoa(2-i)+":51820")
		run("ip", "-n", ns, "addr", "add", "10.0.30."+strconv.Itoa(i+1)+"/24", "dev", dev[ns])
		run("ip", "-n", ns, "link", "set", dev[ns], "multicast", "on", "up")
	}
	run("ip", "-n", c, "route", "add", "10.0.10.0/24", "dev", wgC)
	run("ip", "-n", c, "route", "add", "224.0.0.0/4", "dev", wgC)
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
