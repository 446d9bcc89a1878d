package firewall_test

import (
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mcasttools/mcast/internal/firewall"
)

func readRules(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/rules/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseIptablesSave(t *testing.T) {
	chains, err := firewall.ParseIptablesSave(readRules(t, "legacy-policy-drop.txt"), "iptables")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range chains {
		got = append(got, c.Name+" "+c.Hook+" "+c.Policy)
	}
	if d := cmp.Diff([]string{"INPUT input drop", "FORWARD forward accept", "OUTPUT output accept"}, got); d != "" {
		t.Errorf("chains (-want +got):\n%s", d)
	}
	in := chains[0].Rules
	if len(in) != 3 || in[0].Conds[0].Field != "ct.state" || in[2].Conds[1].Field != "udp.dport" || in[2].Verdict != "accept" {
		t.Errorf("INPUT rules parsed as %+v", in)
	}
	for _, bad := range []string{"*filter\n-A NOPE -j DROP\n", "*filter\n:\n"} {
		if _, err := firewall.ParseIptablesSave(bad, "iptables"); err == nil {
			t.Errorf("ParseIptablesSave(%q) = nil error", bad)
		}
	}
}

func TestBlocksNegation(t *testing.T) {
	// "ip daddr != 224.0.0.0/4 drop" spares multicast.
	chains := []firewall.Chain{{Tool: "nft", Family: "ip", Table: "t", Name: "in", Hook: "input", Type: "filter", Policy: "accept",
		Rules: []firewall.Rule{{Conds: []firewall.Cond{{Field: "ip.daddr", Negate: true, Values: []firewall.Value{{Prefix: netip.MustParsePrefix("224.0.0.0/4")}}}}, Verdict: "drop", Handle: 2}}}}
	p := firewall.Packet{Dir: "input", Family: 4, Proto: 17, Dst: netip.MustParseAddr("239.1.2.3"), DPort: 5000}
	if b := firewall.Blocks(chains, p); len(b) != 0 {
		t.Errorf("Blocks = %+v, want none", b)
	}
	p.Dst = netip.MustParseAddr("10.0.0.1")
	if b := firewall.Blocks(chains, p); len(b) != 1 || !b[0].Sure {
		t.Errorf("Blocks = %+v, want one sure block", b)
	}
}

// FuzzParseNftJSON: any input parses or fails cleanly, and what parses can
// be walked.
func FuzzParseNftJSON(f *testing.F) {
	for _, n := range []string{"mixed.json", "jump-policy.json"} {
		b, err := os.ReadFile("testdata/rules/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"nftables":[{"chain":{"family":"inet","table":"t","name":"c","hook":"input"}},{"rule":{"family":"inet","table":"t","chain":"c","expr":[{"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":{"prefix":{"addr":"224.0.0.0","len":99}}}},{"jump":{"target":"c"}}]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		chains, err := firewall.ParseNftJSON(data)
		if err != nil {
			return
		}
		walkAll(chains)
	})
}

// FuzzParseIptablesSave: the same for iptables-save text.
func FuzzParseIptablesSave(f *testing.F) {
	b, err := os.ReadFile("testdata/rules/legacy-policy-drop.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Add("*filter\n:INPUT DROP [0:0]\n:X - [0:0]\n-A INPUT -j X\n-A X -g INPUT\n-A X ! -p igmp -d 224.0.0.0/4,ff00::/8 -m multiport --dports 1:2,3 -j REJECT\nCOMMIT\n")
	f.Fuzz(func(t *testing.T, text string) {
		chains, err := firewall.ParseIptablesSave(text, "iptables")
		if err != nil {
			return
		}
		walkAll(chains)
	})
}

// walkAll asks the chains about the datagrams mcast doctor asks about.
func walkAll(chains []firewall.Chain) {
	g := netip.MustParseAddr("239.1.2.3")
	packets := []firewall.Packet{
		{What: "UDP to 239.1.2.3:5000 arriving on eth0", Dir: "input", Family: 4, Proto: 17, Dst: g, DPort: 5000, Dev: "eth0"},
		{What: "UDP to 239.1.2.3:5000 leaving by eth0", Dir: "output", Family: 4, Proto: 17, Dst: g, DPort: 5000, Dev: "eth0"},
		{What: "IGMP queries (to 224.0.0.1) arriving on eth0", Dir: "input", Family: 4, Proto: 2, Dst: netip.MustParseAddr("224.0.0.1"), Dev: "eth0"},
		{What: "IGMPv3 reports (to 224.0.0.22) leaving by eth0", Dir: "output", Family: 4, Proto: 2, Dst: netip.MustParseAddr("224.0.0.22"), Dev: "eth0"},
		{What: "IGMPv2 reports (to 239.1.2.3) leaving by eth0", Dir: "output", Family: 4, Proto: 2, Dst: g, Dev: "eth0"},
		{What: "MLD queries (to ff02::1) arriving on eth0", Dir: "input", Family: 6, Proto: 58, ICMPType: 130, Dst: netip.MustParseAddr("ff02::1"), Dev: "eth0"},
		{What: "MLDv2 reports (to ff02::16) leaving by eth0", Dir: "output", Family: 6, Proto: 58, ICMPType: 143, Dst: netip.MustParseAddr("ff02::16"), Dev: "eth0"},
	}
	for _, p := range packets {
		for _, b := range firewall.Blocks(chains, p) {
			_ = b.Evidence()
			_ = b.Fix()
		}
	}
}
