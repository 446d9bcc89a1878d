//go:build linux

package sock

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// PacketInfo is what the kernel tells about one packet read from a
// PacketConn: the interface, the direction and the sender's link address.
type PacketInfo struct {
	Ifindex int
	Pkttype uint8  // unix.PACKET_HOST, PACKET_MULTICAST, PACKET_OUTGOING, ...
	Hatype  uint16 // ARPHRD_* of the interface
	Addr    []byte // the link-layer source address (up to 8 bytes)
	Len     int    // the packet's length on the wire (may exceed what was read)
}

// Outgoing reports whether this host sent the packet.
func (i PacketInfo) Outgoing() bool { return i.Pkttype == unix.PACKET_OUTGOING }

// PacketConn is an AF_PACKET SOCK_DGRAM socket: IP packets without the link
// header, in and out, on one interface or every one, passed through a
// kernel-side BPF filter. It is how watch and the relay hear IGMP and MLD.
type PacketConn struct {
	f       *os.File
	rc      syscall.RawConn
	ifindex int
	name    string
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenPacket opens a packet socket on the named interface, or on every
// interface when name is empty, with filter attached before any packet is
// queued that the filter would refuse. allMulti asks the NIC for every
// multicast frame (PACKET_MR_ALLMULTI, dropped when the socket closes), so
// that groups this host did not join are heard too; it needs a name.
func OpenPacket(name string, filter []bpf.RawInstruction, allMulti bool) (*PacketConn, error) {
	c := &PacketConn{name: name}
	if name != "" {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("capturing on %s: %w", name, err)
		}
		c.ifindex = ifi.Index
	}
	// Protocol 0: the socket receives nothing until bind names ETH_P_ALL,
	// after the filter is attached.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("opening an AF_PACKET socket: %w (capturing needs CAP_NET_RAW: run as root or grant the capability)", err)
		}
		return nil, fmt.Errorf("opening an AF_PACKET socket: %w", err)
	}
	fail := func(what string, err error) (*PacketConn, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("capturing on %s: %s: %w", c.ifaceName(), what, err)
	}
	if len(filter) > 0 {
		ins := make([]unix.SockFilter, len(filter))
		for i, r := range filter {
			ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
		}
		fprog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
			return fail("attaching the filter", err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: c.ifindex}); err != nil {
		return fail("binding", err)
	}
	if allMulti && c.ifindex != 0 {
		mr := unix.PacketMreq{Ifindex: int32(c.ifindex), Type: unix.PACKET_MR_ALLMULTI}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
			return fail("asking for all multicast", err)
		}
	}
	c.f = os.NewFile(uintptr(fd), "packet")
	rc, err := c.f.SyscallConn()
	if err != nil {
		c.f.Close()
		return nil, fmt.Errorf("capturing on %s: %w", c.ifaceName(), err)
	}
	c.rc = rc
	return c, nil
}

func (c *PacketConn) ifaceName() string {
	if c.name == "" {
		return "all interfaces"
	}
	return c.name
}

// Ifindex is the interface the socket is bound to (0: every interface).
func (c *PacketConn) Ifindex() int { return c.ifindex }

// Read blocks for the next packet and copies up to len(buf) bytes of it
// into buf; when ctx ends it returns ctx.Err(). A vanished interface is
// reported as such.
func (c *PacketConn) Read(ctx context.Context, buf []byte) (int, PacketInfo, error) {
	stop := context.AfterFunc(ctx, func() { c.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var (
		n    int
		from unix.Sockaddr
		rerr error
	)
	err := c.rc.Read(func(fd uintptr) bool {
		n, from, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_TRUNC)
		return rerr != unix.EAGAIN
	})
	if ctx.Err() != nil {
		return 0, PacketInfo{}, ctx.Err()
	}
	if err == nil {
		err = rerr
	}
	if err != nil {
		if errors.Is(err, unix.ENETDOWN) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV) {
			return 0, PacketInfo{}, fmt.Errorf("capturing on %s: the interface went down or vanished: %w", c.ifaceName(), err)
		}
		return 0, PacketInfo{}, fmt.Errorf("capturing on %s: %w", c.ifaceName(), err)
	}
	info := PacketInfo{Ifindex: c.ifindex, Len: n}
	if sll, ok := from.(*unix.SockaddrLinklayer); ok {
		info.Ifindex = sll.Ifindex
		info.Pkttype = sll.Pkttype
		info.Hatype = sll.Hatype
		info.Addr = append([]byte(nil), sll.Addr[:min(int(sll.Halen), 8)]...)
	}
	return min(n, len(buf)), info, nil
}

// Close closes the socket.
func (c *PacketConn) Close() error { return c.f.Close() }
