package relay

// Fleet membership on hashicorp/memberlist: a relay with `gossip-key`
// gossips (SWIM) on its gossip endpoint, joins the `join` seeds, and takes
// every member that memberlist reports alive, and whose metadata passes
// the checks of package members, as a peer beside the static peer lines.
// A member memberlist declares dead or left stops being a peer: its
// sessions go and no data is sent to it. Interest stays on the data plane
// (the hellos of the sessions), never in gossip broadcasts.

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/mcasttools/mcast/internal/relay/cert"
	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/relay/members"
)

// ErrFleetConfig wraps New's errors in the fleet settings (a gossip key or
// certificate that cannot be used): configuration errors.
var ErrFleetConfig = errors.New("fleet configuration")

// Join retry bounds: the first retry comes after joinFirst, each next one
// after twice as long, at most joinMax; a relay that has joined checks
// every aloneEvery whether it is alone again (every other member gone),
// and then joins its seeds again.
const (
	joinFirst  = 250 * time.Millisecond
	joinMax    = 30 * time.Second
	aloneEvery = 5 * time.Second
)

// fleet is a relay's membership: memberlist and what it has reported.
type fleet struct {
	r   *Relay
	cfg *config.Config
	key []byte
	// leaving is the metadata this relay gossips last, as it stops.
	leaving []byte
	dirty   chan struct{} // the members changed (apply); nil: apply at once
	trust   members.Trust
	meta    atomic.Pointer[[]byte] // this relay's metadata
	ml      *memberlist.Memberlist

	mu    sync.Mutex // guards table
	table *members.Table

	joined                                         atomic.Bool // a join reached a seed
	joining                                        atomic.Bool // a join from alone is under way: a conflict on this name is this relay's
	selfRefused                                    atomic.Bool // another relay has this name: gossip stopped
	joinFailures, refused, decryptFails, conflicts atomic.Uint64
	lim                                            logLimiter
	counts                                         gossipCounts
}

// newFleet checks the fleet settings of cfg; pub is this relay's public
// key. Nil without gossip-key.
func newFleet(r *Relay, cfg *config.Config, pub [32]byte) (*fleet, error) {
	if !cfg.Fleet() {
		return nil, nil
	}
	key, err := config.ParseGossipKey(cfg.GossipKey)
	if err != nil {
		return nil, fmt.Errorf("%w: gossip key file %s: %w", ErrFleetConfig, cfg.GossipKeyFile, err)
	}
	f := &fleet{r: r, cfg: cfg, key: key, table: members.NewTable(),
		trust: members.Trust{Self: cfg.Node, Listen: cfg.Listen, LAN: cfg.GossipLAN, Key: pub}}
	m := members.Meta{Addr: cfg.Listen, LAN: cfg.GossipLAN, Key: pub}
	if cfg.CA != "" {
		ca, err := cert.ParseCAKey(cfg.CA)
		if err != nil {
			return nil, fmt.Errorf("%w: ca: %w", ErrFleetConfig, err)
		}
		f.trust.CA = ed25519.PublicKey(ca)
		if f.trust.Revoked, err = cert.ParseRevoked(cfg.Revoked); err != nil {
			return nil, fmt.Errorf("%w: revocation list %s: %w", ErrFleetConfig, cfg.RevokedFile, err)
		}
		if cfg.GossipCertFile == "" {
			return nil, fmt.Errorf("%w: the mesh has a ca: give this relay's certificate with gossip-cert FILE (mcast relay ca sign)", ErrFleetConfig)
		}
	}
	if cfg.GossipCertFile != "" {
		c, err := cert.Parse(cfg.GossipCert)
		if err != nil {
			return nil, fmt.Errorf("%w: gossip-cert %s: %w", ErrFleetConfig, cfg.GossipCertFile, err)
		}
		if c.Name != cfg.Node || c.Key != pub {
			return nil, fmt.Errorf("%w: gossip-cert %s is for %q and another key, not this relay %q", ErrFleetConfig, cfg.GossipCertFile, c.Name, cfg.Node)
		}
		b, _ := c.Encode()
		m = members.Meta{Addr: cfg.Listen, LAN: cfg.GossipLAN, Kind: members.KindCert, Cert: b}
		self := f.trust
		self.Key = [32]byte{} // its own key, which Check refuses in others
		if _, err := self.Check(cfg.Node, mustMeta(m), r.clock()); err != nil {
			return nil, fmt.Errorf("%w: gossip-cert %s: %w", ErrFleetConfig, cfg.GossipCertFile, err)
		}
	}
	b, err := m.Encode()
	if err != nil {
		return nil, fmt.Errorf("%w: node metadata: %w", ErrFleetConfig, err)
	}
	f.meta.Store(&b)
	m.Leaving = true
	if f.leaving, err = m.Encode(); err != nil {
		return nil, fmt.Errorf("%w: node metadata: %w", ErrFleetConfig, err)
	}
	return f, nil
}

