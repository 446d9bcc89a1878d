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
	"github.com/prometheus/client_golang/prometheus"
)

// handshakeLoad is the number of initiations (with a good mac1) in one
// second above which the relay is under load until the end of the next
// second. A mesh's peers send at most one every handshakeRetry each.
const handshakeLoad = 100

// Under load, the initiations with a valid mac2 from one source address
// get public-key work at most sourceInits times a second (a peer retries
// once every handshakeRetry), so that a host that does get its cookies
// cannot take all of it; the sources remembered are bounded (cleared when
// full).
const (
	sourceInits = 10
	maxSources  = 4096
)

// handshakeGuard holds the mac1 key's owner and the load and cookie state.
type handshakeGuard struct {
	self    crypto.PublicKey
	cookies *crypto.Cookies

	mu          sync.Mutex
	window      int64 // unix second being counted
	n           int   // initiations counted in it
	loadedUntil int64 // the relay is under load while the unix second is below this
	sources     map[netip.Addr]*bucket
}

func (g *handshakeGuard) init(self crypto.PublicKey, rng io.Reader) {
	g.self, g.cookies = self, crypto.NewCookies(self, rng)
	g.sources = map[netip.Addr]*bucket{}
}

// allowSource takes one of src's initiations under load from its bucket.
func (g *handshakeGuard) allowSource(src netip.Addr, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.sources[src]
	if b == nil {
		if len(g.sources) >= maxSources {
			clear(g.sources)
		}
		b = &bucket{}
		g.sources[src] = b
	}
	return b.Allow(sourceInits, now)
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
	if h.Type != relayframe.TypeInit || !g.count(now) {
		return true
	}
	if g.cookies.CheckMAC2(hs, from, now) {
		if g.allowSource(from.Addr().Unmap(), now) {
			return true
		}
		r.stats.drop(DropHandshakeRate)
		return false
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

// HandshakeStatus counts the handshake work of a relay (Status). The
// initiations dropped for a bad mac1, and those refused under load, are
// the drop reasons handshake-mac and handshake-load.
type HandshakeStatus struct {
	// InitiationsRead counts the initiations given public-key work.
	InitiationsRead uint64 `json:"initiations_read"`
	// CookieRepliesSent counts the initiations answered with a cookie
	// reply under load; CookieRepliesReceived the cookie replies of peers
	// under load this relay read (its next initiation carries mac2).
	CookieRepliesSent     uint64 `json:"cookie_replies_sent"`
	CookieRepliesReceived uint64 `json:"cookie_replies_received"`
	// UnderLoad: more than the threshold of initiations arrived in the
	// last second or the one before.
	UnderLoad bool `json:"under_load"`
}

func (r *Relay) handshakeStatus(now time.Time) HandshakeStatus {
	r.hs.mu.Lock()
	under := now.Unix() < r.hs.loadedUntil
	r.hs.mu.Unlock()
	return HandshakeStatus{InitiationsRead: r.stats.initsRead.Load(), CookieRepliesSent: r.stats.cookieReplies.Load(),
		CookieRepliesReceived: r.stats.cookiesReceived.Load(), UnderLoad: under}
}

var (
	descInitsRead     = prometheus.NewDesc("mcast_relay_handshake_initiations_read_total", "Handshake initiations given public-key work (past mac1, and past mac2 under load).", nil, nil)
	descCookieReplies = prometheus.NewDesc("mcast_relay_cookie_replies_total", "Cookie replies to initiations under load: sent by this relay, or received from a peer and read.", []string{"direction"}, nil)
	descUnderLoad     = prometheus.NewDesc("mcast_relay_handshake_under_load", "1 while more initiations arrive than the relay answers without cookies.", nil, nil)

	handshakeDescs = []*prometheus.Desc{descInitsRead, descCookieReplies, descUnderLoad}
)

func collectHandshakes(ch chan<- prometheus.Metric, h HandshakeStatus) {
	ch <- prometheus.MustNewConstMetric(descInitsRead, prometheus.CounterValue, float64(h.InitiationsRead))
	ch <- prometheus.MustNewConstMetric(descCookieReplies, prometheus.CounterValue, float64(h.CookieRepliesSent), "sent")
	ch <- prometheus.MustNewConstMetric(descCookieReplies, prometheus.CounterValue, float64(h.CookieRepliesReceived), "received")
	under := 0.0
	if h.UnderLoad {
		under = 1
	}
	ch <- prometheus.MustNewConstMetric(descUnderLoad, prometheus.GaugeValue, under)
}
