//go:build !linux

package firewall

import (
	"context"
	"fmt"
	"runtime"
)

// Live reports that reading the firewall is not supported on this GOOS.
func Live(context.Context) (Rulesets, error) {
	return Rulesets{}, fmt.Errorf("reading the firewall rules is not supported on %s", runtime.GOOS)
}
