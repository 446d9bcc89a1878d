package members_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mcasttools/mcast/internal/relay/cert"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/members"
)

func key(b byte) [32]byte { return [32]byte{b, 1, 2, 3} }

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []members.Meta{
		{Addr: netip.MustParseAddrPort("10.0.1.10:7474"), LAN: "site-a", Key: key(7), Allow: []netip.Prefix{netip.MustParsePrefix("10.0.1.0/24"), netip.MustParsePrefix("fd00::/64")}},
		{Addr: netip.MustParseAddrPort("[fd00:1::10]:7474"), Key: key(8), Leaving: true},
		{Addr: netip.MustParseAddrPort("10.0.1.10:7474"), Key: key(9), Allow: []netip.Prefix{}},
		{Addr: netip.MustParseAddrPort("10.0.1.10:7474"), Kind: members.KindCert, Cert: []byte("MCRT...")},
	} {
		b, err := m.Encode()
		if err != nil {
			t.Fatal(err)
		}
		got, err := members.Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)): %v", m, err)
		}
		if diff := cmp.Diff(&m, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }), cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestMetaRefusesHostile(t *testing.T) {
	good, _ := (&members.Meta{Addr: netip.MustParseAddrPort("10.0.1.10:7474"), Key: key(7), Allow: []netip.Prefix{netip.MustParsePrefix("10.0.1.0/24")}}).Encode()
	huge, err := (&members.Meta{Addr: netip.MustParseAddrPort("10.0.1.10:7474"), Kind: members.KindCert, Cert: make([]byte, 600)}).Encode()
	if err == nil || huge != nil {
		t.Errorf("a 600-byte certificate encoded into metadata")
	}
	cases := map[string][]byte{
		"empty":      nil,
		"truncated":  good[:len(good)-1],
		"trailing":   append(append([]byte{}, good...), 0),
		"huge":       append(append([]byte{}, good...), make([]byte, 600)...),
		"magic":      append([]byte("XCM\x01"), good[4:]...),
		"flags":      append(append([]byte{}, good[:4]...), append([]byte{2}, good[5:]...)...),
		"zero key":   mustEncode(t, members.Meta{Addr: netip.MustParseAddrPort("10.0.1.10:7474")}),
		"kind":       append(append([]byte{}, good[:13]...), 9),
		"port 0":     mustEncode(t, members.Meta{Addr: netip.MustParseAddrPort("10.0.1.10:0"), Key: key(1)}),
		"multicast":  mustEncode(t, members.Meta{Addr: netip.MustParseAddrPort("239.1.1.1:7474"), Key: key(1)}),
		"host bits":  bytes.Replace(good, []byte{10, 0, 1, 0, 24}, []byte{10, 0, 1, 5, 24}, 1),
		"cert short": (mustEncode(t, members.Meta{Addr: netip.MustParseAddrPort("10.0.1.10:7474"), Kind: members.KindCert, Cert: []byte("abc")})[:16]),
	}
	for name, b := range cases {
		if _, err := members.Decode(b); !errors.Is(err, members.ErrMeta) {
			t.Errorf("%s: Decode = %v, want ErrMeta", name, err)
		}
	}
}

func mustEncode(t *testing.T, m members.Meta) []byte {
	t.Helper()
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecode: Decode never panics, never accepts more than MaxMeta bytes,
// and what it accepts encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	f.Add(mustEncodeF(members.Meta{Addr: netip.MustParseAddrPort("10.0.1.10:7474"), LAN: "a", Key: key(7), Allow: []netip.Prefix{netip.MustParsePrefix("10.0.1.0/24")}}))
	f.Add(mustEncodeF(members.Meta{Addr: netip.MustParseAddrPort("[fd00::1]:7474"), Kind: members.KindCert, Cert: []byte("MCRT\x01")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := members.Decode(b)
		if err != nil {
			return
		}
		if len(b) > members.MaxMeta {
			t.Fatalf("accepted %d bytes", len(b))
		}
		again, err := m.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, encodes back to %x (%v)", b, again, err)
		}
	})
}

