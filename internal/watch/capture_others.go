//go:build !linux

package watch

import (
	"context"
	"fmt"
	"runtime"

	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Capture is not available on this system.
type Capture struct{}

// OpenCapture reports that live capture is not supported on this system.
func OpenCapture(string) (*Capture, error) {
	return nil, fmt.Errorf("live capture (AF_PACKET) is not supported on %s; use --read FILE.pcap", runtime.GOOS)
}

// OpenQueryCapture reports that live capture is not supported on this
// system.
func OpenQueryCapture(string) (*Capture, error) { return OpenCapture("") }

// LinkType is Linux cooked capture.
func (*Capture) LinkType() uint32 { return pcap.LinkLinuxSLL }

// Next reports that live capture is not supported.
func (*Capture) Next(context.Context) (Frame, error) {
	return Frame{}, fmt.Errorf("live capture is not supported on %s", runtime.GOOS)
}

// Close does nothing.
func (*Capture) Close() error { return nil }
