//go:build !linux

package relay

import (
	"context"
	"errors"
	"runtime"

	"github.com/mcasttools/mcast/internal/relay/config"
)

func hugeSlots(n int) ([]seenSlot, func()) { return make([]seenSlot, n), nil }

var errUnsupported = errors.New("mcast relay is not supported on " + runtime.GOOS)

// Run fails: the relay needs Linux.
func (r *Relay) Run(ctx context.Context) error { return errUnsupported }

// CheckCapabilities fails: the relay needs Linux.
func CheckCapabilities() error { return errUnsupported }

// Check fails: the relay needs Linux.
func Check(cfg *config.Config) error { return errUnsupported }
