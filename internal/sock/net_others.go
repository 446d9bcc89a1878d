//go:build !linux

package sock

import (
	"context"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// UDPConn is not available on this system.
type UDPConn struct{}

// OpenUDP reports that this system is not supported.
func OpenUDP(netip.AddrPort, UDPOptions) (*UDPConn, error) { return nil, errUnsupported }

// Segmentation reports false.
func (*UDPConn) Segmentation() bool { return false }

// GRO reports false.
func (*UDPConn) GRO() bool { return false }

// LocalAddr returns the zero address.
func (*UDPConn) LocalAddr() netip.AddrPort { return netip.AddrPort{} }

// InterfaceIndex reports that this system is not supported.
func (*UDPConn) InterfaceIndex(string) (int, error) { return 0, errUnsupported }

// ReadBatch reports that this system is not supported.
func (*UDPConn) ReadBatch() (int, error) { return 0, errUnsupported }

// Datagram returns nothing.
func (*UDPConn) Datagram(int) ([]byte, netip.AddrPort, int) { return nil, netip.AddrPort{}, 0 }

// WriteBatch reports that this system is not supported.
func (*UDPConn) WriteBatch([]ipv4.Message) (int, error) { return 0, errUnsupported }

// Close does nothing.
func (*UDPConn) Close() error { return nil }

// IPConn is not available on this system.
type IPConn struct{}

// OpenRaw reports that this system is not supported.
func OpenRaw(*net.Interface, bool, string, RawOptions) (*IPConn, error) { return nil, errUnsupported }

// OpenUDPEmit reports that this system is not supported.
func OpenUDPEmit(context.Context, *net.Interface, netip.AddrPort, int) (*IPConn, error) {
	return nil, errUnsupported
}

// Control reports that this system is not supported.
func Control(net.PacketConn, func(fd int) error) error { return errUnsupported }

// BindToDevice reports that this system is not supported.
func BindToDevice(int, string) error { return errUnsupported }

// SetMark reports that this system is not supported.
func SetMark(int, int) error { return errUnsupported }

// Join reports that this system is not supported.
func (*IPConn) Join(netip.Addr) error { return errUnsupported }

// Leave reports that this system is not supported.
func (*IPConn) Leave(netip.Addr) error { return errUnsupported }

// ReadBatch reports that this system is not supported.
func (*IPConn) ReadBatch([]ipv4.Message) (int, error) { return 0, errUnsupported }

// WriteBatch reports that this system is not supported.
func (*IPConn) WriteBatch([]ipv4.Message) (int, error) { return 0, errUnsupported }

// WriteTo reports that this system is not supported.
func (*IPConn) WriteTo([]byte, netip.Addr) error { return errUnsupported }

// Unblock does nothing.
func (*IPConn) Unblock() {}

// UnblockOnDone does nothing.
func (*IPConn) UnblockOnDone(context.Context) func() bool { return func() bool { return false } }

// LocalAddr returns the zero address.
func (*IPConn) LocalAddr() netip.AddrPort { return netip.AddrPort{} }

// Segmentation reports false.
func (*IPConn) Segmentation() bool { return false }

// Close does nothing.
func (*IPConn) Close() error { return nil }

// OpenPacketWith reports that packet sockets are not supported here.
func OpenPacketWith(name string, o PacketOptions) (*PacketConn, error) {
	return OpenPacket(name, o.Filter, o.AllMulti)
}

// ReadBatch reports that packet sockets are not supported here.
func (*PacketConn) ReadBatch() (int, error) { return 0, errUnsupported }

// Frame returns nothing.
func (*PacketConn) Frame(int) []byte { return nil }

// GROSize returns 0.
func GROSize([]byte) int { return 0 }

// SegmentOOBLen is 0: no UDP_SEGMENT here.
var SegmentOOBLen = 0

// AppendSegmentSize returns b unchanged.
func AppendSegmentSize(b []byte, _ int) []byte { return b }

// SegmentUnsupported reports true: no UDP_SEGMENT here.
func SegmentUnsupported(error) bool { return true }

// AppendTTL returns b unchanged.
func AppendTTL(b []byte, _ bool, _ uint8) []byte { return b }
