package relay

import (
	"slices"

	"github.com/mcasttools/mcast/internal/relay/config"
)

// An interface marked `interface NAME wait` (a Docker bridge, created after
// the relay starts and deleted with its network) is served while it is up:
// the relay carries between the interfaces that are, and opens its sockets
// again over the new set when such an interface appears or goes. An
// interface not so marked must be there: at start the relay refuses to
// start without it, and when it goes the relay carries nothing until it is
// back.

// absentIfaces returns the interfaces of cfg that are missing or down, in
// the config's order. up reports whether an interface can be served: it
// exists, is up, and has the addresses cfg needs.
func absentIfaces(cfg *config.Config, up func(name string) bool) []string {
	var absent []string
	for _, name := range ifaceNames(cfg) {
		if !up(name) {
			absent = append(absent, name)
		}
	}
	return absent
}

// onlyWaited reports whether absent names at least one interface and every
// one of them is marked wait: the relay then serves the others (or, with
// none up, waits) instead of refusing to start.
func onlyWaited(cfg *config.Config, absent []string) bool {
	for _, name := range absent {
		if !cfg.Waits(name) {
			return false
		}
	}
	return len(absent) > 0
}

// servedIfaces returns the interfaces of cfg that are not absent, in the
// config's order.
func servedIfaces(cfg *config.Config, absent []string) []string {
	var served []string
	for _, name := range ifaceNames(cfg) {
		if !slices.Contains(absent, name) {
			served = append(served, name)
		}
	}
	return served
}

// appeared reports whether an interface of cfg that is not served is up
// now: the relay then opens its sockets again to serve it too.
func appeared(cfg *config.Config, served []string, up func(name string) bool) bool {
	for _, name := range ifaceNames(cfg) {
		if !slices.Contains(served, name) && up(name) {
			return true
		}
	}
	return false
}
