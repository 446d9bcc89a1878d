package cert_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/cert"
)

func caKey(b byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32)) }

func sample() *cert.Cert {
	return &cert.Cert{
		Name: "vm2", Key: [32]byte{1, 2, 3},
		Underlay:  []netip.AddrPort{netip.MustParseAddrPort("10.0.2.10:7474"), netip.MustParseAddrPort("[fd00::2]:7474")},
		Allow:     []netip.Prefix{netip.MustParsePrefix("10.0.2.0/24"), netip.MustParsePrefix("fd02::/64")},
		NotBefore: time.Unix(1_000_000, 0), NotAfter: time.Unix(2_000_000, 0),
	}
}

func TestSignVerify(t *testing.T) {
	ca := caKey(1)
	c := sample()
	b, err := cert.Sign(c, ca)
	if err != nil {
		t.Fatal(err)
	}
	back, err := cert.Parse(c.String())
	if err != nil {
		t.Fatal(err)
	}
	if back.Name != "vm2" || back.Key != c.Key || len(back.Underlay) != 2 || back.Allow[1] != c.Allow[1] || !back.NotAfter.Equal(c.NotAfter) {
		t.Fatalf("decoded %+v", back)
	}
	if got, _ := back.Encode(); !bytes.Equal(got, b) || back.Fingerprint() != c.Fingerprint() {
		t.Fatal("re-encoding differs")
	}
	if err := back.Verify(ca.Public().(ed25519.PublicKey), time.Unix(1_500_000, 0)); err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		ca   ed25519.PrivateKey
		at   time.Time
		want error
	}{
		"other CA":  {caKey(2), time.Unix(1_500_000, 0), cert.ErrSignature},
		"expired":   {ca, time.Unix(2_000_000, 0), cert.ErrExpired},
		"not yet":   {ca, time.Unix(999_999, 0), cert.ErrExpired},
		"good, too": {ca, time.Unix(1_999_999, 0), nil},
	} {
		if err := back.Verify(tt.ca.Public().(ed25519.PublicKey), tt.at); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tt.want)
		}
	}
	// A changed prefix breaks the signature.
	back.Allow[0] = netip.MustParsePrefix("10.0.0.0/8")
	if err := back.Verify(ca.Public().(ed25519.PublicKey), time.Unix(1_500_000, 0)); !errors.Is(err, cert.ErrSignature) {
		t.Errorf("widened prefix: err = %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	good, _ := cert.Sign(sample(), caKey(1))
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-1],
		"trailing":  append(bytes.Clone(good), 0),
		"magic":     append([]byte("XCRT"), good[4:]...),
	} {
		if _, err := cert.Decode(b); !errors.Is(err, cert.ErrFormat) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := cert.ParseRevoked("# list\n" + strings.Repeat("ab", 32) + "\nzz\n"); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("revocation list: err = %v, want line 3 named", err)
	}
	if _, err := cert.ParseCAKey("short"); err == nil {
		t.Error("accepted a bad CA key")
	}
}

// FuzzDecode: no input makes Decode panic, and what decodes encodes back
// to the same bytes (one certificate, one fingerprint).
func FuzzDecode(f *testing.F) {
	good, _ := cert.Sign(sample(), caKey(1))
	f.Add(good)
	f.Add([]byte("MCRT\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := cert.Decode(b)
		if err != nil {
			return
		}
		out, err := c.Encode()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("round trip: %x != %x (%v)", out, b, err)
		}
	})
}

// TestAdmit: a certificate speaks for its relay only when signed, valid,
// not revoked and for that name; Carried is never nil.
func TestAdmit(t *testing.T) {
	ca := caKey(1)
	c := sample()
	if _, err := cert.Sign(c, ca); err != nil {
		t.Fatal(err)
	}
	pub, at := ca.Public().(ed25519.PublicKey), time.Unix(1_500_000, 0)
	if err := c.Admit(pub, nil, "vm2", at); err != nil {
		t.Fatalf("good certificate: %v", err)
	}
	if err := c.Admit(caKey(2).Public().(ed25519.PublicKey), nil, "vm2", at); !errors.Is(err, cert.ErrSignature) {
		t.Errorf("other CA: %v", err)
	}
	if err := c.Admit(pub, map[string]bool{c.Fingerprint(): true}, "vm2", at); !errors.Is(err, cert.ErrRevoked) {
		t.Errorf("revoked: %v", err)
	}
	if err := c.Admit(pub, nil, "vm3", at); err == nil || !strings.Contains(err.Error(), `is for "vm2", not "vm3"`) {
		t.Errorf("other name: %v", err)
	}
	if got := (&cert.Cert{}).Carried(); got == nil || len(got) != 0 {
		t.Errorf("Carried of a certificate without prefixes = %#v, want empty and not nil", got)
	}
}
