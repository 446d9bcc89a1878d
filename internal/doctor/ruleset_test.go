package doctor_test

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcasttools/mcast/internal/doctor"
)

func TestParseIptablesSave(t *testing.T) {
	chains, err := doctor.ParseIptablesSave(readRules(t, "legacy-policy-drop.txt"), "iptables")
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
		if _, err := doctor.ParseIptablesSave(bad, "iptables"); err == nil {
			t.Errorf("ParseIptablesSave(%q) = nil error", bad)
		}
	}
}

func TestBlocksNegation(t *testing.T) {
	// "ip daddr != 224.0.0.0/4 drop" spares multicast.
	chains := []doctor.Chain{{Tool: "nft", Family: "ip", Table: "t", Name: "in", Hook: "input", Type: "filter", Policy: "accept",
		Rules: []doctor.Rule{{Conds: []doctor.Cond{{Field: "ip.daddr", Negate: true, Values: []doctor.Value{{Prefix: netip.MustParsePrefix("224.0.0.0/4")}}}}, Verdict: "drop", Handle: 2}}}}
	p := doctor.Packet{Dir: "input", Family: 4, Proto: 17, Dst: netip.MustParseAddr("239.1.2.3"), DPort: 5000}
	if b := doctor.Blocks(chains, p); len(b) != 0 {
		t.Errorf("Blocks = %+v, want none", b)
	}
	p.Dst = netip.MustParseAddr("10.0.0.1")
	if b := doctor.Blocks(chains, p); len(b) != 1 || !b[0].Sure {
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
		chains, err := doctor.ParseNftJSON(data)
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
		chains, err := doctor.ParseIptablesSave(text, "iptables")
		if err != nil {
			return
		}
		walkAll(chains)
	})
}

func walkAll(chains []doctor.Chain) {
	for _, p := range doctor.Packets(doctor.Target{Group: netip.MustParseAddr("239.1.2.3"), Port: 5000}, "eth0") {
		for _, b := range doctor.Blocks(chains, p) {
			_ = b.Evidence()
			_ = b.Fix()
		}
	}
}

// querierAttrs builds IFLA_BR_MCAST_QUERIER_STATE's payload.
func querierAttrs(addr [4]byte, port uint32, timer uint64) []byte {
	var b []byte
	add := func(typ uint16, v []byte) {
		h := make([]byte, 4)
		binary.NativeEndian.PutUint16(h, uint16(4+len(v)))
		binary.NativeEndian.PutUint16(h[2:], typ)
		b = append(b, h...)
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	add(1, addr[:])
	p := make([]byte, 4)
	binary.NativeEndian.PutUint32(p, port)
	add(2, p)
	tm := make([]byte, 8)
	binary.NativeEndian.PutUint64(tm, timer)
	add(3, tm)
	add(5, make([]byte, 16)) // IPv6 address: skipped
	return b
}

func TestParseQuerierState(t *testing.T) {
	q, err := doctor.ParseQuerierState(querierAttrs([4]byte{192, 168, 77, 2}, 6, 25000))
	if err != nil {
		t.Fatal(err)
	}
	want := doctor.Querier{Addr: netip.MustParseAddr("192.168.77.2"), PortIndex: 6, OtherTimer: 250 * time.Second}
	if q != want || !q.Present() {
		t.Errorf("ParseQuerierState = %+v, want %+v", q, want)
	}
	for _, bad := range [][]byte{{1, 2}, {3, 0, 1, 0}, {8, 0, 1, 0, 1, 2, 3}} {
		if _, err := doctor.ParseQuerierState(bad); err == nil {
			t.Errorf("ParseQuerierState(%v) = nil error", bad)
		}
	}
}

func FuzzParseQuerierState(f *testing.F) {
	f.Add(querierAttrs([4]byte{10, 0, 0, 1}, 2, 100))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		doctor.ParseQuerierState(b)
	})
}
