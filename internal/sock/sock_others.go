//go:build !linux

package sock

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
)

var errUnsupported = fmt.Errorf("multicast sockets are not supported on %s", runtime.GOOS)

// Listener is not available on this system.
type Listener struct{}

// Listen reports that this system is not supported.
func Listen(context.Context, netip.Addr, uint16, int) (*Listener, error) { return nil, errUnsupported }

// Listen reports that this system is not supported.
func (ListenConfig) Listen(context.Context) (*Listener, error) { return nil, errUnsupported }

// Batch is not available on this system.
type Batch struct{}

// NewBatch returns an empty batch.
func NewBatch(n, size int) *Batch { return &Batch{} }

// ReadBatch reports that this system is not supported.
func (*Listener) ReadBatch(context.Context, *Batch) ([]Datagram, error) { return nil, errUnsupported }

// Read reports that this system is not supported.
func (*Listener) Read(context.Context, []byte) (Datagram, error) { return Datagram{}, errUnsupported }

// Close does nothing.
func (*Listener) Close() error { return nil }

// Sender is not available on this system.
type Sender struct{}

// Dial reports that this system is not supported.
func Dial(netip.Addr, uint16, SendOptions) (*Sender, error) { return nil, errUnsupported }

// Send reports that this system is not supported.
func (*Sender) Send([]byte) error { return errUnsupported }

// SendBatch reports that this system is not supported.
func (*Sender) SendBatch([][]byte) (int, error) { return 0, errUnsupported }

// SendSegments reports that this system is not supported.
func (*Sender) SendSegments([]byte, int) error { return errUnsupported }

// Segmentation reports false.
func (*Sender) Segmentation() bool { return false }

// LocalAddr returns the zero address.
func (*Sender) LocalAddr() netip.AddrPort { return netip.AddrPort{} }

// Close does nothing.
func (*Sender) Close() error { return nil }

// RouteSource reports that this system is not supported.
func RouteSource(netip.Addr) (netip.Addr, error) { return netip.Addr{}, errUnsupported }

// RouteSourceVia reports that this system is not supported.
func RouteSourceVia(netip.Addr, int) (netip.Addr, error) { return netip.Addr{}, errUnsupported }

// PathMTU reports that this system is not supported.
func PathMTU(netip.Addr, int) (int, error) { return 0, errUnsupported }

// Drops returns 0.
func (*Listener) Drops() uint64 { return 0 }

// Pending returns false.
func (*Listener) Pending() bool { return false }
