package relay

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mcasttools/mcast/internal/relay/config"
)

// errNoneUp is openServed's error when every interface is marked wait and
// none is up: the relay starts and waits.
var errNoneUp = errors.New("no interface is up")

// openServed opens the relay's sockets on the interfaces of cfg that are
// ready (ifaceReady), leaving out those marked wait that are not (absent
// names them). It
// fails, as opening every interface does, when an interface not marked
// wait is missing or down, and when none is up.
func openServed(ctx context.Context, cfg *config.Config) (links []*osIO, absent []string, err error) {
	absent = absentIfaces(cfg, ifaceReady(cfg))
	if !onlyWaited(cfg, absent) {
		links, err = openAll(ctx, cfg) // its error names the interface
		return links, absent, err
	}
	served := servedIfaces(cfg, absent)
	if len(served) == 0 {
		return nil, absent, fmt.Errorf("%w: waiting for %s", errNoneUp, strings.Join(absent, ", "))
	}
	c := *cfg
	c.Interface, c.Interfaces = served[0], served
	links, err = openAll(ctx, &c)
	return links, absent, err
}

// ifaceReady returns whether an interface can be served with cfg: it
// exists, is up, and has an IPv4 address where cfg needs one (checkInterface).
func ifaceReady(cfg *config.Config) func(name string) bool {
	return func(name string) bool { return checkInterface(cfg, name) == nil }
}

// linkNames names the interfaces of links.
func linkNames(links []*osIO) []string {
	names := make([]string, len(links))
	for i, o := range links {
		names[i] = o.ifi.Name
	}
	return names
}

// goneIfaces names the interfaces of links that are gone.
func goneIfaces(links []*osIO) []string {
	var gone []string
	for _, o := range links {
		if o.ifaceGone() {
			gone = append(gone, o.ifi.Name)
		}
	}
	return gone
}
