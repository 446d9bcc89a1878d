//go:build !linux

package cli

import "io"

// isTerminal reports false: the live status line is Linux-only.
func isTerminal(io.Writer) bool { return false }
