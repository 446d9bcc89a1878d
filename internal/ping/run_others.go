//go:build !linux

package ping

import (
	"context"
	"fmt"
	"runtime"
)

// Run reports that this system is not supported.
func Run(context.Context, Machine, RunOptions, func(Event)) (Report, error) {
	return Report{}, fmt.Errorf("mcast ping is not supported on %s", runtime.GOOS)
}
