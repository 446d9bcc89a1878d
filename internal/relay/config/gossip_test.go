package config_test

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
)

func TestGossipLines(t *testing.T) {
	base := "node a\nlisten 10.0.0.1:7474\ninterface eth0\nprivate-key /etc/a.priv\ngroup 239.1.1.1\n"
	c, err := config.Parse(strings.NewReader(base+"join 10.0.0.2 seed.example:7000 [fd00::1]:7475\ngossip-key /k\ngossip-lan site-a\nprobe-interval 800ms\n"), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Fleet() || len(c.Join) != 3 || c.GossipKeyFile != "/k" || c.GossipLAN != "site-a" {
		t.Fatalf("parsed %+v", c)
	}
	if got := c.GossipAddr(); got != netip.MustParseAddrPort("10.0.0.1:7475") {
		t.Errorf("default gossip endpoint %s, want the listen port + 1", got)
	}
	tm := c.Timing()
	// The interval overridden, the rest the lan profile's.
	if tm.ProbeInterval != 800*time.Millisecond || tm.ProbeTimeout != 500*time.Millisecond || tm.SuspicionMult != 4 {
		t.Errorf("timing %+v", tm)
	}
	for s, want := range map[string]string{"10.0.0.2": "10.0.0.2:7475", "seed.example:7000": "seed.example:7000", "[fd00::1]:7475": "fd00::1:7475"} {
		h, p := config.SeedHostPort(s, 7475)
		if got := h + ":" + strconv.Itoa(int(p)); got != want {
			t.Errorf("SeedHostPort(%q) = %s, want %s", s, got, want)
		}
	}
	c2, err := config.Parse(strings.NewReader(base+"gossip-key /k\ngossip 10.0.0.1:9000\ngossip-profile wan\n"), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	if c2.GossipAddr().Port() != 9000 || c2.Timing().ProbeInterval != 5*time.Second {
		t.Errorf("gossip %s timing %+v", c2.GossipAddr(), c2.Timing())
	}

	tests := []struct{ name, text, want string }{
		{"join without key", base + "join 10.0.0.2\n", "cfg:6: join needs gossip-key FILE"},
		{"probe without key", base + "probe-interval 1s\n", "cfg:6: probe-interval needs gossip-key"},
		{"join empty", base + "gossip-key /k\njoin\n", "cfg:7: join takes one or more"},
		{"join junk", base + "gossip-key /k\njoin bad/name\n", `cfg:7: join "bad/name": not ADDR[:PORT] or NAME[:PORT]`},
		{"join bad port", base + "gossip-key /k\njoin seed:99999\n", `cfg:7: join "seed:99999": port "99999"`},
		{"gossip bad", base + "gossip-key /k\ngossip 0\n", `cfg:7: gossip "0": want a port`},
		{"gossip on listen", base + "gossip-key /k\ngossip 7474\n", "gossip 10.0.0.1:7474 is the listen address"},
		{"key twice", base + "gossip-key /k\ngossip-key /j\n", "cfg:7: gossip-key given again (first on line 6)"},
		{"profile", base + "gossip-key /k\ngossip-profile moon\n", `gossip-profile "moon": want lan or wan`},
		{"probe", base + "gossip-key /k\nprobe-interval 1h\n", `probe-interval "1h": want a duration`},
		{"timeout over interval", base + "gossip-key /k\nprobe-interval 1s\nprobe-timeout 2s\n", "probe-timeout 2s must be shorter than probe-interval 1s"},
		{"mult", base + "gossip-key /k\nsuspicion-mult 0\n", `suspicion-mult "0": want a number 1..20`},
		{"lan tag", base + "gossip-key /k\ngossip-lan a/b\n", `gossip-lan "a/b"`},
		{"cert without ca", base + "gossip-key /k\ngossip-cert /c\n", "gossip-cert needs ca"},
		{"no private key", "node a\nlisten 10.0.0.1:7474\ninterface eth0\nkey /m\ngroup 239.1.1.1\ngossip-key /k\n", "gossip-key needs private-key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse(strings.NewReader(tt.text), "cfg")
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %v, want one line with %q", err, tt.want)
			}
		})
	}
}

func TestGossipKeyAndBound(t *testing.T) {
	if _, err := config.ParseGossipKey("hBq0AVaw8+LWRbyMQJh4q9c/RDLNUfDTGfOQXzCnBFA=\n"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "short", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", strings.Repeat("QUFB", 20)} {
		if _, err := config.ParseGossipKey(bad); err == nil {
			t.Errorf("ParseGossipKey(%q) accepted", bad)
		}
	}
	lan := config.Profiles[config.ProfileLAN]
	// memberlist: 4 × log10(32) × 1s = 6.02s minimum suspicion at 32.
	if got := config.SuspicionTimeout(lan, 32); got < 6*time.Second || got > 6100*time.Millisecond {
		t.Errorf("suspicion timeout at 32 = %s", got)
	}
	if got := config.SuspicionTimeout(lan, 3); got != 4*time.Second {
		t.Errorf("suspicion timeout at 3 = %s, want the floor 4s", got)
	}
	if got := config.DetectionBound(lan, 32); got < 38*time.Second || got > 39*time.Second {
		t.Errorf("detection bound at 32 = %s", got)
	}
}
