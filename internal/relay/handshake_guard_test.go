package relay

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// garbageInit is an initiation frame of random bytes; with key non-nil
// it carries a good mac1 for that key.
func garbageInit(i int, key *crypto.PublicKey) []byte {
	msg := bytes.Repeat([]byte{byte(i), byte(i >> 8), 7}, relayframe.InitLen/3+1)[:relayframe.InitLen]
	f := relayframe.AppendInit(nil, msg)
	if key != nil {
		return crypto.AppendMACs(f, relayframe.HeaderLen, *key, nil)
	}
	return append(f, bytes.Repeat([]byte{byte(i)}, 2*relayframe.MACLen)...)
}

// TestGarbageInitiationsCostNoX25519: initiations without this relay's
// mac1 (random MACs, or the mac1 of another key) are dropped and counted
// before any public-key work, far faster than the X25519 they would cost;
// the peer's own initiations still get through.
func TestGarbageInitiationsCostNoX25519(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	a, fa := clockRelay(t, "a", "b", &now)
	b, fb := clockRelay(t, "b", "a", &now)
	other := testPriv("other").Public()
	const n = 4000
	frames := make([][]byte, n)
	for i := range frames {
		if i%2 == 0 {
			frames[i] = garbageInit(i, nil)
		} else {
			frames[i] = garbageInit(i, &other)
		}
	}
	w := &recvWork{}
	from := netip.MustParseAddrPort("10.9.9.9:4000")
	start := time.Now()
	for _, f := range frames {
		b.onFrame(w, from, f, now)
	}
	flood := time.Since(start)
	if got := b.stats.initsRead.Load(); got != 0 {
		t.Fatalf("%d garbage initiations got public-key work", got)
	}
	if got := b.stats.drops[DropHandshakeMAC].Load(); got != n {
		t.Fatalf("%d handshake-mac drops, want %d", got, n)
	}
	if len(fb.frames) != 0 {
		t.Fatalf("answered garbage: %d batches", len(fb.frames))
	}
	// What the same number of initiations costs once past mac1: X25519.
	x := &crypto.Static{Key: testPriv("x"), Cipher: crypto.AES256GCM}
	_, m1, err := x.Initiate(testPriv("b").Public(), 1)
	if err != nil {
		t.Fatal(err)
	}
	const m = 200
	start = time.Now()
	for range m {
		b.static.ReadInit(m1)
	}
	perRead := time.Since(start) / m
	perGarbage := flood / n
	t.Logf("per garbage initiation %v, per ReadInit %v", perGarbage, perRead)
	if perGarbage*5 > perRead {
		t.Errorf("a garbage initiation costs %v, a fifth of ReadInit's %v or more", perGarbage, perRead)
	}

	a.tick(context.Background(), now, true)
	settle(t, a, b, fa, fb, now)
	if cur(a, "b") == nil || b.stats.initsRead.Load() == 0 {
		t.Fatalf("no session after the flood: %v, %d initiations read", cur(a, "b"), b.stats.initsRead.Load())
	}
}

// cookieFrames returns the cookie replies in f's frames and to whom.
func cookieFrames(f *fakeIO) (n int, to map[string]int) {
	to = map[string]int{}
	for _, batch := range f.frames {
		for _, msg := range batch {
			for _, b := range msg.Buffers {
				if h, _, err := relayframe.ParseHeader(b); err == nil && h.Type == relayframe.TypeCookie {
					n++
					to[msg.Addr.(*net.UDPAddr).String()]++
				}
			}
		}
	}
	return n, to
}

