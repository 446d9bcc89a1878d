//go:build linux

package watch

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Capture is an AF_PACKET socket (SOCK_DGRAM: IP packets without the link
// header) that receives IPv4 and IPv6 multicast packets, in and out, on one
// interface or all of them. Frames come out as Linux cooked (SLL) records,
// which keep the direction and the sender's link address.
type Capture struct {
	pc    *sock.PacketConn
	names map[int]string
	buf   []byte
}

// OpenCapture opens a capture on the named interface, or on every interface
// when name is empty. On one interface it also asks the NIC for all
// multicast (PACKET_MR_ALLMULTI, dropped when the socket closes), so the
// capture sees groups this host did not join.
func OpenCapture(name string) (*Capture, error) {
	prog, err := Filter()
	if err != nil {
		return nil, fmt.Errorf("capturing on %s: assembling the filter: %w", name, err)
	}
	pc, err := sock.OpenPacket(name, prog, true)
	if err != nil {
		return nil, err
	}
	c := &Capture{pc: pc, names: map[int]string{}, buf: make([]byte, 1<<16)}
	if name != "" {
		c.names[pc.Ifindex()] = name
	}
	return c, nil
}

// LinkType is Linux cooked capture.
func (c *Capture) LinkType() uint32 { return pcap.LinkLinuxSLL }

// Next blocks for the next packet; when ctx ends it returns ctx.Err().
func (c *Capture) Next(ctx context.Context) (Frame, error) {
	capLen, info, err := c.pc.Read(ctx, c.buf)
	now := time.Now()
	if err != nil {
		return Frame{}, err
	}
	data := make([]byte, 16+capLen)
	copy(data[16:], c.buf[:capLen])
	binary.BigEndian.PutUint16(data[0:], uint16(info.Pkttype))
	binary.BigEndian.PutUint16(data[2:], info.Hatype)
	binary.BigEndian.PutUint16(data[4:], uint16(len(info.Addr)))
	copy(data[6:14], info.Addr)
	et := uint16(0x0800)
	if capLen > 0 && c.buf[0]>>4 == 6 {
		et = 0x86dd
	}
	binary.BigEndian.PutUint16(data[14:], et)
	return Frame{Time: now, Iface: c.nameOf(info.Ifindex), LinkType: pcap.LinkLinuxSLL, Data: data, OrigLen: 16 + info.Len}, nil
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
func (c *Capture) Close() error { return c.pc.Close() }
