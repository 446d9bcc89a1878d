//go:build linux

package capture

import (
	"context"
	"fmt"
	"net"

	"golang.org/x/net/bpf"

	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Socket is a live capture: an AF_PACKET socket that yields Linux cooked
// (SLL) frames, which keep the direction and the sender's link address.
//
// The socket is sock.OpenPacketRing's: read through a memory-mapped ring,
// so it keeps up with fast streams and counts what it could not (Drops),
// and it knows when a packet is a UDP segmentation-offload aggregate (a
// sender's UDP_SEGMENT, as seen on the sending host or across a veth):
// Next cuts it into the datagrams the wire carries.
type Socket struct {
	ring  *sock.PacketRing
	names map[int]string
	queue []packet.Frame // the rest of a split aggregate
}

// Open opens a capture on the named interface, or on every interface when
// name is empty, passing only the packets filter accepts. The filter's
// loads must read the IP header at sock.NetOff (as
// packet.MulticastFilter(sock.NetOff) does). On one interface it also asks
// the NIC for all multicast (PACKET_MR_ALLMULTI, dropped when the socket
// closes), so the capture sees groups this host did not join.
func Open(name string, filter []bpf.Instruction) (*Socket, error) {
	prog, err := bpf.Assemble(filter)
	if err != nil {
		return nil, fmt.Errorf("capturing on %s: assembling the filter: %w", name, err)
	}
	ring, err := sock.OpenPacketRing(name, prog, true)
	if err != nil {
		return nil, err
	}
	c := &Socket{ring: ring, names: map[int]string{}}
	if name != "" {
		c.names[ring.Ifindex()] = name
	}
	return c, nil
}

// LinkType is Linux cooked capture.
func (c *Socket) LinkType() uint32 { return pcap.LinkLinuxSLL }

// Next blocks for the next frame; when ctx ends it returns ctx.Err().
func (c *Socket) Next(ctx context.Context) (packet.Frame, error) {
	if len(c.queue) > 0 {
		f := c.queue[0]
		c.queue = c.queue[1:]
		return f, nil
	}
	ip, info, at, err := c.ring.Next(ctx)
	if err != nil {
		return packet.Frame{}, err
	}
	fs := frames(at, c.nameOf(info.Ifindex), info, ip)
	c.queue = fs[1:]
	return fs[0], nil
}

// NextBatch blocks for the next frame and returns it with those that
// follow it without waiting (the rest of the ring's block), up to max.
func (c *Socket) NextBatch(ctx context.Context, max int) ([]packet.Frame, error) {
	f, err := c.Next(ctx)
	if err != nil {
		return nil, err
	}
	out := []packet.Frame{f}
	for len(out) < max && (len(c.queue) > 0 || c.ring.Pending() > 0) {
		f, err := c.Next(ctx)
		if err != nil {
			return out, nil // the next call reports it
		}
		out = append(out, f)
	}
	return out, nil
}

// Drops returns how many packets the kernel could not queue for the
// capture since it opened (its PACKET_STATISTICS): packets no frame was
// made of.
func (c *Socket) Drops() (uint64, error) {
	st, err := c.ring.Stats()
	return st.Drops, err
}

// nameOf names the interface of index idx, asking the system once per
// index; "ifN" when it cannot.
func (c *Socket) nameOf(idx int) string {
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
func (c *Socket) Close() error { return c.ring.Close() }
