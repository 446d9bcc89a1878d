package stream_test

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/firewall"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/origin"
	"github.com/mcasttools/mcast/internal/stream"
)

// The host with two NICs on one subnet: a sender on enX0, receivers on enX0 and enX1.
func TestSummaryTwoNIC(t *testing.T) {
	own := netip.MustParseAddr("10.0.0.12")
	rejecting := func(name string) *stream.NIC {
		return &stream.NIC{Name: name, AcceptsOwn: false,
			RejectWhy: "net.ipv4.conf." + name + ".accept_local=0 drops wire copies whose source is this host's own address",
			RejectFix: "sysctl -w net.ipv4.conf." + name + ".accept_local=1"}
	}
	t.Run("default sysctls", func(t *testing.T) {
		x0, x1 := rejecting("enX0"), rejecting("enX1")
		x0.Addrs = []netip.Addr{own}
		x0.LocalPeers, x1.LocalPeers = []string{"enX1"}, []string{"enX0"}
		for range 10 {
			x0.Count(own, origin.Loopback)
		}
		var b bytes.Buffer
		stream.WriteSummary(&b, []*stream.NIC{x0, x1})
		out := b.String()
		for _, want := range []string{
			"enX0: 10 received: 10 looped back inside this host (never crossed the wire); the sender used this interface",
			"enX1: 0 received; nothing crossed the wire to enX1",
			"net.ipv4.conf.enX1.accept_local=0 drops wire copies",
			"Fix: sysctl -w net.ipv4.conf.enX1.accept_local=1",
			"from 10.0.0.12: 10",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("summary lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("accept_local=1", func(t *testing.T) {
		x1 := &stream.NIC{Name: "enX1", AcceptsOwn: true}
		for range 10 {
			x1.Count(own, origin.WireSelf)
		}
		got := x1.Explain(true)
		want := "enX1: 10 received: 10 from this host's other interfaces across the wire"
		if got != want {
			t.Errorf("got %q\nwant %q", got, want)
		}
	})
	t.Run("silent with no local cause", func(t *testing.T) {
		n := &stream.NIC{Name: "eth0", AcceptsOwn: true}
		if got := n.Explain(false); !strings.Contains(got, "no sender reached it") {
			t.Errorf("got %q", got)
		}
	})
}

// Two NICs on one subnet with strict rp_filter, and the sender on another
// host: enX1 hears nothing because the route back to the sender leaves by
// enX0. The summary names strict rp_filter and its fix, not accept_local
// and a sender on this host (there is none).
func TestSummaryTwoNICStrictRPFilter(t *testing.T) {
	for _, conf := range []string{"all", "enX1"} {
		kv := map[string]string{"net.ipv4.conf.all.rp_filter": "0", "net.ipv4.conf.enX1.rp_filter": "0", "net.ipv4.conf.enX1.accept_local": "0"}
		kv["net.ipv4.conf."+conf+".rp_filter"] = "1"
		n := stream.DescribeNIC(sysctls(t, kv), enX1, []iface.Interface{enX0, enX1})
		got := n.Explain(false)
		for _, want := range []string{"enX1: 0 received; nothing crossed the wire to enX1", "strict rp_filter",
			"from other hosts too", "Fix: sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.enX1.rp_filter=2"} {
			if !strings.Contains(got, want) {
				t.Errorf("rp_filter=1 in conf.%s: %q lacks %q", conf, got, want)
			}
		}
		if strings.Contains(got, "A sender on this host") {
			t.Errorf("rp_filter=1 in conf.%s: blames a sender on this host: %q", conf, got)
		}
	}
}

// nftUDP5001Drop is `nft -j list ruleset` (nft 1.0.6) after
// `nft add rule inet filter input udp dport 5001 drop` in a chain with
// policy accept.
const nftUDP5001Drop = `{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}}, {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5001}}, {"drop": null}]}}]}`

// A receiver behind its own host's firewall: the rule that drops the port
// is named, with the command that removes it, instead of "no sender
// reached it".
func TestSummaryFirewallDrops(t *testing.T) {
	chains, err := firewall.ParseNftJSON([]byte(nftUDP5001Drop))
	if err != nil {
		t.Fatal(err)
	}
	rules := func() ([]firewall.Chain, error) { return chains, nil }
	group := []netip.Addr{netip.MustParseAddr("239.1.2.3")}

	silent := &stream.NIC{Name: "eth0", AcceptsOwn: true}
	stream.ExplainFirewall([]*stream.NIC{silent}, group, 5001, rules)
	got := silent.Explain(false)
	for _, want := range []string{"eth0: 0 received; nothing crossed the wire to eth0: this host's firewall drops it",
		`nft: table inet filter chain input handle 2: "udp dport 5001 drop" drops UDP to 239.1.2.3:5001 arriving on eth0`,
		"Fix: nft delete rule inet filter input handle 2"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "no sender reached it") {
		t.Errorf("blames the sender: %q", got)
	}

	// Another port passes: the usual explanation stays.
	other := &stream.NIC{Name: "eth0", AcceptsOwn: true}
	stream.ExplainFirewall([]*stream.NIC{other}, group, 5002, rules)
	if got := other.Explain(false); !strings.Contains(got, "no sender reached it") {
		t.Errorf("port 5002: %q", got)
	}

	// A NIC that received needs no explanation, and the rules are not read.
	busy := &stream.NIC{Name: "eth0", AcceptsOwn: true}
	busy.Count(netip.MustParseAddr("10.0.0.2"), origin.Wire)
	stream.ExplainFirewall([]*stream.NIC{busy}, group, 5001, func() ([]firewall.Chain, error) {
		t.Error("rules read although every NIC received")
		return nil, nil
	})
}
