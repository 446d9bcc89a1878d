package relay

// Peers authorised by the mesh CA: a peer line with `cert FILE` takes the
// peer's key and LAN prefixes from a certificate the relay checks against
// the configured CA key, its validity and the revocation list, at start,
// on every reload and, for expiry, on every tick.

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"time"

	"github.com/mcasttools/mcast/internal/relay/cert"
	"github.com/mcasttools/mcast/internal/relay/config"
)

// withCerts returns cfg with the certified peers' keys and prefixes filled
// in, and without the peers whose certificate is refused, named with the
// reason in refused. It fails for a CA key or revocation list that cannot
// be read.
func withCerts(cfg *config.Config, now time.Time) (*config.Config, map[string]string, error) {
	if !slices.ContainsFunc(cfg.Peers, func(p config.Peer) bool { return p.CertFile != "" }) {
		return cfg, nil, nil
	}
	ca, err := cert.ParseCAKey(cfg.CA)
	if err != nil {
		return nil, nil, fmt.Errorf("ca: %w", err)
	}
	revoked, err := cert.ParseRevoked(cfg.Revoked)
	if err != nil {
		return nil, nil, fmt.Errorf("revocation list %s: %w", cfg.RevokedFile, err)
	}
	out := *cfg
	out.Peers = nil
	refused := map[string]string{}
	keys := map[[32]byte]string{}
	for _, p := range cfg.Peers {
		if p.CertFile == "" {
			out.Peers = append(out.Peers, p)
			keys[p.Key] = p.Name
			continue
		}
		c, err := checkCert(p, ca, revoked, now)
		if err == nil {
			if other, ok := keys[c.Key]; ok {
				err = fmt.Errorf("its certificate has the key of peer %s", other)
			}
		}
		if err != nil {
			refused[p.Name] = err.Error()
			continue
		}
		p.Key, p.Allow, p.NotAfter = c.Key, c.Carried(), c.NotAfter
		keys[c.Key] = p.Name
		out.Peers = append(out.Peers, p)
	}
	return &out, refused, nil
}

// checkCert checks peer p's certificate.
func checkCert(p config.Peer, ca ed25519.PublicKey, revoked map[string]bool, now time.Time) (*cert.Cert, error) {
	c, err := cert.Parse(p.Cert)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", p.CertFile, err)
	}
	if err := c.Admit(ca, revoked, p.Name, now); err != nil {
		return nil, fmt.Errorf("%s: %w", p.CertFile, err)
	}
	if !slices.Contains(c.Underlay, p.Addr) {
		return nil, fmt.Errorf("certificate %s does not allow the address %s (it allows %v)", p.CertFile, p.Addr, c.Underlay)
	}
	return c, nil
}

// logRefused logs each refused peer and counts it.
func (r *Relay) logRefused(refused map[string]string) {
	for name, why := range refused {
		r.stats.refusedPeers.Add(1)
		r.log.Warn("peer refused", "peer", name, "reason", why)
	}
}

// expireCerts, on each tick, refuses the certified peers whose
// certificate expired: the configuration is applied again without them.
func (r *Relay) expireCerts(now time.Time) {
	r.mu.Lock()
	src := r.srcCfg
	expired := false
	for _, p := range r.cfg.Peers {
		expired = expired || !p.NotAfter.IsZero() && !now.Before(p.NotAfter)
	}
	r.mu.Unlock()
	if expired && src != nil {
		if err := r.Reload(src); err != nil {
			r.log.Warn("refusing peers whose certificate expired", "err", err)
		}
	}
}
