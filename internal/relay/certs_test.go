package relay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/cert"
	"github.com/mcasttools/mcast/internal/relay/config"
)

// certFor is a certificate of relay name at addr, signed by ca, valid
// from..until.
func certFor(t *testing.T, ca ed25519.PrivateKey, name, addr string, from, until time.Time) *cert.Cert {
	t.Helper()
	c := &cert.Cert{Name: name, Key: testPriv(name).Public(), Underlay: []netip.AddrPort{netip.MustParseAddrPort(addr)},
		Allow: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}, NotBefore: from, NotAfter: until}
	if _, err := cert.Sign(c, ca); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCertifiedPeers: peers with a certificate get its key and prefixes
// when it is the CA's, valid, not revoked, of their name and address;
// the others are refused with the reason, and a certificate that expires
// while the relay runs refuses its peer on the next tick.
func TestCertifiedPeers(t *testing.T) {
	ca := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{4}, 32))
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	year := now.Add(365 * 24 * time.Hour)
	certs := map[string]*cert.Cert{
		"b": certFor(t, ca, "b", "10.0.2.10:7474", now.Add(-time.Hour), year),
		"c": certFor(t, other, "c", "10.0.3.10:7474", now.Add(-time.Hour), year),
		"d": certFor(t, ca, "d", "10.0.4.10:7474", now.Add(-2*time.Hour), now.Add(-time.Hour)),
		"e": certFor(t, ca, "e", "10.0.5.10:7474", now.Add(-time.Hour), year),
		"f": certFor(t, ca, "someone", "10.0.6.10:7474", now.Add(-time.Hour), year),
		"g": certFor(t, ca, "g", "10.0.99.10:7474", now.Add(-time.Hour), year),
		"h": certFor(t, ca, "h", "10.0.8.10:7474", now.Add(-time.Hour), now.Add(10*time.Second)),
	}
	why := map[string]string{"c": "not signed by this CA", "d": "expired", "e": "revoked", "f": `is for "someone"`, "g": "does not allow the address"}
	var b strings.Builder
	b.WriteString("node a\nlisten 10.0.1.10:7474\ninterface eth0\nprivate-key /p\ngroup 239.1.1.1\n")
	b.WriteString("ca " + base64.StdEncoding.EncodeToString(ca.Public().(ed25519.PublicKey)) + "\nrevoked /r\n")
	for i, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		b.WriteString("peer " + n + " 10.0." + string(rune('2'+i)) + ".10:7474 cert /" + n + "\n")
	}
	cfg, err := config.Parse(strings.NewReader(b.String()), "test.conf")
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Peers {
		cfg.Peers[i].Cert = certs[cfg.Peers[i].Name].String()
	}
	cfg.Revoked = "# revoked\n" + certs["e"].Fingerprint() + "\n"
	clock := now
	r, err := New(cfg, Options{PrivateKey: testPriv("a"), Clock: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	st := r.Status()
	if len(st.RefusedPeers) != len(why) || st.PeersRefused != uint64(len(why)) {
		t.Errorf("refused %v, want %d", st.RefusedPeers, len(why))
	}
	for n, w := range why {
		if !strings.Contains(st.RefusedPeers[n], w) {
			t.Errorf("peer %s refused for %q, want %q", n, st.RefusedPeers[n], w)
		}
	}
	pb := r.peers[config.NodeID("b")]
	if pb == nil || pb.cfg.Key != testPriv("b").Public() || !pb.cfg.Allows(netip.MustParseAddr("10.9.1.1")) || pb.cfg.Allows(netip.MustParseAddr("10.0.2.20")) {
		t.Fatalf("b from its certificate: %+v", pb)
	}
	if r.peers[config.NodeID("h")] == nil {
		t.Fatal("h refused before its certificate expired")
	}
	r.setIO(newFakeIO(1500))
	clock = now.Add(11 * time.Second)
	r.tick(context.Background(), clock, false)
	if r.peers[config.NodeID("h")] != nil || !strings.Contains(r.Status().RefusedPeers["h"], "expired") {
		t.Errorf("h still a peer after its certificate expired: %v", r.Status().RefusedPeers)
	}
}
