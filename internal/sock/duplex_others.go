//go:build !linux

package sock

import (
	"context"
	"net/netip"
	"time"
)

// Duplex is not available on this system.
type Duplex struct{}

// Open reports that this system is not supported.
func (DuplexConfig) Open(context.Context) (*Duplex, error) { return nil, errUnsupported }

// Read reports that this system is not supported.
func (*Duplex) Read([]byte) (Datagram, error) { return Datagram{}, errUnsupported }

// WriteTo reports that this system is not supported.
func (*Duplex) WriteTo([]byte, netip.Addr, netip.AddrPort) error { return errUnsupported }

// SetReadDeadline does nothing.
func (*Duplex) SetReadDeadline(time.Time) error { return nil }

// Close does nothing.
func (*Duplex) Close() error { return nil }
