//go:build !linux

package sock

import (
	"context"
	"fmt"
	"runtime"

	"golang.org/x/net/bpf"
)

// PacketInfo is what the kernel tells about one captured packet.
type PacketInfo struct {
	Ifindex int
	Pkttype uint8
	Hatype  uint16
	Addr    []byte
	Len     int
	GSOSize int
}

// Outgoing reports whether this host sent the packet.
func (i PacketInfo) Outgoing() bool { return false }

// PacketConn is not available on this system.
type PacketConn struct{}

// OpenPacket reports that packet sockets are not supported here.
func OpenPacket(string, []bpf.RawInstruction, bool) (*PacketConn, error) {
	return nil, fmt.Errorf("packet capture (AF_PACKET) is not supported on %s", runtime.GOOS)
}

// OpenPacketOffload reports that packet sockets are not supported here.
func OpenPacketOffload(name string, filter []bpf.RawInstruction, allMulti bool) (*PacketConn, error) {
	return OpenPacket(name, filter, allMulti)
}

// Ifindex returns 0.
func (*PacketConn) Ifindex() int { return 0 }

// Read reports that packet sockets are not supported here.
func (*PacketConn) Read(context.Context, []byte) (int, PacketInfo, error) {
	return 0, PacketInfo{}, fmt.Errorf("packet capture is not supported on %s", runtime.GOOS)
}

// Close does nothing.
func (*PacketConn) Close() error { return nil }
