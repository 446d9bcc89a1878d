package relay

// The responder's defence against handshake floods (the MACs and cookies
// of package crypto, after WireGuard's): a handshake message without the
// mac1 of this relay's public key is dropped before any public-key work;
// while the relay is under load (more than handshakeLoad initiations with
// a good mac1 in a second, and the second after), an initiation without a
// valid mac2 gets a cookie reply instead of X25519. A peer that really is
// at the address it sends from reads the cookie and puts mac2 on its next
// initiation (handshakeRetry later); a flood from forged addresses never
// sees its cookies.

import (
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mcasttools/mcast/internal/relay/crypto"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

// handshakeLoad is the number of initiations (with a good mac1) in one
// second above which the relay is under load until the end of the next
// second. A mesh's peers send at most one every handshakeRetry each.
const handshakeLoad = 100

// handshakeGuard holds the mac1 key's owner and the load and cookie state.
type handshakeGuard struct {
	self    crypto.PublicKey
	cookies *crypto.Cookies

	mu          sync.Mutex
	window      int64 // unix second being counted
	n           int   // initiations counted in it
	loadedUntil int64 // the relay is under load while the unix second is below this
}

func (g *handshakeGuard) init(self crypto.PublicKey, rng io.Reader) {
	g.self, g.cookies = self, crypto.NewCookies(self, rng)
}

// count counts an initiation at now and reports whether the relay is
// under load.
func (g *handshakeGuard) count(now time.Time) bool {
	sec := now.Unix()
	g.mu.Lock()
	defer g.mu.Unlock()
	if sec != g.window {
		g.window, g.n = sec, 0
	}
	g.n++
	if g.n > handshakeLoad {
		g.loadedUntil = sec + 2
	}
	return sec < g.loadedUntil
}

// admit decides whether the handshake message hs from from gets the
// expensive path: false when it was dropped or answered with a cookie
// reply (counted).
func (g *handshakeGuard) admit(r *Relay, from netip.AddrPort, h relayframe.Header, hs relayframe.Handshake, now time.Time) bool {
	if !crypto.CheckMAC1(hs, g.self) {
		r.stats.drop(DropHandshakeMAC)
		return false
	}
	if h.Type != relayframe.TypeInit || !g.count(now) || g.cookies.CheckMAC2(hs, from, now) {
		return true
	}
	r.stats.drop(DropHandshakeLoad)
	nonce, sealed, err := g.cookies.Reply(hs, from, now)
	if err != nil {
		r.log.Warn("answering an initiation under load", "err", err)
		return false
	}
	r.stats.cookieReplies.Add(1)
	r.sendControlTo(net.UDPAddrFromAddrPort(from), from.String(), relayframe.AppendCookieReply(nil, nonce, sealed))
	return false
}

// onCookieReply reads a cookie reply from the underlay: the peer at its
// source address was under load and refused this relay's initiation; the
// cookie goes on the next one.
func (r *Relay) onCookieReply(from netip.AddrPort, h relayframe.Header, body []byte, now time.Time) {
	nonce, sealed, err := relayframe.ParseCookieReply(h, body)
	if err != nil {
		r.stats.drop(DropMalformed)
		return
	}
	r.mu.Lock()
	p := r.byAddr(from.Addr().Unmap())
	r.mu.Unlock()
	if p == nil {
		r.stats.drop(DropWrongSource)
		return
	}
	r.smu.Lock()
	var pr *pendingRef
	for _, x := range r.pending {
		if x.p == p {
			pr = x
		}
	}
	if pr == nil {
		r.smu.Unlock()
		r.stats.drop(DropUnknownSession)
		return
	}
	cookie, err := crypto.OpenCookieReply(crypto.PublicKey(p.cfg.Key), pr.mac1, nonce, sealed)
	if err != nil {
		r.smu.Unlock()
		r.authFailed(p, from)
		return
	}
	p.cookie, p.cookieAt = cookie, now
	r.smu.Unlock()
	r.stats.cookiesReceived.Add(1)
}
