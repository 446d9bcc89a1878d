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

	"golang.org/x/sys/unix"

	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Capture is an AF_PACKET socket (SOCK_DGRAM: IP packets without the link
// header) that receives IPv4 and IPv6 multicast packets, in and out, on one
// interface or all of them. Frames come out as Linux cooked (SLL) records,
// which keep the direction and the sender's link address.
type Capture struct {
	f       *os.File
	rc      syscall.RawConn
	ifindex int
	name    string
	names   map[int]string
	buf     []byte
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// OpenCapture opens a capture on the named interface, or on every interface
// when name is empty. On one interface it also asks the NIC for all
// multicast (PACKET_MR_ALLMULTI, dropped when the socket closes), so the
// capture sees groups this host did not join.
func OpenCapture(name string) (*Capture, error) {
	c := &Capture{name: name, names: map[int]string{}, buf: make([]byte, 1<<16)}
	if name != "" {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			return nil, fmt.Errorf("capturing on %s: %w", name, err)
		}
		c.ifindex = ifi.Index
		c.names[ifi.Index] = name
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
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
	prog, err := Filter()
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
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: c.ifindex}); err != nil {
		return fail("binding", err)
	}
	if c.ifindex != 0 {
		mr := unix.PacketMreq{Ifindex: int32(c.ifindex), Type: unix.PACKET_MR_ALLMULTI}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mr); err != nil {
			return fail("asking for all multicast", err)
		}
	}
	// Packets that queued before the filter was attached may be anything:
	// the decoder drops what is not multicast.
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
	stop := context.AfterFunc(ctx, func() { c.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var (
		n    int
		from unix.Sockaddr
		rerr error
	)
	err := c.rc.Read(func(fd uintptr) bool {
		n, from, rerr = unix.Recvfrom(int(fd), c.buf, unix.MSG_TRUNC)
		return rerr != unix.EAGAIN
	})
	now := time.Now()
	if ctx.Err() != nil {
		return Frame{}, ctx.Err()
	}
	if err == nil {
		err = rerr
	}
	if err != nil {
		if errors.Is(err, unix.ENETDOWN) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV) {
			return Frame{}, fmt.Errorf("capturing on %s: the interface went down or vanished: %w", c.ifaceName(), err)
		}
		return Frame{}, fmt.Errorf("capturing on %s: %w", c.ifaceName(), err)
	}
	capLen := min(n, len(c.buf))
	sll, _ := from.(*unix.SockaddrLinklayer)
	data := make([]byte, 16+capLen)
	copy(data[16:], c.buf[:capLen])
	ifindex := c.ifindex
	if sll != nil {
		ifindex = sll.Ifindex
		binary.BigEndian.PutUint16(data[0:], uint16(sll.Pkttype))
		binary.BigEndian.PutUint16(data[2:], sll.Hatype)
		halen := min(int(sll.Halen), 8)
		binary.BigEndian.PutUint16(data[4:], uint16(halen))
		copy(data[6:14], sll.Addr[:halen])
	}
	et := uint16(0x0800)
	if capLen > 0 && c.buf[0]>>4 == 6 {
		et = 0x86dd
	}
	binary.BigEndian.PutUint16(data[14:], et)
	return Frame{Time: now, Iface: c.nameOf(ifindex), LinkType: pcap.LinkLinuxSLL, Data: data, OrigLen: 16 + n}, nil
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