func mustEncodeF(m members.Meta) []byte {
	b, err := m.Encode()
	if err != nil {
		panic(err)
	}
	return b
}

func TestCheck(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	pub, priv, _ := ed25519.GenerateKey(nil)
	addr := netip.MustParseAddrPort("10.0.2.10:7474")
	signed := func(name string, underlay netip.AddrPort, notAfter time.Time) []byte {
		c := &cert.Cert{Name: name, Key: key(5), Underlay: []netip.AddrPort{underlay}, Allow: []netip.Prefix{netip.MustParsePrefix("10.0.2.0/24")},
			NotBefore: now.Add(-time.Hour), NotAfter: notAfter}
		b, err := cert.Sign(c, priv)
		if err != nil {
			t.Fatal(err)
		}
		return mustEncode(t, members.Meta{Addr: addr, LAN: "x", Kind: members.KindCert, Cert: b})
	}
	plain := members.Trust{Self: "vm1", Listen: netip.MustParseAddrPort("10.0.1.10:7474"), LAN: "x"}
	p, err := plain.Check("vm2", mustEncode(t, members.Meta{Addr: addr, LAN: "x", Key: key(5)}), now)
	if err != nil || p.ID != config.NodeID("vm2") || p.Addr != addr || !p.LAN || p.Key != key(5) || p.Allow != nil {
		t.Fatalf("Check = %+v, %v", p, err)
	}
	withCA := plain
	withCA.CA = pub
	p, err = withCA.Check("vm2", signed("vm2", addr, now.Add(time.Hour)), now)
	if err != nil || p.Key != key(5) || len(p.Allow) != 1 || !p.NotAfter.Equal(now.Add(time.Hour)) {
		t.Fatalf("Check with a certificate = %+v, %v", p, err)
	}
	revoked := withCA
	c, _ := cert.Decode(mustCert(t, signed("vm2", addr, now.Add(time.Hour))))
	revoked.Revoked = map[string]bool{c.Fingerprint(): true}
	otherCA, _, _ := ed25519.GenerateKey(nil)
	foreign := withCA
	foreign.CA = otherCA
	for _, tc := range []struct {
		name  string
		trust members.Trust
		node  string
		meta  []byte
		want  string
	}{
		{"bad name", plain, "a/b", mustEncode(t, members.Meta{Addr: addr, Key: key(5)}), "not a valid node name"},
		{"garbage", plain, "vm2", []byte("junk"), "malformed member metadata"},
		{"family", plain, "vm2", mustEncode(t, members.Meta{Addr: netip.MustParseAddrPort("[fd00::2]:7474"), Key: key(5)}), "not of this relay's family"},
		{"cert without ca", plain, "vm2", signed("vm2", addr, now.Add(time.Hour)), "this relay has no ca"},
		{"key with ca", withCA, "vm2", mustEncode(t, members.Meta{Addr: addr, Key: key(5)}), "carries no certificate"},
		{"other name", withCA, "vm3", signed("vm2", addr, now.Add(time.Hour)), `its certificate is for "vm2"`},
		{"other address", withCA, "vm2", signed("vm2", netip.MustParseAddrPort("10.0.9.9:7474"), now.Add(time.Hour)), "does not allow the data address"},
		{"expired", withCA, "vm2", signed("vm2", addr, now.Add(-time.Minute)), "expired"},
		{"other CA", foreign, "vm2", signed("vm2", addr, now.Add(time.Hour)), "not signed by this CA"},
		{"revoked", revoked, "vm2", signed("vm2", addr, now.Add(time.Hour)), "revoked"},
	} {
		_, err := tc.trust.Check(tc.node, tc.meta, now)
		if !errors.Is(err, members.ErrRefused) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `member "`+tc.node+`"`) {
			t.Errorf("%s: Check = %v, want a refusal naming the member with %q", tc.name, err, tc.want)
		}
	}
}

func mustCert(t *testing.T, meta []byte) []byte {
	m, err := members.Decode(meta)
	if err != nil {
		t.Fatal(err)
	}
	return m.Cert
}
