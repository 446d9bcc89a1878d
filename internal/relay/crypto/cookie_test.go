package crypto_test

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// initFrame is a complete initiation frame from a to b, with mac2 made
// with cookie (nil: none), and its parsed body.
func initFrame(t testing.TB, a, b *crypto.Static, cookie []byte) ([]byte, relayframe.Handshake) {
	t.Helper()
	_, m1, err := a.Initiate(b.Key.Public(), 5)
	if err != nil {
		t.Fatal(err)
	}
	f := crypto.AppendMACs(relayframe.AppendInit(nil, m1), relayframe.HeaderLen, b.Key.Public(), cookie)
	h, body, err := relayframe.ParseHeader(f)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := relayframe.ParseHandshake(h, body)
	if err != nil {
		t.Fatal(err)
	}
	return f, hs
}

func TestMAC1(t *testing.T) {
	a := &crypto.Static{Key: testKey("a"), Cipher: crypto.AES256GCM}
	b := &crypto.Static{Key: testKey("b"), Cipher: crypto.AES256GCM}
	f, hs := initFrame(t, a, b, nil)
	if !crypto.CheckMAC1(hs, b.Key.Public()) {
		t.Fatal("good mac1 refused")
	}
	if crypto.CheckMAC1(hs, a.Key.Public()) {
		t.Fatal("mac1 for b accepted by a")
	}
	if !bytes.Equal(hs.MAC2, make([]byte, relayframe.MACLen)) {
		t.Fatalf("mac2 without a cookie: %x", hs.MAC2)
	}
	// Any flipped bit of the message or of mac1 is refused.
	for _, i := range []int{relayframe.HeaderLen, relayframe.HeaderLen + 40, len(f) - 2*relayframe.MACLen - 1, len(f) - 2*relayframe.MACLen} {
		g := bytes.Clone(f)
		g[i] ^= 1
		h, body, _ := relayframe.ParseHeader(g)
		bad, err := relayframe.ParseHandshake(h, body)
		if err != nil {
			t.Fatal(err)
		}
		if crypto.CheckMAC1(bad, b.Key.Public()) {
			t.Errorf("mac1 accepted with byte %d flipped", i)
		}
	}
	// Truncated MAC fields (a caller-made Handshake) are refused, not a panic.
	if crypto.CheckMAC1(relayframe.Handshake{Msg: hs.Msg, MAC1: hs.MAC1[:3]}, b.Key.Public()) {
		t.Error("truncated mac1 accepted")
	}
}

func TestCookieRoundTrip(t *testing.T) {
	a := &crypto.Static{Key: testKey("a"), Cipher: crypto.AES256GCM}
	b := &crypto.Static{Key: testKey("b"), Cipher: crypto.AES256GCM}
	ck := crypto.NewCookies(b.Key.Public(), &streamRand{seed: []byte("cookies")})
	src := netip.MustParseAddrPort("10.0.0.1:51820")
	now := time.Unix(1000, 0)
	_, hs := initFrame(t, a, b, nil)
	if ck.CheckMAC2(hs, src, now) {
		t.Fatal("zero mac2 accepted")
	}
	nonce, sealed, err := ck.Reply(hs, src, now)
	if err != nil {
		t.Fatal(err)
	}
	// Only the answer to this initiation, from b's key, opens.
	if _, err := crypto.OpenCookieReply(a.Key.Public(), hs.MAC1, nonce, sealed); !errors.Is(err, crypto.ErrAuth) {
		t.Fatalf("opened under another key: %v", err)
	}
	if _, err := crypto.OpenCookieReply(b.Key.Public(), make([]byte, 16), nonce, sealed); !errors.Is(err, crypto.ErrAuth) {
		t.Fatalf("opened for another initiation: %v", err)
	}
	if _, err := crypto.OpenCookieReply(b.Key.Public(), hs.MAC1, nonce[1:], sealed); !errors.Is(err, crypto.ErrAuth) {
		t.Fatalf("opened with a short nonce: %v", err)
	}
	cookie, err := crypto.OpenCookieReply(b.Key.Public(), hs.MAC1, nonce, sealed)
	if err != nil {
		t.Fatal(err)
	}
	_, hs2 := initFrame(t, a, b, cookie)
	if !crypto.CheckMAC1(hs2, b.Key.Public()) || !ck.CheckMAC2(hs2, src, now.Add(time.Minute)) {
		t.Fatal("mac2 with the cookie refused")
	}
	if ck.CheckMAC2(hs2, netip.MustParseAddrPort("10.0.0.1:51821"), now) {
		t.Fatal("mac2 accepted from another port")
	}
	if ck.CheckMAC2(hs2, netip.MustParseAddrPort("10.0.0.2:51820"), now) {
		t.Fatal("mac2 accepted from another address")
	}
	if ck.CheckMAC2(hs2, src, now.Add(crypto.CookieSecretLife+time.Second)) {
		t.Fatal("mac2 accepted after the secret changed")
	}
}

func FuzzCookieReply(f *testing.F) {
	// Deterministic: each fuzz worker makes the same initiation.
	a := &crypto.Static{Key: testKey("a"), Cipher: crypto.AES256GCM, Rand: &streamRand{seed: []byte("fuzz a")}}
	b := &crypto.Static{Key: testKey("b"), Cipher: crypto.AES256GCM}
	ck := crypto.NewCookies(b.Key.Public(), &streamRand{seed: []byte("fuzz")})
	_, hs := initFrame(f, a, b, nil)
	src := netip.MustParseAddrPort("10.0.0.1:51820")
	nonce, sealed, _ := ck.Reply(hs, src, time.Unix(1, 0))
	f.Add(relayframe.AppendCookieReply(nil, nonce, sealed), hs.MAC1)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, frame, mac1 []byte) {
		h, body, err := relayframe.ParseHeader(frame)
		if err != nil {
			return
		}
		n, s, err := relayframe.ParseCookieReply(h, body)
		if err != nil {
			return
		}
		c, err := crypto.OpenCookieReply(b.Key.Public(), mac1, n, s)
		if err == nil && (len(c) != relayframe.CookieLen || !bytes.Equal(mac1, hs.MAC1)) {
			t.Fatalf("opened a cookie %x for mac1 %x", c, mac1)
		}
	})
}
