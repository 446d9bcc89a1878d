package relay

import "github.com/mcasttools/mcast/internal/relay/config"

// waitingFor decides what a relay does when its sockets could not be
// opened at start: it returns the interfaces it waits for (those marked
// `interface NAME wait` that are missing or down, as a Docker bridge before
// its network is created), or nil when it must refuse to start instead
// (every interface is up, so the failure is another one, or an interface
// not marked wait is missing or down). up reports whether an interface
// exists and is up.
func waitingFor(cfg *config.Config, up func(name string) bool) []string {
	absent := absentIfaces(cfg, up)
	for _, name := range absent {
		if !cfg.Waits(name) {
			return nil
		}
	}
	return absent
}

// absentIfaces returns the interfaces of cfg that are missing or down, in
// the config's order.
func absentIfaces(cfg *config.Config, up func(name string) bool) []string {
	var absent []string
	for _, name := range ifaceNames(cfg) {
		if !up(name) {
			absent = append(absent, name)
		}
	}
	return absent
}
