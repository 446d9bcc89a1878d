//go:build linux

package sock

import (
	"context"
	"encoding/binary"
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
	Len     int    // the packet's length (may exceed what was read)
	// GSOSize is, for a UDP segmentation-offload aggregate read from an
	// offload socket (OpenPacketOffload), the UDP payload bytes of each
	// datagram it becomes on the wire; 0 otherwise.
	GSOSize int
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
	raw     bool // SOCK_RAW with PACKET_AUXDATA: Read strips the link header
	vnet    bool // and frames start with a struct virtio_net_hdr
	oob     []byte
}

// vnetHdrLen is sizeof(struct virtio_net_hdr).
const vnetHdrLen = 10

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenPacket opens a packet socket on the named interface, or on every
// interface when name is empty, with filter attached before any packet is
// queued that the filter would refuse. allMulti asks the NIC for every
// multicast frame (PACKET_MR_ALLMULTI, dropped when the socket closes), so
// that groups this host did not join are heard too; it needs a name.
func OpenPacket(name string, filter []bpf.RawInstruction, allMulti bool) (*PacketConn, error) {
	return openPacket(name, filter, allMulti, false)
}

// OpenPacketOffload is OpenPacket for a capture that must count datagrams
// as the wire carries them. A sender using UDP_SEGMENT hands the kernel one
// large packet that is cut into datagrams only when it leaves the host; a
// packet socket on the sending host, or across a veth, sees it whole. This
// socket is SOCK_RAW with PACKET_VNET_HDR, so Read reports such an
// aggregate's segment size (PacketInfo.GSOSize), and with PACKET_AUXDATA,
// so Read still returns the IP packet without the link header. Its filter
// sees the link header first: it must load relative to the network header
// (SKF_NET_OFF).
func OpenPacketOffload(name string, filter []bpf.RawInstruction, allMulti bool) (*PacketConn, error) {
	return openPacket(name, filter, allMulti, true)
}

func openPacket(name string, filter []bpf.RawInstruction, allMulti, raw bool) (*PacketConn, error) {
	c := &PacketConn{name: name, raw: raw}
	if name != "" {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("capturing on %s: %w", name, err)
		}
		c.ifindex = ifi.Index
	}
	// Protocol 0: the socket receives nothing until bind names ETH_P_ALL,
	// after the filter is attached.
	typ := unix.SOCK_DGRAM
	if raw {
		typ = unix.SOCK_RAW
	}
	fd, err := unix.Socket(unix.AF_PACKET, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
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
	if raw {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
			return fail("asking for PACKET_AUXDATA", err)
		}
		// Without the virtio header (very old kernels) aggregates stay
		// whole.
		c.vnet = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1) == nil
		c.oob = make([]byte, 256)
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
// into buf, from its IP header; when ctx ends it returns ctx.Err(). A
// vanished interface is reported as such.
func (c *PacketConn) Read(ctx context.Context, buf []byte) (int, PacketInfo, error) {
	stop := context.AfterFunc(ctx, func() { c.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		var (
			n, oobn int
			from    unix.Sockaddr
			rerr    error
		)
		err := c.rc.Read(func(fd uintptr) bool {
			if c.raw {
				n, oobn, _, from, rerr = unix.Recvmsg(int(fd), buf, c.oob, unix.MSG_TRUNC)
			} else {
				n, from, rerr = unix.Recvfrom(int(fd), buf, unix.MSG_TRUNC)
			}
			return rerr != unix.EAGAIN
		})
		if ctx.Err() != nil {
			return 0, PacketInfo{}, ctx.Err()
		}
		if err == nil {
			err = rerr
		}
		if c.vnet && errors.Is(err, unix.EINVAL) {
			// An offload the kernel cannot describe in a virtio header:
			// it dropped the packet. Take the next.
			continue
		}
		if err != nil {
			if errors.Is(err, unix.ENETDOWN) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV) {
				return 0, PacketInfo{}, fmt.Errorf("capturing on %s: the interface went down or vanished: %w", c.ifaceName(), err)
			}
			return 0, PacketInfo{}, fmt.Errorf("capturing on %s: %w", c.ifaceName(), err)
		}
		info := PacketInfo{Ifindex: c.ifindex, Len: n}
		sll, _ := from.(*unix.SockaddrLinklayer)
		if sll != nil {
			info.Ifindex = sll.Ifindex
			info.Pkttype = sll.Pkttype
			info.Hatype = sll.Hatype
			info.Addr = append([]byte(nil), sll.Addr[:min(int(sll.Halen), 8)]...)
		}
		got := min(n, len(buf))
		if !c.raw {
			return got, info, nil
		}
		skip := 0
		if c.vnet {
			if got < vnetHdrLen {
				continue
			}
			// struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size,
			// ... in host byte order for a packet socket.
			if buf[1]&^unix.VIRTIO_NET_HDR_GSO_ECN == unix.VIRTIO_NET_HDR_GSO_UDP_L4 {
				info.GSOSize = int(binary.NativeEndian.Uint16(buf[4:6]))
			}
			skip = vnetHdrLen
		}
		skip += linkHeaderLen(c.oob[:oobn], sll)
		if skip > got {
			continue
		}
		info.Len = n - skip
		copy(buf, buf[skip:got])
		return got - skip, info, nil
	}
}

// linkHeaderLen is where the IP header starts in a SOCK_RAW frame: the
// tp_net of PACKET_AUXDATA, else guessed from the link type.
func linkHeaderLen(oob []byte, sll *unix.SockaddrLinklayer) int {
	if cms, err := unix.ParseSocketControlMessage(oob); err == nil {
		for _, cm := range cms {
			// struct tpacket_auxdata: status, len, snaplen (u32), mac,
			// net (u16), ...
			if cm.Header.Level == unix.SOL_PACKET && cm.Header.Type == unix.PACKET_AUXDATA && len(cm.Data) >= 16 {
				return int(binary.NativeEndian.Uint16(cm.Data[14:16]))
			}
		}
	}
	if sll != nil && (sll.Hatype == unix.ARPHRD_ETHER || sll.Hatype == unix.ARPHRD_LOOPBACK) {
		return 14
	}
	return 0
}

// Close closes the socket.
func (c *PacketConn) Close() error { return c.f.Close() }
