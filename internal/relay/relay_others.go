//go:build !linux

package relay

import (
	"context"
	"errors"
	"runtime"
)

func hugeSlots(n int) ([]seenSlot, func()) { return make([]seenSlot, n), nil }

var errUnsupported = errors.New("mcast relay is not supported on " + runtime.GOOS)

// Run fails: the relay needs Linux.
func (r *Relay) Run(ctx context.Context) error { return errUnsupported }