// newGossipLogger is a logger for memberlist that writes to g.
func newGossipLogger(g *gossipLog) *log.Logger { return log.New(g, "", 0) }

func mustMeta(m members.Meta) []byte {
	b, _ := m.Encode()
	return b
}

// start opens the gossip endpoint and starts joining.
func (f *fleet) start(ctx context.Context) error {
	cfg := f.cfg
	tm := cfg.Timing()
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Node
	g := cfg.GossipAddr()
	mc.BindAddr, mc.BindPort = g.Addr().String(), int(g.Port())
	mc.AdvertiseAddr, mc.AdvertisePort = g.Addr().String(), int(g.Port())
	mc.ProbeInterval, mc.ProbeTimeout, mc.SuspicionMult = tm.ProbeInterval, tm.ProbeTimeout, tm.SuspicionMult
	mc.SuspicionMaxTimeoutMult = config.SuspicionMaxMult
	mc.GossipInterval, mc.GossipNodes, mc.PushPullInterval = tm.GossipInterval, tm.GossipNodes, tm.PushPull
	mc.SecretKey = f.key
	mc.GossipVerifyIncoming, mc.GossipVerifyOutgoing = true, true
	mc.DeadNodeReclaimTime = joinMax // a member back at another address after that is taken
	mc.Delegate, mc.Events, mc.Alive, mc.Merge, mc.Conflict = f, f, f, f, f
	f.dirty = make(chan struct{}, 1)
	gl := &gossipLog{f: f}
	mc.Logger = newGossipLogger(gl)
	tr, err := newCountingTransport(mc.BindAddr, mc.BindPort, &f.counts, gl)
	if err != nil {
		return fmt.Errorf("opening the gossip endpoint %s: %w", g, err)
	}
	mc.Transport = tr
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = tr.Shutdown()
		return fmt.Errorf("starting the gossip on %s: %w", g, err)
	}
	f.ml = ml
	f.r.log.Info("gossip started", "gossip", g.String(), "seeds", len(cfg.Join), "probe_interval", tm.ProbeInterval.String(),
		"detection_bound", config.DetectionBound(tm, 32).String()+" at 32 members")
	go f.joinLoop(ctx)
	go f.applyLoop(ctx)
	return nil
}

// stop leaves the fleet and closes the gossip endpoint. Its last metadata
// says it is leaving, so that the others record it left, not failed
// (memberlist's leave event does not tell them apart).
func (f *fleet) stop() {
	if f.ml == nil {
		return
	}
	if !f.selfRefused.Load() {
		f.meta.Store(&f.leaving)
		if err := f.ml.UpdateNode(500 * time.Millisecond); err != nil {
			f.r.log.Info("telling the fleet this relay leaves", "err", err)
		}
		if err := f.ml.Leave(time.Second); err != nil {
			f.r.log.Info("leaving the fleet", "err", err)
		}
	}
	_ = f.ml.Shutdown()
}

// joinLoop joins the seeds, resolving names at each attempt, with backoff,
// until one answers; then, every aloneEvery, joins again if alone.
func (f *fleet) joinLoop(ctx context.Context) {
	if len(f.cfg.Join) == 0 {
		return
	}
	wait := joinFirst
	for ctx.Err() == nil && !f.selfRefused.Load() {
		if f.joined.Load() && f.ml.NumMembers() > 1 {
			wait = aloneEvery
		} else if f.joinOnce(ctx) {
			if !f.joined.Swap(true) {
				f.r.log.Info("joined the fleet", "members", f.ml.NumMembers())
			}
			wait = aloneEvery
		} else if !f.joined.Load() && wait == joinFirst {
			f.r.log.Warn("no seed answered: the relay runs meanwhile (static peers carry) and keeps trying", "seeds", fmt.Sprint(f.cfg.Join))
		}
		jitter := time.Duration(rand.Int64N(int64(wait)/4 + 1))
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait + jitter):
		}
		if !f.joined.Load() || f.ml.NumMembers() <= 1 {
			wait = min(wait*2, joinMax)
		}
	}
}