// TestCookiesUnderLoad: a flood of initiations with a good mac1 from a
// forged address puts b under load: past handshakeLoad a second, each
// gets a cookie reply (to the forged address) and no public-key work.
// a's initiation then gets a cookie reply too; a puts mac2 on its retry
// and gets its session although b is still under load.
func TestCookiesUnderLoad(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	a, fa := clockRelay(t, "a", "b", &now)
	b, fb := clockRelay(t, "b", "a", &now)
	bpub := testPriv("b").Public()
	const n = 600
	w := &recvWork{}
	forged := netip.MustParseAddrPort("10.9.9.9:4000")
	for i := range n {
		b.onFrame(w, forged, garbageInit(i, &bpub), now)
	}
	if got := b.stats.initsRead.Load(); got != handshakeLoad {
		t.Errorf("%d initiations read, want the first %d", got, handshakeLoad)
	}
	under := uint64(n - handshakeLoad)
	if got := b.stats.drops[DropHandshakeLoad].Load(); got != under {
		t.Errorf("%d handshake-load drops, want %d", got, under)
	}
	if got := b.stats.cookieReplies.Load(); got != under {
		t.Errorf("%d cookie replies counted, want %d", got, under)
	}
	if got, to := cookieFrames(fb); got != int(under) || to[forged.String()] != int(under) {
		t.Errorf("%d cookie replies sent (%v), want %d to %s", got, to, under, forged)
	}
	fb.frames = nil

	// a's first initiation: no mac2, so a cookie reply.
	a.tick(context.Background(), now, true)
	deliver(fa, b, "10.0.1.10:7474", now)
	if got, to := cookieFrames(fb); got != 1 || to["10.0.1.10:7474"] != 1 {
		t.Fatalf("a's initiation under load: %d cookie replies %v", got, to)
	}
	read := b.stats.initsRead.Load()
	deliver(fb, a, "10.0.2.10:7474", now)
	if a.stats.cookiesReceived.Load() != 1 || cur(a, "b") != nil {
		t.Fatalf("a read %d cookies", a.stats.cookiesReceived.Load())
	}
	if b.stats.initsRead.Load() != read {
		t.Fatal("an initiation without mac2 under load got public-key work")
	}

	// A retry later, b still under load: mac2 opens the expensive path.
	now = now.Add(handshakeRetry)
	b.onFrame(w, forged, garbageInit(1, &bpub), now) // the flood goes on
	if !b.hs.count(now) {
		t.Fatal("b is no longer under load")
	}
	fb.frames = nil
	a.tick(context.Background(), now, false)
	settle(t, a, b, fa, fb, now)
	if cur(a, "b") == nil || cur(b, "a") == nil {
		t.Fatal("no session under load with the cookie")
	}

	st := b.Status()
	if h := st.Handshakes; !h.UnderLoad || h.CookieRepliesSent != under+2 || h.InitiationsRead != handshakeLoad+1 || st.Drops[DropHandshakeLoad] != under+2 {
		t.Errorf("status %+v, drops %v", h, st.Drops)
	}
	if h := a.Status().Handshakes; h.CookieRepliesReceived != 1 || h.UnderLoad {
		t.Errorf("a's status %+v", h)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(b.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&text, mf)
	}
	for _, want := range []string{
		fmt.Sprintf(`mcast_relay_cookie_replies_total{direction="sent"} %d`, under+2),
		fmt.Sprintf(`mcast_relay_handshake_initiations_read_total %d`, handshakeLoad+1),
		`mcast_relay_handshake_under_load 1`,
		fmt.Sprintf(`mcast_relay_dropped_total{reason="handshake-load"} %d`, under+2),
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("no %s in the metrics", want)
		}
	}
}

