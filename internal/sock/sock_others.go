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

// LocalAddr returns the zero address.
func (*Sender) LocalAddr() netip.AddrPort { return netip.AddrPort{} }

// Close does nothing.
func (*Sender) Close() error { return nil }
