package integration_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
)

// foreignFlow is a flow of datagrams without the mcast header in a text
// receiver's summary.
var foreignFlow = regexp.MustCompile(`(?m)^  \S+ from \S+ on \S+: (\d+) foreign datagrams`)

// foreignReceived adds up the header-less datagrams a text receiver
// counted in its summary, and checks that it printed a line for each.
func foreignReceived(t *testing.T, res labtest.Result) int {
	t.Helper()
	n := 0
	for _, m := range foreignFlow.FindAllStringSubmatch(res.Stdout, -1) {
		k, _ := strconv.Atoi(m[1])
		n += k
	}
	if lines := len(regexp.MustCompile(`(?m)^received: `).FindAllString(res.Stdout, -1)); lines != n {
		t.Errorf("the receiver printed %d datagrams but its summary counts %d", lines, n)
	}
	return n
}

// TestRelayIPv6IdenticalDatagrams: a host sends the same IPv6 payload five
// times, 50 ms apart (as mDNS probes and repeated SSDP NOTIFYs do); IPv6
// has no identification to tell the transmissions apart, and each one must
// still cross the relays, once. An mcast sender's three identical end
// markers must cross too.
func TestRelayIPv6IdenticalDatagrams(t *testing.T) {
	rl := upRelayLab(t, 2)
	for _, n := range rl.nodes {
		rl.start(n, "group ff15::1")
	}
	const n = 5
	rcv := rl.StartMcast("vm2", "recv", "--iface", "eth0", "--port", "6000", "--timeout", "1500ms", "ff15::1")
	rcv.WaitFor("use interface: eth0", 10*time.Second)
	rl.waitStatus("vm1", "vm2 wanting ff15::1", func(st relay.Status) bool { return peerWants(st, "vm2", "ff15::1") })
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--port", "6000", "--raw", "--message", "the same datagram",
		"--count", strconv.Itoa(n), "--interval", "50ms", "ff15::1"); r.Code != 0 {
		t.Fatalf("IPv6 sender: %s", r)
	}
	res := rcv.Wait()
	if got := foreignReceived(t, res); got != n {
		t.Errorf("vm2 received %d of %d identical IPv6 datagrams:\n%s\nrelay logs:\n%s", got, n, res, rl.logs())
	}

	// An mcast stream: its end markers are three identical datagrams.
	end := rl.StartMcast("vm2", "recv", "--iface", "eth0", "--port", "6001", "--timeout", "1500ms", "ff15::1")
	end.WaitFor("use interface: eth0", 10*time.Second)
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--port", "6001", "--count", "3", "--interval", "5ms", "ff15::1"); r.Code != 0 {
		t.Fatalf("IPv6 stream sender: %s", r)
	}
	if res := end.Wait(); !regexp.MustCompile(`sender sent 3, 0 duplicates`).MatchString(res.Stdout) {
		t.Errorf("vm2's stream receiver did not get the stream's end marker once:\n%s", res)
	}
	st1, err := rl.status("vm1")
	if err != nil {
		t.Fatal(err)
	}
	st2, err := rl.status("vm2")
	if err != nil {
		t.Fatal(err)
	}
	// Five raw datagrams, three stream datagrams and their three end markers.
	const all = n + 3 + 3
	if got := st1.Captured["ff15::1"]; got != all {
		t.Errorf("vm1 captured %d datagrams of ff15::1, want %d (own_emissions_seen %d)", got, all, st1.OwnSeen)
	}
	if got := st2.Emitted["ff15::1"]; got != all {
		t.Errorf("vm2 re-emitted %d datagrams of ff15::1, want %d (drops %v)", got, all, st2.Drops)
	}
	for _, st := range []relay.Status{st1, st2} {
		if st.OwnSeen != 0 {
			t.Errorf("%s counted %d own re-emissions seen, want none", st.Node, st.OwnSeen)
		}
		for reason, v := range st.Drops {
			if v != 0 {
				t.Errorf("%s dropped %d for %s", st.Node, v, reason)
			}
		}
	}
}