// joinOnce resolves the seeds and joins those it can; it counts and logs
// (at a bounded rate) each seed that could not be resolved and an attempt
// that reached none.
func (f *fleet) joinOnce(ctx context.Context) bool {
	self := f.cfg.GossipAddr()
	var addrs []string
	for _, s := range f.cfg.Join {
		host, port := config.SeedHostPort(s, self.Port())
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ips, err := net.DefaultResolver.LookupNetIP(rctx, "ip", host)
		cancel()
		if err != nil {
			f.joinFailures.Add(1)
			f.logLimited("cannot resolve a join seed: retrying with backoff", s, "seed", s, "err", err.Error())
			continue
		}
		for _, ip := range ips {
			ap := netip.AddrPortFrom(ip.Unmap(), port)
			if ap != self && ap.Addr().Is4() == self.Addr().Is4() {
				addrs = append(addrs, net.JoinHostPort(ap.Addr().String(), strconv.Itoa(int(ap.Port()))))
			}
		}
	}
	if len(addrs) == 0 {
		return false
	}
	f.joining.Store(f.ml.NumMembers() <= 1)
	n, err := f.ml.Join(addrs)
	f.joining.Store(false)
	if n == 0 {
		f.joinFailures.Add(1)
		msg := "no seed answered"
		if err != nil {
			msg = err.Error()
		}
		f.logLimited("joining the fleet failed: retrying with backoff", "join", "seeds", fmt.Sprint(addrs), "err", msg)
		return false
	}
	return true
}

// logLimited writes a warning at most once per logEvery per kind and
// subject.
func (f *fleet) logLimited(msg, subject string, args ...any) {
	held, ok := f.lim.allow(logKey{msg: msg, node: config.NodeID(subject)}, time.Now())
	if !ok {
		return
	}
	if held > 0 {
		args = append(args, "held_back", held)
	}
	f.r.log.Warn(msg, args...)
}

// check checks a member's metadata, and that no other live member has
// its key.
func (f *fleet) check(n *memberlist.Node) (config.Peer, error) {
	p, err := f.trust.Check(n.Name, n.Meta, f.r.clock())
	f.mu.Lock()
	if other := f.table.KeyOwner(p.Key, n.Name); err == nil && other != "" {
		err = fmt.Errorf("member %q has the public key of member %q: %w", n.Name, other, members.ErrRefused)
	}
	f.mu.Unlock()
	return p, err
}

// refuse counts and logs (at a bounded rate) a refused member.
func (f *fleet) refuse(n *memberlist.Node, err error) {
	f.refused.Add(1)
	f.mu.Lock()
	f.table.Refused(n.Name, err.Error(), time.Now())
	f.mu.Unlock()
	f.logLimited("member refused", n.Name, "member", n.Name, "gossip", n.Address(), "reason", err.Error())
}

// admit makes n a member and applies the change to the peer table.
func (f *fleet) admit(n *memberlist.Node) {
	if n.Name == f.cfg.Node {
		return
	}
	p, err := f.check(n)
	if err != nil {
		f.refuse(n, err)
		return
	}
	if m, _ := members.Decode(n.Meta); m != nil && m.Leaving {
		f.gone(n, members.Left)
		return
	}
	f.mu.Lock()
	changed, err := f.table.Admit(n.Name, n.Address(), p, time.Now())
	f.mu.Unlock()
	if err != nil {
		f.refuse(n, err)
		return
	}
	f.joined.Store(true) // in a fleet, whoever joined whom
	if changed {
		f.r.log.Info("member alive", "member", n.Name, "gossip", n.Address(), "address", p.Addr.String())
		f.apply()
	}
}

// applyEvery is the least interval between two applications of the
// members to the peer table: each one rebuilds the peer and route tables
// (O(N)), so a burst of membership events (a fleet starting) coalesces.
const applyEvery = 50 * time.Millisecond

// apply has the members applied: at once when no apply loop runs (tests),
// else by applyLoop, at most once per applyEvery.
func (f *fleet) apply() {
	if f.dirty == nil {
		f.applyNow()
		return
	}
	select {
	case f.dirty <- struct{}{}:
	default:
	}
}

// applyLoop applies the members when they change, then waits applyEvery.
func (f *fleet) applyLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-f.dirty:
		}
		f.applyNow()
		select {
		case <-ctx.Done():
			return
		case <-time.After(applyEvery):
		}
	}
}

// applyNow makes the relay's peers the static peers and the live members.
func (f *fleet) applyNow() {
	f.mu.Lock()
	joined := f.table.Peers()
	f.mu.Unlock()
	f.r.applyMembers(joined)
}

// gone makes member n dead or left, no longer a peer.
func (f *fleet) gone(n *memberlist.Node, st members.State) {
	f.mu.Lock()
	gone := f.table.Gone(n.Name, st, time.Now())
	f.mu.Unlock()
	if gone {
		f.r.log.Info("member "+string(st)+": no longer a peer", "member", n.Name, "gossip", n.Address())
		f.apply()
	}
}

// suspect marks member name suspect: this relay's probes of it failed
// (memberlist logs it; its suspect state has no event of its own).
func (f *fleet) suspect(name string) {
	f.mu.Lock()
	f.table.Suspect(name, time.Now())
	f.mu.Unlock()
}
