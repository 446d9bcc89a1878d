package relay

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mcasttools/mcast/internal/relay/config"
)

// Reload applies a new configuration. The settings restartOnly names
// cannot change without a restart.
func (r *Relay) Reload(src *config.Config) error {
	cfg, refused, err := withCerts(src, r.clock())
	if err != nil {
		return err
	}
	r.mu.Lock()
	if err := restartOnly(r.cfg, cfg); err != nil {
		r.mu.Unlock()
		return err
	}
	if needs6(cfg) && r.link != nil && !r.link.has6() { // no link yet: the sockets open with cfg
		r.mu.Unlock()
		return errors.New("IPv6 groups added: restart the relay to open its IPv6 sockets")
	}
	r.srcCfg, r.refused, r.base = src, refused, cfg
	r.cfg = r.withMembers(cfg)
	r.setPeers(r.cfg)
	r.rebuild()
	r.mu.Unlock()
	r.reloads.Add(1)
	r.logRefused(refused)
	r.log.Info("reloaded", "peers", len(cfg.Peers), "groups", len(cfg.Groups), "broadcast_ports", len(cfg.BroadcastPorts))
	r.kickTick()
	return nil
}

// restartOnly names the first setting that a reload from old to cfg would
// change and that only a restart applies, or returns nil.
func restartOnly(old, cfg *config.Config) error {
	for _, f := range []struct {
		name     string
		from, to any
	}{
		{"node", old.Node, cfg.Node},
		{"listen", old.Listen, cfg.Listen},
		{"interface", old.Interface, cfg.Interface},
		{"interface", strings.Join(old.Interfaces, " "), strings.Join(cfg.Interfaces, " ")},
		{"key", old.KeyFile, cfg.KeyFile},
		{"private-key", old.PrivateKey, cfg.PrivateKey},
		{"cipher", old.Cipher, cfg.Cipher},
		{"source relay port", old.SourcePort, cfg.SourcePort},
		{"metrics", old.Metrics, cfg.Metrics},
		{"admin", old.Admin, cfg.Admin},
		{"join", strings.Join(old.Join, " "), strings.Join(cfg.Join, " ")},
		{"gossip", old.GossipAddr(), cfg.GossipAddr()},
		{"gossip-key", old.GossipKeyFile, cfg.GossipKeyFile},
		{"gossip-cert", old.GossipCertFile, cfg.GossipCertFile},
		{"gossip-lan", old.GossipLAN, cfg.GossipLAN},
		{"gossip timing", old.Timing(), cfg.Timing()},
	} {
		if f.from != f.to {
			return fmt.Errorf("%s changed from %q to %q: restart the relay for that", f.name, fmt.Sprint(f.from), fmt.Sprint(f.to))
		}
	}
	return nil
}

// needs6 reports whether cfg carries IPv6 groups, so that the relay opens
// its IPv6 sockets.
func needs6(cfg *config.Config) bool {
	if cfg.Auto {
		return true
	}
	for _, p := range cfg.Groups {
		if p.Addr().Is6() {
			return true
		}
	}
	// Every service has an IPv6 group.
	return len(cfg.Services) > 0
}
