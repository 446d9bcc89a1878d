package crypto_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// testKey is a fixed private key per name.
func testKey(name string) crypto.PrivateKey {
	k, _ := crypto.GenerateKey(bytes.NewReader(bytes.Repeat([]byte(name), 32)))
	return k
}

// streamRand is deterministic randomness from a seed, for handshakes a test
// wants to repeat.
type streamRand struct {
	seed []byte
	n    uint64
}

func (r *streamRand) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 32 {
		r.n++
		h := sha256.Sum256(append(r.seed, byte(r.n), byte(r.n>>8)))
		copy(p[i:], h[:])
	}
	return len(p), nil
}

// handshake runs a handshake from a to b and returns their sessions.
func handshake(t *testing.T, a, b *crypto.Static, ia, ib uint32, now time.Time) (*crypto.Session, *crypto.Session) {
	t.Helper()
	in, m1, err := a.Initiate(b.Key.Public(), ia)
	if err != nil {
		t.Fatal(err)
	}
	if len(m1) != relayframe.InitLen {
		t.Fatalf("initiation of %d bytes, want %d", len(m1), relayframe.InitLen)
	}
	req, err := b.ReadInit(m1)
	if err != nil {
		t.Fatal(err)
	}
	if req.Peer != a.Key.Public() || req.Remote != ia {
		t.Fatalf("responder sees peer %v index %d", req.Peer, req.Remote)
	}
	sb, m2, err := req.Accept(ib, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(m2) != relayframe.ResponseLen {
		t.Fatalf("response of %d bytes, want %d", len(m2), relayframe.ResponseLen)
	}
	sa, err := in.Finish(m2, now)
	if err != nil {
		t.Fatal(err)
	}
	return sa, sb
}

func statics(cipher string, psk []byte) (a, b, c *crypto.Static) {
	return &crypto.Static{Key: testKey("a"), Cipher: cipher, PSK: psk},
		&crypto.Static{Key: testKey("b"), Cipher: cipher, PSK: psk},
		&crypto.Static{Key: testKey("c"), Cipher: cipher, PSK: psk}
}

func TestHandshakeAndSession(t *testing.T) {
	psk := bytes.Repeat([]byte{9}, 32)
	for _, c := range crypto.Ciphers {
		for _, p := range [][]byte{nil, psk} {
			a, b, _ := statics(c, p)
			now := time.Unix(1000, 0)
			sa, sb := handshake(t, a, b, 11, 22, now)
			if sa.Remote != 22 || sb.Remote != 11 || !sa.Initiator || sb.Initiator {
				t.Fatalf("%s: indexes %d/%d", c, sa.Remote, sb.Remote)
			}
			f, ok := sa.Seal(nil, relayframe.TypeData, []byte("to b"))
			if !ok {
				t.Fatal("seal refused")
			}
			h, _, _ := relayframe.ParseHeader(f)
			if h.Index != 22 || h.Seq != 0 {
				t.Fatalf("first frame header %+v, want index 22 counter 0", h)
			}
			body, err := sb.Open(nil, h, bytes.Clone(f))
			if err != nil || string(body) != "to b" {
				t.Fatalf("%s: open %q %v", c, body, err)
			}
			if _, err := sb.Open(nil, h, f); !errors.Is(err, crypto.ErrReplay) {
				t.Fatalf("replay: err = %v", err)
			}
			f2, _ := sb.Seal(nil, relayframe.TypeHello, []byte("to a"))
			h2, _, _ := relayframe.ParseHeader(f2)
			if body, err := sa.Open(nil, h2, f2); err != nil || string(body) != "to a" {
				t.Fatalf("%s: b to a: %q %v", c, body, err)
			}
		}
	}
}

// TestHandshakeRefused: a handshake fails with another cipher, another
// pre-shared key, or none on one side, and an initiation meant for b
// does not open at c.
func TestHandshakeRefused(t *testing.T) {
	a, b, c := statics(crypto.AES256GCM, nil)
	_, m1, err := a.Initiate(b.Key.Public(), 1)
	if err != nil {
		t.Fatal(err)
	}
	others := map[string]*crypto.Static{
		"third relay":   c,
		"other cipher":  {Key: b.Key, Cipher: crypto.ChaCha20Poly1305},
		"with a psk":    {Key: b.Key, Cipher: crypto.AES256GCM, PSK: bytes.Repeat([]byte{1}, 32)},
		"truncated msg": b,
	}
	for name, s := range others {
		msg := m1
		if name == "truncated msg" {
			msg = m1[:len(m1)-1]
		}
		if _, err := s.ReadInit(msg); !errors.Is(err, crypto.ErrAuth) {
			t.Errorf("%s: err = %v, want ErrAuth", name, err)
		}
	}
	// Other pre-shared keys on each side: the response fails.
	ap := &crypto.Static{Key: a.Key, Cipher: crypto.AES256GCM, PSK: bytes.Repeat([]byte{1}, 32)}
	bp := &crypto.Static{Key: b.Key, Cipher: crypto.AES256GCM, PSK: bytes.Repeat([]byte{2}, 32)}
	in, m1, _ := ap.Initiate(b.Key.Public(), 1)
	req, err := bp.ReadInit(m1)
	if err != nil {
		t.Fatal(err) // psk2 is mixed in at the response
	}
	_, m2, _ := req.Accept(2, time.Now())
	if _, err := in.Finish(m2, time.Now()); !errors.Is(err, crypto.ErrAuth) {
		t.Errorf("other psk: err = %v, want ErrAuth", err)
	}
}

// TestRedirectedFrameFails: a frame a sealed for b, sent to c (which has
// its own session with a, even under the same index numbers), fails.
func TestRedirectedFrameFails(t *testing.T) {
	a, b, c := statics(crypto.AES256GCM, nil)
	now := time.Now()
	ab, _ := handshake(t, a, b, 5, 7, now)
	_, ca := handshake(t, a, c, 6, 7, now)
	f, _ := ab.Seal(nil, relayframe.TypeData, []byte("for b"))
	h, _, _ := relayframe.ParseHeader(f)
	if _, err := ca.Open(nil, h, f); !errors.Is(err, crypto.ErrAuth) {
		t.Fatalf("c opened b's frame: err = %v", err)
	}
}

// TestClockSetBack: two "restarts" of relay a, the second with the clock
// set back an hour and the same counters from 0, never reuse a (key,
// nonce) pair: each restart's handshake gives new keys. The relay's
// frames repeat neither header nor ciphertext across them.
func TestClockSetBack(t *testing.T) {
	a, b, _ := statics(crypto.AES256GCM, nil)
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	seen := map[string]bool{}     // ciphertexts of equal plaintexts
	nonces := map[string]string{} // nonce (header) -> ciphertext
	for run, now := range []time.Time{clock, clock.Add(-time.Hour)} {
		sa, sb := handshake(t, a, b, 1, 1, now) // same indexes both times
		for i := 0; i < 100; i++ {
			f, _ := sa.Seal(nil, relayframe.TypeData, []byte("same body every time"))
			hdr := string(f[:relayframe.HeaderLen])
			if prev, ok := nonces[hdr]; ok && prev == string(f) {
				t.Fatalf("run %d frame %d: a frame repeats whole", run, i)
			}
			nonces[hdr] = string(f)
			if seen[string(f[relayframe.HeaderLen:])] {
				t.Fatalf("run %d frame %d: ciphertext repeats: same key and nonce", run, i)
			}
			seen[string(f[relayframe.HeaderLen:])] = true
			h, _, _ := relayframe.ParseHeader(f)
			if _, err := sb.Open(nil, h, f); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(nonces) != 100 {
		t.Fatalf("%d distinct headers over two runs of 100 frames, want 100 (counters restart)", len(nonces))
	}
}

func TestSessionLimits(t *testing.T) {
	a, b, _ := statics(crypto.ChaCha20Poly1305, nil)
	now := time.Unix(5000, 0)
	sa, sb := handshake(t, a, b, 1, 2, now)
	if sa.NeedsRekey(now.Add(crypto.RekeyAfter-time.Second)) || !sa.NeedsRekey(now.Add(crypto.RekeyAfter)) {
		t.Error("initiator rekey time")
	}
	if sb.NeedsRekey(now.Add(crypto.RekeyAfter)) || !sb.NeedsRekey(now.Add(crypto.RekeyAfter+crypto.ResponderSlack)) {
		t.Error("responder rekey time")
	}
	if sa.Expired(now.Add(crypto.RejectAfter-time.Second)) || !sa.Expired(now.Add(crypto.RejectAfter)) {
		t.Error("expiry")
	}
	h := relayframe.Header{Type: relayframe.TypeData, Index: 2, Seq: crypto.RejectAfterFrames}
	if _, err := sb.Open(nil, h, make([]byte, 40)); !errors.Is(err, crypto.ErrReplay) {
		t.Errorf("counter past the limit: err = %v", err)
	}
}

func TestKeys(t *testing.T) {
	k, err := crypto.GenerateKey(&streamRand{seed: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	back, err := crypto.ParsePrivateKey(k.String() + "\n")
	if err != nil || back != k {
		t.Fatalf("private key round trip: %v", err)
	}
	pub, err := crypto.ParsePublicKey(k.Public().String())
	if err != nil || pub != k.Public() {
		t.Fatalf("public key round trip: %v", err)
	}
	for _, bad := range []string{"", "not base64!", "AAAA", k.String()[:40], "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="} {
		if _, err := crypto.ParsePublicKey(bad); err == nil {
			t.Errorf("accepted public key %q", bad)
		}
	}
}

// FuzzHandshake: no initiation or response message makes the handshake
// panic, and none authenticates unless it is the real one.
func FuzzHandshake(f *testing.F) {
	a := &crypto.Static{Key: testKey("a"), Cipher: crypto.AES256GCM, Rand: &streamRand{seed: []byte("f")}}
	b := &crypto.Static{Key: testKey("b"), Cipher: crypto.AES256GCM, Rand: &streamRand{seed: []byte("g")}}
	_, m1, _ := a.Initiate(b.Key.Public(), 3)
	f.Add(m1)
	f.Add(make([]byte, relayframe.ResponseLen))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		if req, err := b.ReadInit(msg); err == nil {
			if req.Peer != a.Key.Public() {
				t.Fatalf("an initiation from an unknown key authenticated")
			}
		}
		in, _, err := a.Initiate(b.Key.Public(), 4)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := in.Finish(msg, time.Now()); err == nil {
			t.Fatal("a made-up response authenticated")
		}
	})
}
