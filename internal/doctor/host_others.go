//go:build !linux

package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"time"

	"github.com/mcasttools/mcast/internal/hostfs"
)

var errUnsupported = fmt.Errorf("doctor is not supported on %s", runtime.GOOS)

// LiveHost returns a host whose every query reports that this system is not
// supported.
func LiveHost() *Host {
	return &Host{
		FS:    hostfs.Host(),
		Net:   noNet{},
		Rules: func(context.Context) (Rulesets, error) { return Rulesets{}, errUnsupported },
		Probe: func(context.Context, ProbeSpec) (ProbeOutcome, error) { return ProbeOutcome{}, errUnsupported },
		Listen: func(context.Context, string, time.Duration, func([]HeardQuery) bool) ([]HeardQuery, error) {
			return nil, errUnsupported
		},
	}
}

type noNet struct{}

func (noNet) Links(context.Context) ([]Link, error)        { return nil, errUnsupported }
func (noNet) Routes(context.Context, int) ([]Route, error) { return nil, errUnsupported }
func (noNet) RouteGet(context.Context, netip.Addr, int, netip.Addr) (Route, error) {
	return Route{}, errUnsupported
}

func (noNet) BridgeQuerier(context.Context, int) (Querier, error) { return Querier{}, errUnsupported }
