//go:build !linux

package tunnel

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"time"
)

var errOS = fmt.Errorf("mcast tunnel: kernel overlays need Linux, not %s", runtime.GOOS)

// Up is Linux-only.
func Up(context.Context, State, io.Writer) (int, error) { return 0, errOS }

// Down is Linux-only.
func Down(context.Context, State, io.Writer) (int, error) { return 0, errOS }

// Status is Linux-only.
func Status(context.Context, State, time.Duration) (*Report, error) { return nil, errOS }

// Probe is Linux-only.
func Probe(string) error { return errOS }
