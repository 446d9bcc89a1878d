//go:build linux

package watch

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"time"

	"golang.org/x/net/bpf"

	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Capture is an AF_PACKET socket that receives IPv4 and IPv6 multicast
// packets, in and out, on one interface or all of them. Frames come out as
// Linux cooked (SLL) records of the IP packet, which keep the direction and
// the sender's link address.
//
// The socket is sock.OpenPacketOffload's, so it knows when a packet is a
// UDP segmentation-offload aggregate (a sender's UDP_SEGMENT, as seen on
// the sending host or across a veth): Next cuts it into the datagrams the
// wire carries (igmp.SplitUDP).
type Capture struct {
	pc    *sock.PacketConn
	names map[int]string
	buf   []byte
	queue []Frame // the rest of a split aggregate
}

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
	prog, err := filter()
	if err != nil {
		return nil, fmt.Errorf("capturing on %s: assembling the filter: %w", name, err)
	}
	pc, err := sock.OpenPacketOffload(name, prog, true)
	if err != nil {
		return nil, err
	}
	// An aggregate is at most 64 KiB of IP; the link and virtio headers
	// come before it.
	c := &Capture{pc: pc, names: map[int]string{}, buf: make([]byte, 1<<17)}
	if name != "" {
		c.names[pc.Ifindex()] = name
	}
	return c, nil
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
	capLen, info, err := c.pc.Read(ctx, c.buf)
	now := time.Now()
	if err != nil {
		return Frame{}, err
	}
	ip := c.buf[:capLen]
	pkts := [][]byte{ip}
	if info.GSOSize > 0 && capLen == info.Len {
		pkts = igmp.SplitUDP(ip, info.GSOSize)
	}
	var hdr [16]byte
	binary.BigEndian.PutUint16(hdr[0:], uint16(info.Pkttype))
	binary.BigEndian.PutUint16(hdr[2:], info.Hatype)
	binary.BigEndian.PutUint16(hdr[4:], uint16(len(info.Addr)))
	copy(hdr[6:14], info.Addr)
	name := c.nameOf(info.Ifindex)
	frames := make([]Frame, 0, len(pkts))
	for _, p := range pkts {
		et := uint16(0x0800)
		if len(p) > 0 && p[0]>>4 == 6 {
			et = 0x86dd
		}
		binary.BigEndian.PutUint16(hdr[14:], et)
		data := make([]byte, 16+len(p))
		copy(data, hdr[:])
		copy(data[16:], p)
		orig := 16 + len(p)
		if len(pkts) == 1 {
			orig = 16 + info.Len
		}
		frames = append(frames, Frame{Time: now, Iface: name, LinkType: pcap.LinkLinuxSLL, Data: data, OrigLen: orig})
	}
	c.queue = frames[1:]
	return frames[0], nil
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
