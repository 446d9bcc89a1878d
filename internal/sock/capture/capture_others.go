//go:build !linux

package capture

import (
	"context"
	"fmt"
	"runtime"

	"golang.org/x/net/bpf"

	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Socket is not available on this system.
type Socket struct{}

// Open reports that live capture is not supported on this system.
func Open(string, []bpf.Instruction) (*Socket, error) {
	return nil, fmt.Errorf("live capture (AF_PACKET) is not supported on %s", runtime.GOOS)
}

// LinkType is Linux cooked capture.
func (*Socket) LinkType() uint32 { return pcap.LinkLinuxSLL }

// Next reports that live capture is not supported.
func (*Socket) Next(context.Context) (packet.Frame, error) {
	return packet.Frame{}, fmt.Errorf("live capture is not supported on %s", runtime.GOOS)
}

// NextBatch reports that live capture is not supported.
func (c *Socket) NextBatch(ctx context.Context, _ int) ([]packet.Frame, error) {
	f, err := c.Next(ctx)
	return []packet.Frame{f}, err
}

// Drops returns 0.
func (*Socket) Drops() (uint64, error) { return 0, nil }

// Close does nothing.
func (*Socket) Close() error { return nil }
