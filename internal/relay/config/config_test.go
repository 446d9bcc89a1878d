package config_test

import (
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
)

func TestParseGood(t *testing.T) {
	f, err := os.Open("testdata/good.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := config.Parse(f, "good.conf")
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"node", c.Node == "vm1" && c.ID == config.NodeID("vm1")},
		{"listen", c.Listen == netip.MustParseAddrPort("10.0.1.10:7474")},
		{"interface", c.Interface == "eth0"},
		{"key", c.KeyFile == "/etc/mcast/relay.key" && c.Cipher == "chacha20-poly1305"},
		{"peers", len(c.Peers) == 3 && c.Peers[1].Addr == netip.MustParseAddrPort("10.0.3.10:7474") && c.Peers[2].LAN && !c.Peers[0].LAN && c.Peers[0].Line == 7},
		{"groups", len(c.Groups) == 4 && c.Groups[2] == netip.MustParsePrefix("239.2.0.0/16") && config.Single(c.Groups[0])},
		{"carries", c.Carries(netip.MustParseAddr("239.2.3.4")) && !c.Carries(netip.MustParseAddr("239.3.0.1")) && c.Carries(netip.MustParseAddr("ff15::1"))},
		{"broadcast", c.CarriesBroadcast(5001) && !c.CarriesBroadcast(5002)},
		{"source", c.Source == config.SourceRelay && c.SourcePort == 5400},
		{"interest", c.Interest == config.InterestAll},
		{"mtu", c.MTU == 1400},
		{"timers", c.Keepalive == 500*time.Millisecond && c.PeerTimeout == 2*time.Second},
		{"rates", c.RateGroup == 1000 && c.RatePeer == 5000},
		{"fanout", c.Fanout == 4},
		{"metrics", c.Metrics == "127.0.0.1:9474"},
		{"admin", c.Admin == "/run/mcast/vm1.sock"},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("%s: wrong in %+v", ch.name, c)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := config.Parse(strings.NewReader("node a\nlisten 10.0.0.1\ninterface eth0\nkey k\ngroup auto\n"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen.Port() != config.DefaultPort || c.Source != config.SourceOriginal || c.Interest != config.InterestMembers ||
		c.MTU != 1500 || c.Cipher != "aes-256-gcm" || c.Admin != config.DefaultAdmin || !c.Auto || c.Keepalive != time.Second || c.PeerTimeout != 3*time.Second || c.Fanout != config.DefaultFanout {
		t.Fatalf("defaults: %+v", c)
	}
	if !c.Carries(netip.MustParseAddr("239.9.9.9")) || c.Carries(netip.MustParseAddr("224.0.0.22")) || c.Carries(netip.MustParseAddr("ff02::1:ff00:1")) {
		t.Fatal("auto carries the wrong groups")
	}
}

func TestParseErrors(t *testing.T) {
	base := "node a\nlisten 10.0.0.1:7474\ninterface eth0\nkey k\n"
	tests := []struct {
		name, text, want string
	}{
		{"unknown", base + "group 239.1.1.1\nfrobnicate 1\n", "cfg:6: unknown directive \"frobnicate\""},
		{"not multicast", base + "group 10.1.1.1\n", "cfg:5: group \"10.1.1.1\": not a multicast group"},
		{"host bits", base + "group 239.1.1.1/16\n", "cfg:5: group \"239.1.1.1/16\": has host bits set (did you mean 239.1.0.0/16?)"},
		{"control group", base + "group 224.0.0.1\n", "local network control group"},
		{"group twice", base + "group 239.1.1.1\ngroup 239.1.1.1\n", "cfg:6: group 239.1.1.1/32 given twice (first on line 5)"},
		{"peer twice", base + "group 239.1.1.1\npeer b 10.0.0.2\npeer b 10.0.0.3\n", "cfg:7: peer b given twice (first on line 6)"},
		{"peer address twice", base + "group 239.1.1.1\npeer b 10.0.0.2\npeer c 10.0.0.2:7474\n", "cfg:7: peer c: address 10.0.0.2:7474 given twice (first on line 6)"},
		{"peer bad address", base + "group 239.1.1.1\npeer b nowhere\n", "cfg:6: peer b address \"nowhere\": not ADDR[:PORT]"},
		{"peer multicast address", base + "group 239.1.1.1\npeer b 239.0.0.1:1\n", "not a unicast address"},
		{"peer self name", base + "group 239.1.1.1\npeer a 10.0.0.2\n", "cfg:6: peer a has this node's own name"},
		{"peer self addr", base + "group 239.1.1.1\npeer b 10.0.0.1:7474\n", "own listen address"},
		{"peer family", base + "group 239.1.1.1\npeer b [fd00::1]:7474\n", "not of the listen address's family"},
		{"peer extra", base + "group 239.1.1.1\npeer b 10.0.0.2 wan\n", "cfg:6: peer takes NAME ADDR[:PORT] [lan]"},
		{"node twice", base + "node b\n", "cfg:5: node given again (first on line 1)"},
		{"no node", "listen 10.0.0.1\ninterface eth0\nkey k\ngroup 239.1.1.1\n", "cfg: no node directive"},
		{"no key", "node a\nlisten 10.0.0.1\ninterface eth0\ngroup 239.1.1.1\n", "cfg: no key directive"},
		{"nothing", base, "nothing to carry"},
		{"bad port", base + "broadcast-port 0\n", "cfg:5: broadcast-port \"0\": not a port"},
		{"bad mtu", base + "group auto\nmtu 20\n", "cfg:6: mtu \"20\""},
		{"bad duration", base + "group auto\nkeepalive soon\n", "cfg:6: keepalive \"soon\""},
		{"timeout short", base + "group auto\nkeepalive 2s\npeer-timeout 1s\n", "cfg:7: peer-timeout 1s must be longer than keepalive 2s"},
		{"source", base + "group auto\nsource mine\n", "cfg:6: source \"mine\": want original or relay"},
		{"cipher", base + "group auto\ncipher des\n", "cfg:6: cipher \"des\": want aes-256-gcm or chacha20-poly1305"},
		{"source port", base + "group auto\nsource relay 70000\n", "cfg:6: source relay port \"70000\": want 1-65535"},
		{"source original port", base + "group auto\nsource original 5000\n", "cfg:6: source takes original or relay [PORT]"},
		{"bad name", "node a/b\n", "cfg:1: invalid node name \"a/b\""},
		{"metrics", base + "group auto\nmetrics :x\n", "cfg:6: metrics \":x\""},
		{"args", base + "group auto\nmtu\n", "cfg:6: mtu takes a number of bytes"},
		{"mapped", base + "group ::ffff:239.1.1.1/128\n", "IPv4-mapped"},
		{"fanout zero", base + "group auto\nfanout 0\n", "cfg:6: fanout \"0\": want a number of relays 1..1024"},
		{"fanout negative", base + "group auto\nfanout -3\n", "cfg:6: fanout \"-3\""},
		{"fanout absurd", base + "group auto\nfanout 1000000\n", "cfg:6: fanout \"1000000\""},
		{"fanout word", base + "group auto\nfanout many\n", "cfg:6: fanout \"many\""},
		{"fanout twice", base + "group auto\nfanout 4\nfanout 8\n", "cfg:7: fanout given again (first on line 6)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse(strings.NewReader(tt.text), "cfg")
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

// FuzzParse: no input makes Parse panic, and every error names the file.
func FuzzParse(f *testing.F) {
	b, _ := os.ReadFile("testdata/good.conf")
	f.Add(string(b))
	f.Add("node a\nlisten 10.0.0.1\ninterface eth0\nkey k\ngroup auto\n")
	f.Add("group ff00::/8\npeer x [fd00::1]:9\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := config.Parse(strings.NewReader(s), "fz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fz") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if c.Node == "" || !c.Listen.IsValid() {
			t.Fatalf("accepted without node or listen: %+v", c)
		}
	})
}
