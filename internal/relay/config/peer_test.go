package config_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay/config"
)

const (
	keyB = "hBq0AVaw8+LWRbyMQJh4q9c/RDLNUfDTGfOQXzCnBFA="
	keyC = "4kCcFKj5hpcDpNx/PrT2I5Lqp69OtMo/pN/9ivKtbT4="
)

func TestPeerIdentities(t *testing.T) {
	base := "node a\nlisten 10.0.0.1:7474\ninterface eth0\nprivate-key /etc/a.priv\ngroup 239.1.1.1\n"
	c, err := config.Parse(strings.NewReader(base+"peer b 10.0.0.2 "+keyB+" allow 10.0.2.0/24,192.0.2.7\npeer c 10.0.0.3 lan "+keyC+"\n"), "cfg")
	if err != nil {
		t.Fatal(err)
	}
	b, cc := c.Peers[0], c.Peers[1]
	if c.PrivateKey != "/etc/a.priv" || c.KeyFile != "" || b.Key[0] != 0x84 || !cc.LAN || cc.Key[0] != 0xe2 {
		t.Fatalf("parsed %+v", c)
	}
	for a, want := range map[string]bool{"10.0.2.9": true, "192.0.2.7": true, "192.0.2.8": false, "10.0.3.1": false} {
		if got := b.Allows(netip.MustParseAddr(a)); got != want {
			t.Errorf("b allows %s = %v, want %v", a, got, want)
		}
	}
	if !cc.Allows(netip.MustParseAddr("198.51.100.1")) {
		t.Error("a peer without allow refuses a source")
	}
	tests := []struct{ name, text, want string }{
		{"malformed key", base + "peer b 10.0.0.2 " + keyB[:43] + "x\n", "cfg:6: peer b: malformed public key"},
		{"short key", base + "peer b 10.0.0.2 " + keyB[4:] + "\n", "cfg:6: peer b: malformed public key"},
		{"no key", base + "peer b 10.0.0.2\n", "cfg:6: peer b has no public key"},
		{"same key", base + "peer b 10.0.0.2 " + keyB + "\npeer c 10.0.0.3 " + keyB + "\n", "cfg:7: peer c has the public key of peer b"},
		{"allow host bits", base + "peer b 10.0.0.2 " + keyB + " allow 10.0.2.1/24\n", "cfg:6: peer b allow \"10.0.2.1/24\": 10.0.2.1/24 has host bits set"},
		{"allow empty", base + "peer b 10.0.0.2 " + keyB + " allow\n", "cfg:6: peer b: allow takes PREFIX"},
		{"allow junk", base + "peer b 10.0.0.2 " + keyB + " allow 10.0.2.0/24,x\n", "is not ADDR or ADDR/BITS"},
		{"two keys", base + "peer b 10.0.0.2 " + keyB + " " + keyC + "\n", "cfg:6: peer takes NAME"},
		{"neither key", "node a\nlisten 10.0.0.1:7474\ninterface eth0\ngroup 239.1.1.1\n", "private-key FILE"},
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
