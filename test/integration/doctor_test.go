package integration_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// doctorReport is one check of `mcast doctor --json`.
type doctorReport struct {
	Check    string   `json:"check"`
	Status   string   `json:"status"`
	Summary  string   `json:"summary"`
	Evidence []string `json:"evidence"`
	Fix      []string `json:"fix"`
}

type doctorRun struct {
	code    int
	checks  map[string]doctorReport
	raw     string
	counts  map[string]int
	failed  bool
	command string
}

// runDoctor runs `mcast doctor --json args...` on node and decodes it.
func runDoctor(t *testing.T, l *labtest.Lab, node string, args ...string) doctorRun {
	t.Helper()
	r := l.Mcast(node, append([]string{"doctor", "--json"}, args...)...)
	var out struct {
		Checks []doctorReport `json:"checks"`
		Counts map[string]int `json:"counts"`
		Failed bool           `json:"failed"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		t.Fatalf("mcast doctor %s on %s: bad JSON: %v\n%s", strings.Join(args, " "), node, err, r)
	}
	d := doctorRun{code: r.Code, checks: map[string]doctorReport{}, raw: r.Stdout, counts: out.Counts, failed: out.Failed,
		command: "mcast doctor " + strings.Join(args, " ")}
	for _, c := range out.Checks {
		d.checks[c.Check] = c
	}
	if len(out.Checks) != 11 {
		t.Errorf("%s: %d checks, want 11", d.command, len(out.Checks))
	}
	if want := 0; out.Failed {
		want = 1
		if r.Code != want {
			t.Errorf("%s: exit %d with a failed check, want 1", d.command, r.Code)
		}
	} else if r.Code != 0 {
		t.Errorf("%s: exit %d with no failed check, want 0\n%s", d.command, r.Code, r.Stderr)
	}
	return d
}

// expect asserts a check's status and that its summary, evidence and fix
// hold every wanted text.
func (d doctorRun) expect(t *testing.T, check, status string, want ...string) {
	t.Helper()
	c, ok := d.checks[check]
	if !ok {
		t.Fatalf("%s: no check %q", d.command, check)
	}
	text := c.Summary + "\n" + strings.Join(c.Evidence, "\n") + "\n" + strings.Join(c.Fix, "\n")
	if c.Status != status {
		t.Errorf("%s: check %s is %s, want %s:\n%s", d.command, check, c.Status, status, text)
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s: check %s lacks %q:\n%s", d.command, check, w, text)
		}
	}
}

// sh runs a shell script on node and fails the test if it fails.
func sh(t *testing.T, l *labtest.Lab, node, script string) {
	t.Helper()
	l.MustRun(node, "sh", "-c", script)
}

func TestDoctorLAN(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	group := "239.1.2.3:5000"

	t.Run("healthy", func(t *testing.T) {
		sh(t, l, "n2", "sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0")
		d := runDoctor(t, l, "n2", "--group", group, "--iface", "eth0")
		for _, c := range []string{"multicast-address", "route", "link", "rp-filter", "firewall", "broadcast", "limits", "snooping", "ttl"} {
			d.expect(t, c, "ok")
		}
		d.expect(t, "route", "ok", "ip route get 239.1.2.3: multicast 239.1.2.3 dev eth0", "matching route: 224.0.0.0/4 dev eth0")
		d.expect(t, "probe", "ok", "3 on eth0 [loopback copy]")
		if d.code != 0 {
			t.Errorf("healthy node: exit %d, want 0", d.code)
		}
	})

	t.Run("autojoin group address", func(t *testing.T) {
		sh(t, l, "n1", "ip route add 239.0.0.0/24 dev eth0 && ip addr add 239.0.0.1/32 dev eth0 autojoin")
		d := runDoctor(t, l, "n1", "--group", "239.0.0.1:8080", "--iface", "eth0")
		d.expect(t, "multicast-address", "fail",
			"ip addr: 239.0.0.1/32 dev eth0 autojoin",
			"local 239.0.0.1 dev eth0 table local",
			"ip route get 239.0.0.1: multicast 239.0.0.1 dev lo",
			"ip addr del 239.0.0.1/32 dev eth0")
		d.expect(t, "route", "fail", "routed to lo")
		d.expect(t, "probe", "fail", "none of the 3 datagrams to 239.0.0.1 came back")
		if d.code != 1 {
			t.Errorf("exit %d, want 1", d.code)
		}
		// 239.0.0.2 still goes out eth0, as the autojoin puzzle saw.
		d2 := runDoctor(t, l, "n1", "--group", "239.0.0.2:8080", "--iface", "eth0")
		d2.expect(t, "multicast-address", "warn", "your group 239.0.0.2 is not one of them")
		d2.expect(t, "route", "ok", "leaves by eth0")
		d2.expect(t, "probe", "ok")
		// The fix doctor names works.
		sh(t, l, "n1", "ip addr del 239.0.0.1/32 dev eth0 && ip route del 239.0.0.0/24 dev eth0")
		d3 := runDoctor(t, l, "n1", "--group", "239.0.0.1:8080", "--iface", "eth0")
		d3.expect(t, "multicast-address", "ok")
		d3.expect(t, "probe", "ok", "[loopback copy]")
	})

	t.Run("no route", func(t *testing.T) {
		sh(t, l, "n1", "ip route del 224.0.0.0/4")
		defer sh(t, l, "n1", "ip route add 224.0.0.0/4 dev eth0")
		d := runDoctor(t, l, "n1", "--group", group)
		d.expect(t, "route", "fail", "network is unreachable", "no 224.0.0.0/4 route and no default route", "ip route add 224.0.0.0/4 dev eth0")
		// The probe names its interface (IP_MULTICAST_IF), so it needs no route.
		d.expect(t, "probe", "ok")
	})

	t.Run("link down", func(t *testing.T) {
		sh(t, l, "n1", "ip link set eth0 down")
		defer sh(t, l, "n1", "ip link set eth0 up && ip route replace 224.0.0.0/4 dev eth0")
		d := runDoctor(t, l, "n1", "--iface", "eth0")
		d.expect(t, "link", "fail", "eth0 is down", "ip link set eth0 up")
		d.expect(t, "route", "fail", "network is unreachable")
	})

	t.Run("firewall", func(t *testing.T) {
		defer sh(t, l, "n1", "nft flush ruleset")
		cases := []struct {
			rule string
			want []string
		}{
			{"add rule inet f in ip protocol igmp drop", []string{`"ip protocol igmp drop" drops IGMP queries (to 224.0.0.1) arriving on eth0`, "nft delete rule inet f in handle"}},
			{"add rule inet f in udp dport 5000 drop", []string{`"udp dport 5000 drop" drops UDP to 239.1.2.3:5000 arriving on eth0`}},
			{"add rule inet f out ip daddr 224.0.0.0/4 drop", []string{`chain out handle`, `"ip daddr 224.0.0.0/4 drop" drops UDP to 239.1.2.3:5000 leaving by eth0`, "drops IGMPv2 reports (to 239.1.2.3) leaving"}},
			{"add rule inet f out icmpv6 type mld2-listener-report drop", nil},
		}
		for _, c := range cases {
			sh(t, l, "n1", "nft flush ruleset && nft add table inet f && "+
				"nft add chain inet f in '{ type filter hook input priority 0; }' && "+
				"nft add chain inet f out '{ type filter hook output priority 0; }' && nft "+c.rule)
			if c.want == nil {
				d := runDoctor(t, l, "n1")
				d.expect(t, "firewall", "fail", "drops MLDv2 reports (to ff02::16) leaving by eth0")
				continue
			}
			d := runDoctor(t, l, "n1", "--group", group)
			d.expect(t, "firewall", "fail", c.want...)
		}
		sh(t, l, "n1", "nft flush ruleset && nft add table inet f && nft add chain inet f in '{ type filter hook input priority 0; }' && nft add rule inet f in udp dport 6000 drop")
		d := runDoctor(t, l, "n1", "--group", group)
		d.expect(t, "firewall", "ok", "no rule drops UDP to 239.1.2.3:5000")
	})

	t.Run("broadcast", func(t *testing.T) {
		sh(t, l, "n1", "sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=1")
		d := runDoctor(t, l, "n1")
		d.expect(t, "broadcast", "warn", "net.ipv4.icmp_echo_ignore_broadcasts=1", "sysctl -w net.ipv4.icmp_echo_ignore_broadcasts=0",
			"ip route get 10.0.0.255: broadcast 10.0.0.255 dev eth0")
		sh(t, l, "n1", "sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0")
		runDoctor(t, l, "n1").expect(t, "broadcast", "ok")
	})

	t.Run("snooping bridge and forced IGMP version", func(t *testing.T) {
		// A bridge on the node itself, with a port (so it has carrier) and
		// an address: the node is the bridge's host.
		sh(t, l, "n1", "ip link add brt type bridge mcast_snooping 1 mcast_querier 0 && "+
			"ip link add vq0 type veth peer name vq1 && ip link set vq1 master brt && "+
			"ip link set vq1 up && ip link set vq0 up && ip addr add 192.168.77.1/24 dev brt && ip link set brt up")
		defer sh(t, l, "n1", "ip link del vq0; ip link del brt")
		d := runDoctor(t, l, "n1", "--iface", "brt")
		d.expect(t, "snooping", "fail", "bridge brt snoops IGMP/MLD but is not a querier", "multicast_snooping=1 multicast_querier=0",
			"ports: vq1", "ip link set brt type bridge mcast_querier 1")

		// Another querier on the segment (a second bridge, querying from its
		// address) keeps the memberships alive: the bridge hears it.
		sh(t, l, "n1", "ip link add brq type bridge mcast_snooping 1 mcast_query_use_ifaddr 1 && "+
			"ip link add vq2 type veth peer name vq3 && ip link set vq3 master brt && ip link set vq2 master brq && "+
			"ip link set vq3 up && ip link set vq2 up && ip addr add 192.168.77.2/24 dev brq && ip link set brq up && "+
			"ip link set brq type bridge mcast_querier 1")
		var heard doctorRun
		for i := 0; i < 20; i++ {
			heard = runDoctor(t, l, "n1", "--iface", "brt")
			if heard.checks["snooping"].Status == "ok" {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		heard.expect(t, "snooping", "ok", "bridge brt hears querier 192.168.77.2 on port vq3")
		sh(t, l, "n1", "ip link del vq2 && ip link del brq")

		sh(t, l, "n1", "ip link set brt type bridge mcast_querier 1 mcast_igmp_version 3")
		d = runDoctor(t, l, "n1", "--iface", "brt")
		d.expect(t, "snooping", "ok")
		d.expect(t, "limits", "ok")

		sh(t, l, "n1", "sysctl -qw net.ipv4.conf.brt.force_igmp_version=2")
		d = runDoctor(t, l, "n1", "--iface", "brt")
		d.expect(t, "limits", "fail", "brt is forced to IGMPv2 but its querier (bridge brt) speaks IGMPv3",
			"net.ipv4.conf.brt.force_igmp_version=2", "sysctl -w net.ipv4.conf.all.force_igmp_version=0 net.ipv4.conf.brt.force_igmp_version=0")
	})

	t.Run("bad input", func(t *testing.T) {
		d := runDoctor(t, l, "n2", "--iface", "eth9")
		for _, c := range []string{"route", "link", "rp-filter", "firewall"} {
			d.expect(t, c, "skip", `could not check: unknown interface "eth9"`)
		}
		d.expect(t, "multicast-address", "ok")
		if r := l.Mcast("n2", "doctor", "--group", "10.0.0.1:5000"); r.Code != 2 || !strings.Contains(r.Stderr, `--group: invalid group "10.0.0.1": not a multicast address`) {
			t.Errorf("--group 10.0.0.1:5000: %s", r)
		}
		d = runDoctor(t, l, "n2")
		d.expect(t, "probe", "skip", "not run: the probe joins a group and sends to it, so it needs --group")
		r := l.Mcast("n2", "doctor", "--ttl", "300")
		if r.Code != 2 || !strings.Contains(r.Stderr, `invalid --ttl 300`) {
			t.Errorf("--ttl 300: %s", r)
		}
	})

	t.Run("environment", func(t *testing.T) {
		// Doctor in a private mount namespace and a chroot whose /sys has
		// the DMI files a cloud VM would have, and no /.dockerenv.
		dmi := func(vendor, product string) string {
			return fmt.Sprintf("set -e; R=/mnt; mount -t tmpfs none $R; "+
				"mkdir -p $R/proc $R/sys/class/dmi/id $R/sys/class/net $R/sys/devices $R/bin; "+
				"mount --bind /proc $R/proc; mount --bind /sys/class/net $R/sys/class/net; mount --bind /sys/devices $R/sys/devices; "+
				"echo %q > $R/sys/class/dmi/id/sys_vendor; echo %q > $R/sys/class/dmi/id/product_name; "+
				"cp %s $R/bin/mcast; chroot $R /bin/mcast doctor --json", vendor, product, l.Bin)
		}
		decode := func(script string) map[string]doctorReport {
			r := l.Run("n2", "unshare", "-m", "sh", "-c", script)
			var out struct{ Checks []doctorReport }
			if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
				t.Fatalf("doctor in chroot: %v\n%s", err, r)
			}
			m := map[string]doctorReport{}
			for _, c := range out.Checks {
				m[c.Check] = c
			}
			return m
		}
		ec2 := decode(dmi("Amazon EC2", "c5.large"))["environment"]
		if ec2.Status != "warn" || !strings.Contains(ec2.Summary, "Amazon EC2") || !strings.Contains(ec2.Summary, "Transit Gateway") {
			t.Errorf("EC2: %+v", ec2)
		}
		azure := decode(dmi("Microsoft Corporation", "Virtual Machine"))["environment"]
		if azure.Status != "warn" || !strings.Contains(azure.Summary, "Azure") {
			t.Errorf("Azure: %+v", azure)
		}
		kvm := decode(dmi("QEMU", "Standard PC (Q35 + ICH9, 2009)"))["environment"]
		if kvm.Status != "ok" || !strings.Contains(kvm.Summary, "a VM (qemu)") {
			t.Errorf("QEMU: %+v", kvm)
		}
	})
}

func TestDoctorTwoNIC(t *testing.T) {
	l := labtest.Up(t, "twonic")
	group := "239.1.1.1:5001"

	t.Run("probe, default sysctls: loopback only", func(t *testing.T) {
		d := runDoctor(t, l, "host", "--group", group, "--iface", "enX1", "--source", "10.0.0.12")
		d.expect(t, "probe", "warn", "sent by enX0, the datagrams came back only as loopback copies", "[loopback copy]",
			"none crossed the wire to enX1", "sysctl -w net.ipv4.conf.enX1.accept_local=1")
		d.expect(t, "rp-filter", "warn", "reach enX1 only as the loopback copy")
		d.expect(t, "route", "warn", "leaves by enX0, not by enX1")
	})

	t.Run("probe, accept_local=1: wire", func(t *testing.T) {
		sh(t, l, "host", "sysctl -qw net.ipv4.conf.enX1.accept_local=1")
		defer sh(t, l, "host", "sysctl -qw net.ipv4.conf.enX1.accept_local=0")
		d := runDoctor(t, l, "host", "--group", group, "--iface", "enX1", "--source", "10.0.0.12")
		d.expect(t, "probe", "ok", "came back across the wire on enX1", "on enX1 [wire, from this host]")
		d.expect(t, "rp-filter", "ok")
	})

	t.Run("strict rp_filter", func(t *testing.T) {
		sh(t, l, "host", "sysctl -qw net.ipv4.conf.enX1.rp_filter=1")
		defer sh(t, l, "host", "sysctl -qw net.ipv4.conf.enX1.rp_filter=0")
		d := runDoctor(t, l, "host", "--group", group, "--iface", "enX1", "--source", "10.0.0.20")
		d.expect(t, "rp-filter", "fail", "strict rp_filter on enX1 drops datagrams from 10.0.0.20: the route back to 10.0.0.20 leaves by enX0",
			"sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.enX1.rp_filter=2")
		// Seen from the peer, which is single-homed, nothing is wrong.
		runDoctor(t, l, "peer", "--group", group).expect(t, "rp-filter", "ok", "single-homed")
	})
}

func TestDoctorCloud(t *testing.T) {
	l := labtest.Up(t, "cloud", "--nodes", "2")
	d := runDoctor(t, l, "vm1", "--group", "239.1.2.3:5000")
	// No multicast route: the default route's interface carries it...
	d.expect(t, "route", "ok", "by the default route's interface", "default via 10.0.1.1 dev eth0")
	// ...toward a router that a TTL-1 datagram does not cross.
	d.expect(t, "ttl", "warn", "toward router 10.0.1.1 with TTL 1", "mcast send --ttl 8 239.1.2.3")
	runDoctor(t, l, "vm1", "--group", "239.1.2.3:5000", "--ttl", "8").expect(t, "ttl", "ok")
	runDoctor(t, l, "vm1", "--group", "239.1.2.3:5000", "--ttl", "8", "--source", "10.0.2.10").
		expect(t, "ttl", "warn", "the sender 10.0.2.10 is behind router 10.0.1.1")
	// A link-local group is never routed, whatever the TTL.
	runDoctor(t, l, "vm1", "--group", "224.0.0.251:5353").expect(t, "ttl", "ok", "link-local")
}

// The querier is on the lab's switch, not on the node: only --listen hears
// its version. A node forced to IGMPv2 under the switch's IGMPv3 querier
// fails limits with what was heard; a node left alone passes.
func TestDoctorListen(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "2")
	sh(t, l, "n1", "sysctl -qw net.ipv4.conf.eth0.force_igmp_version=2")

	// No querier yet: a short listen hears nothing and says so, without
	// calling it a fault (a querier may query only every 125 s).
	d := runDoctor(t, l, "n2", "--iface", "eth0", "--listen", "3s")
	d.expect(t, "snooping", "ok", "no Linux bridge on this host, and no IGMP query heard on eth0 in 3s", "eth0: no IGMP or MLD query heard in 3s of listening")
	d.expect(t, "limits", "ok", "eth0: no IGMP query heard in 3s of listening")

	// The switch queries (IGMPv3, every 2 s; intervals in centiseconds,
	// set before the querier starts).
	bridge(t, l, "link", "set", "br0", "type", "bridge", "mcast_igmp_version", "3", "mcast_query_interval", "200", "mcast_startup_query_interval", "100")
	bridge(t, l, "link", "set", "br0", "type", "bridge", "mcast_querier", "1")

	start := time.Now()
	d = runDoctor(t, l, "n1", "--iface", "eth0", "--listen", "30s")
	d.expect(t, "limits", "fail",
		"eth0 is forced to IGMPv2 but its querier (0.0.0.0 on the wire) speaks IGMPv3",
		"eth0: IGMPv3 querier 0.0.0.0 heard on the wire (",
		"net.ipv4.conf.all.force_igmp_version=0, net.ipv4.conf.eth0.force_igmp_version=2",
		"sysctl -w net.ipv4.conf.all.force_igmp_version=0 net.ipv4.conf.eth0.force_igmp_version=0")
	d.expect(t, "snooping", "ok", "the segment has an IGMP querier: 0.0.0.0 (IGMPv3) on eth0")
	if took := time.Since(start); took > 25*time.Second {
		t.Errorf("doctor --listen 30s took %s: it should stop once it heard the querier", took)
	}

	// Without force, the same querier is fine.
	d = runDoctor(t, l, "n2", "--iface", "eth0", "--listen", "30s")
	d.expect(t, "limits", "ok", "eth0: IGMPv3 querier 0.0.0.0 heard on the wire")
	d.expect(t, "snooping", "ok", "0.0.0.0 (IGMPv3) on eth0")

	// Without --listen the forced version is only a warning, with a hint.
	d = runDoctor(t, l, "n1", "--iface", "eth0")
	d.expect(t, "limits", "warn", "eth0 is forced to IGMPv2 (querier's version unknown from here; run doctor as root with --listen 130s to hear it)")

	// Without CAP_NET_RAW doctor cannot listen, says why, and still checks.
	r := l.Run("n1", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", l.Bin, "doctor", "--json", "--iface", "eth0", "--listen", "5s")
	if !strings.Contains(r.Stdout, "could not listen for queriers: listening needs root (CAP_NET_RAW)") {
		t.Errorf("doctor --listen without root: %s", r)
	}
	if r := l.Mcast("n1", "doctor", "--listen", "-1s"); r.Code != 2 || !strings.Contains(r.Stderr, "invalid --listen -1s") {
		t.Errorf("--listen -1s: %s", r)
	}
}