// TestRelayReflectorIPv6RepeatedProbes: a host on VLAN A sends three
// identical mDNS probes to ff02::fb (RFC 6762 8.1 sends them 250 ms apart;
// here 100 ms); the relay reflecting between the VLANs carries all three
// to VLAN B.
func TestRelayReflectorIPv6RepeatedProbes(t *testing.T) {
	v := upVLANs(t, 1)
	v.relay(1, 1, "service mdns")
	recv := labtest.StartNS(t, v.ns("b"), v.bin, "recv", "--iface", "eth0", "--port", "5353", "--timeout", "1500ms", "ff02::fb")
	recv.WaitFor("use interface: eth0", 10*time.Second)
	send := labtest.StartNS(t, v.ns("a"), v.bin, "send", "--iface", "eth0", "--port", "5353", "--ttl", "255", "--raw",
		"--message", "a probe", "--count", "3", "--interval", "100ms", "ff02::fb")
	if res := send.Wait(); res.Code != 0 {
		t.Fatalf("send: %s", res)
	}
	res := recv.Wait()
	if got := foreignReceived(t, res); got != 3 {
		t.Errorf("VLAN B received %d of 3 identical probes:\n%s", got, res)
	}
	st := v.waitStatus(1, "its status", func(relay.Status) bool { return true })
	if st.Reflected != 3 {
		t.Errorf("the relay reflected %d probes, want 3 (own_emissions_seen %d)", st.Reflected, st.OwnSeen)
	}
}

// TestRelayReflectorIPv6CopiesKnownByTag: two reflecting relays on the
// same two VLANs (LAN peers, one elected forwarder). The other relay
// captures the forwarder's re-emissions on VLAN B and must know them, from
// the flow label on the wire, for relay copies (own_emissions_seen), while
// it takes the host's identical probes on VLAN A for transmissions (left to
// the forwarder: not-forwarder). B gets each probe once.
func TestRelayReflectorIPv6CopiesKnownByTag(t *testing.T) {
	v := upVLANs(t, 2)
	v.relay(1, 2, "service mdns")
	v.relay(2, 2, "service mdns")
	for i := 1; i <= 2; i++ {
		v.waitStatus(i, "its peer up", func(st relay.Status) bool { return len(st.Peers) == 1 && st.Peers[0].Up })
	}
	recv := labtest.StartNS(t, v.ns("b"), v.bin, "recv", "--iface", "eth0", "--port", "5353", "--timeout", "1500ms", "ff02::fb")
	recv.WaitFor("use interface: eth0", 10*time.Second)
	const n = 4
	send := labtest.StartNS(t, v.ns("a"), v.bin, "send", "--iface", "eth0", "--port", "5353", "--ttl", "255", "--raw",
		"--message", "a probe", "--count", strconv.Itoa(n), "--interval", "100ms", "ff02::fb")
	if res := send.Wait(); res.Code != 0 {
		t.Fatalf("send: %s", res)
	}
	res := recv.Wait()
	if got := foreignReceived(t, res); got != n {
		t.Errorf("VLAN B received %d of %d identical probes:\n%s", got, n, res)
	}
	var st [2]relay.Status
	for i := range st {
		st[i] = v.waitStatus(i+1, "its status", func(relay.Status) bool { return true })
	}
	df, other := st[0], st[1]
	if other.Reflected > df.Reflected {
		df, other = other, df
	}
	if df.Reflected != n || other.Reflected != 0 {
		t.Fatalf("reflected %d by %s and %d by %s, want %d by the forwarder alone", df.Reflected, df.Node, other.Reflected, other.Node, n)
	}
	if other.OwnSeen != n || other.Drops[relay.DropNotForwarder] != n {
		t.Errorf("%s: own_emissions_seen %d (the forwarder's copies), not-forwarder %d (the host's probes), want %d each",
			other.Node, other.OwnSeen, other.Drops[relay.DropNotForwarder], n)
	}
}
