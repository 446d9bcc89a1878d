//go:build !linux

package sock

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/net/bpf"
)

// PacketRing is not available on this system.
type PacketRing struct{}

// RingStats are a ring's kernel counts.
type RingStats struct {
	Packets uint64
	Drops   uint64
}

// OpenPacketRing reports that packet rings are not supported here.
func OpenPacketRing(string, []bpf.RawInstruction, bool) (*PacketRing, error) {
	return nil, fmt.Errorf("packet capture (AF_PACKET) is not supported on %s", runtime.GOOS)
}

// Ifindex returns 0.
func (*PacketRing) Ifindex() int { return 0 }

// Next reports that packet rings are not supported here.
func (*PacketRing) Next(context.Context) ([]byte, PacketInfo, time.Time, error) {
	return nil, PacketInfo{}, time.Time{}, fmt.Errorf("packet capture is not supported on %s", runtime.GOOS)
}

// Pending returns 0.
func (*PacketRing) Pending() int { return 0 }

// Stats returns nothing.
func (*PacketRing) Stats() (RingStats, error) { return RingStats{}, nil }

// Close does nothing.
func (*PacketRing) Close() error { return nil }