// TestForgedCookieReply: a cookie reply a did not ask for, or not sealed
// to its initiation, is refused and leaves no cookie.
func TestForgedCookieReply(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	a, fa := clockRelay(t, "a", "b", &now)
	w := &recvWork{}
	fake := relayframe.AppendCookieReply(nil, make([]byte, relayframe.CookieNonceLen), make([]byte, relayframe.CookieLen+16))
	a.onFrame(w, netip.MustParseAddrPort("10.0.2.10:7474"), fake, now) // nothing pending
	if a.stats.drops[DropUnknownSession].Load() != 1 {
		t.Fatal("unasked cookie reply not counted")
	}
	a.tick(context.Background(), now, true)
	fa.frames = nil
	a.onFrame(w, netip.MustParseAddrPort("10.9.9.9:7474"), fake, now)
	a.onFrame(w, netip.MustParseAddrPort("10.0.2.10:7474"), fake, now)
	a.onFrame(w, netip.MustParseAddrPort("10.0.2.10:7474"), fake[:len(fake)-1], now)
	if p := a.peers[config.NodeID("b")]; p.cookie != nil || a.stats.cookiesReceived.Load() != 0 {
		t.Fatal("a forged cookie reply was taken")
	}
	if a.stats.drops[DropWrongSource].Load() != 1 || a.stats.drops[DropAuth].Load() != 1 || a.stats.drops[DropMalformed].Load() != 1 {
		t.Fatalf("drops %d wrong-source %d auth %d malformed", a.stats.drops[DropWrongSource].Load(), a.stats.drops[DropAuth].Load(), a.stats.drops[DropMalformed].Load())
	}
}

func TestHandshakeLoadRule(t *testing.T) {
	var g handshakeGuard
	t0 := time.Unix(500, 0)
	for i := range handshakeLoad {
		if g.count(t0.Add(time.Duration(i) * time.Millisecond)) {
			t.Fatalf("under load after %d initiations", i+1)
		}
	}
	if !g.count(t0.Add(999 * time.Millisecond)) {
		t.Fatal("not under load past the threshold")
	}
	if !g.count(t0.Add(1500 * time.Millisecond)) {
		t.Fatal("not under load in the next second")
	}
	if g.count(t0.Add(2 * time.Second)) {
		t.Fatal("still under load two quiet seconds on")
	}
}

// TestCookieHolderRateUnderLoad: under load, a host that does read its
// cookies and floods initiations with a valid mac2 gets public-key work
// for a few of them a second only (handshake-rate).
func TestCookieHolderRateUnderLoad(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	b, fb := clockRelay(t, "b", "a", &now)
	bpub := testPriv("b").Public()
	w := &recvWork{}
	src := netip.MustParseAddrPort("10.9.9.9:4000")
	var last []byte
	for i := range handshakeLoad + 1 {
		last = garbageInit(i, &bpub)
		b.onFrame(w, src, last, now)
	}
	// The cookie of the last reply, sealed to the last initiation's mac1.
	batch := fb.frames[len(fb.frames)-1]
	h, body, _ := relayframe.ParseHeader(batch[len(batch)-1].Buffers[0])
	nonce, sealed, err := relayframe.ParseCookieReply(h, body)
	if err != nil {
		t.Fatal(err)
	}
	mac1 := last[len(last)-2*relayframe.MACLen : len(last)-relayframe.MACLen]
	cookie, err := crypto.OpenCookieReply(bpub, mac1, nonce, sealed)
	if err != nil {
		t.Fatal(err)
	}
	read := b.stats.initsRead.Load()
	msg := bytes.Repeat([]byte{9}, relayframe.InitLen)
	const n = 200
	for range n {
		b.onFrame(w, src, crypto.AppendMACs(relayframe.AppendInit(nil, msg), relayframe.HeaderLen, bpub, cookie), now)
	}
	got := b.stats.initsRead.Load() - read
	if got == 0 || got > sourceInits/10+1 {
		t.Errorf("%d of %d initiations with mac2 from one source read at once", got, n)
	}
	if d := b.stats.drops[DropHandshakeRate].Load(); d != n-got {
		t.Errorf("%d handshake-rate drops, want %d", d, n-got)
	}
	// A second later the source has its share again.
	now = now.Add(time.Second)
	b.onFrame(w, src, crypto.AppendMACs(relayframe.AppendInit(nil, msg), relayframe.HeaderLen, bpub, cookie), now)
	if b.stats.initsRead.Load() != read+got+1 {
		t.Error("the source's share did not come back")
	}
}
