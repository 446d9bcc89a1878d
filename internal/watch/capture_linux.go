//go:build linux

package watch

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

	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Capture is an AF_PACKET socket that receives IPv4 and IPv6 multicast
// packets, in and out, on one interface or all of them. Frames come out as
// Linux cooked (SLL) records of the IP packet, which keep the direction and
// the sender's link address.
//
// The socket is SOCK_RAW with PACKET_VNET_HDR, so the kernel says when a
// packet is a UDP segmentation-offload aggregate (a sender's UDP_SEGMENT, as
// seen on the sending host or across a veth): Next cuts it into the
// datagrams the wire carries (igmp.SplitUDP). PACKET_AUXDATA gives where
// the IP header starts behind the link header.
type Capture struct {
	f       *os.File
	rc      syscall.RawConn
	ifindex int
	name    string
	names   map[int]string
	buf     []byte
	oob     []byte
	vnet    bool    // frames start with a struct virtio_net_hdr
	queue   []Frame // the rest of a split aggregate
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// vnetHdrLen is sizeof(struct virtio_net_hdr).
const vnetHdrLen = 10

// OpenCapture opens a capture of IPv4 and IPv6 multicast on the named
// interface, or on every interface when name is empty. On one interface it
// also asks the NIC for all multicast (PACKET_MR_ALLMULTI, dropped when the
// socket closes), so the capture sees groups this host did not join.
func OpenCapture(name string) (*Capture, error) {
	return openCapture(name, Filter)
}

// OpenQueryCapture is OpenCapture with the kernel passing only IGMP and
// MLD packets (QueryFilter): for listening for queriers without copying
// multicast data.
func OpenQueryCapture(name string) (*Capture, error) {
	return openCapture(name, QueryFilter)
}

func openCapture(name string, filter func() ([]bpf.RawInstruction, error)) (*Capture, error) {
	c := &Capture{name: name, names: map[int]string{}, buf: make([]byte, vnetHdrLen+1<<17), oob: make([]byte, 256)}
	if name != "" {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("capturing on %s: %w", name, err)
		}
		c.ifindex = ifi.Index
		c.names[ifi.Index] = name
	}
	// Bound to no protocol until the filter is in place, so that nothing
	// unfiltered queues in between.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
			return nil, fmt.Errorf("opening an AF_PACKET socket: %w (capturing needs CAP_NET_RAW: run as root or grant the capability)", err)
		}
		return nil, fmt.Errorf("opening an AF_PACKET socket: %w", err)
	}
	fail := func(what string, err error) (*Capture, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("capturing on %s: %s: %w", c.ifaceName(), what, err)
	}
	prog, err := filter()
	if err != nil {
		return fail("assembling the filter", err)
	}
	ins := make([]unix.SockFilter, len(prog))
	for i, r := range prog {
		ins[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fprog := unix.SockFprog{Len: uint16(len(ins)), Filter: &ins[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fprog); err != nil {
		return fail("attaching the filter", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_AUXDATA, 1); err != nil {
		return fail("asking for PACKET_AUXDATA", err)
	}
	// Without the virtio header (very old kernels) aggregates stay whole.
	c.vnet = unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1) == nil
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: c.ifindex}); err != nil {
		return fail("binding", err)
	}
	if c.ifindex != 0 {
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

func (c *Capture) ifaceName() string {
	if c.name == "" {
		return "all interfaces"
	}
	return c.name
}

// LinkType is Linux cooked capture.
func (c *Capture) LinkType() uint32 { return pcap.LinkLinuxSLL }

// Next blocks for the next packet; when ctx ends it returns ctx.Err().
func (c *Capture) Next(ctx context.Context) (Frame, error) {
	if len(c.queue) > 0 {
		f := c.queue[0]
		c.queue = c.queue[1:]
		return f, nil
	}
	stop := context.AfterFunc(ctx, func() { c.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		var (
			n, oobn int
			from    unix.Sockaddr
			rerr    error
		)
		err := c.rc.Read(func(fd uintptr) bool {
			n, oobn, _, from, rerr = unix.Recvmsg(int(fd), c.buf, c.oob, unix.MSG_TRUNC)
			return rerr != unix.EAGAIN
		})
		now := time.Now()
		if ctx.Err() != nil {
			return Frame{}, ctx.Err()
		}
		if err == nil {
			err = rerr
		}
		if errors.Is(err, unix.EINVAL) && c.vnet {
			// An offload the kernel cannot describe in a virtio header:
			// it dropped the packet. Take the next.
			continue
		}
		if err != nil {
			if errors.Is(err, unix.ENETDOWN) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV) {
				return Frame{}, fmt.Errorf("capturing on %s: the interface went down or vanished: %w", c.ifaceName(), err)
			}
			return Frame{}, fmt.Errorf("capturing on %s: %w", c.ifaceName(), err)
		}
		frames := c.frames(now, c.buf[:min(n, len(c.buf))], n, c.oob[:oobn], from)
		if len(frames) == 0 {
			continue
		}
		c.queue = frames[1:]
		return frames[0], nil
	}
}

// frames turns one received packet (virtio header, link header, IP
// packet) into SLL frames: one, or one per datagram of a UDP aggregate.
func (c *Capture) frames(now time.Time, b []byte, n int, oob []byte, from unix.Sockaddr) []Frame {
	seg := 0
	if c.vnet {
		if len(b) < vnetHdrLen {
			return nil
		}
		// struct virtio_net_hdr: flags, gso_type, hdr_len, gso_size, ...
		// in host byte order for a packet socket.
		if b[1]&^unix.VIRTIO_NET_HDR_GSO_ECN == unix.VIRTIO_NET_HDR_GSO_UDP_L4 {
			seg = int(binary.NativeEndian.Uint16(b[4:6]))
		}
		b, n = b[vnetHdrLen:], n-vnetHdrLen
	}
	netOff := -1
	if cms, err := unix.ParseSocketControlMessage(oob); err == nil {
		for _, cm := range cms {
			if cm.Header.Level == unix.SOL_PACKET && cm.Header.Type == unix.PACKET_AUXDATA && len(cm.Data) >= 20 {
				// struct tpacket_auxdata: status, len, snaplen, mac, net, ...
				netOff = int(binary.NativeEndian.Uint16(cm.Data[14:16]))
			}
		}
	}
	sll, _ := from.(*unix.SockaddrLinklayer)
	if netOff < 0 {
		netOff = 0
		if sll != nil && (sll.Hatype == unix.ARPHRD_ETHER || sll.Hatype == unix.ARPHRD_LOOPBACK) {
			netOff = 14
		}
	}
	if netOff > len(b) {
		return nil
	}
	ip, origLen := b[netOff:], n-netOff
	pkts := [][]byte{ip}
	if seg > 0 && len(ip) == origLen {
		pkts = igmp.SplitUDP(ip, seg)
	}
	ifindex := c.ifindex
	var hdr [16]byte
	if sll != nil {
		ifindex = sll.Ifindex
		binary.BigEndian.PutUint16(hdr[0:], uint16(sll.Pkttype))
		binary.BigEndian.PutUint16(hdr[2:], sll.Hatype)
		halen := min(int(sll.Halen), 8)
		binary.BigEndian.PutUint16(hdr[4:], uint16(halen))
		copy(hdr[6:14], sll.Addr[:halen])
	}
	name := c.nameOf(ifindex)
	out := make([]Frame, 0, len(pkts))
	for _, p := range pkts {
		et := uint16(0x0800)
		if len(p) > 0 && p[0]>>4 == 6 {
			et = 0x86dd
		}
		binary.BigEndian.PutUint16(hdr[14:], et)
		data := make([]byte, 16+len(p))
		copy(data, hdr[:])
		copy(data[16:], p)
		ol := 16 + len(p)
		if len(pkts) == 1 {
			ol = 16 + origLen
		}
		out = append(out, Frame{Time: now, Iface: name, LinkType: pcap.LinkLinuxSLL, Data: data, OrigLen: ol})
	}
	return out
}

func (c *Capture) nameOf(idx int) string {
	if n, ok := c.names[idx]; ok {
		return n
	}
	name := fmt.Sprintf("if%d", idx)
	if ifi, err := net.InterfaceByIndex(idx); err == nil {
		name = ifi.Name
	}
	c.names[idx] = name
	return name
}

// Close closes the socket.
func (c *Capture) Close() error { return c.f.Close() }
