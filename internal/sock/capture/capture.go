// Package capture is the live capture watch and doctor share: an AF_PACKET
// socket (sock.OpenPacketOffload) with a kernel-side BPF filter that yields
// Linux cooked (SLL) frames of the IP packets it hears, in and out, on one
// interface or all of them, with UDP segmentation-offload aggregates cut
// into the datagrams the wire carries.
package capture

import (
	"time"

	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// frames turns one IP packet read from a packet socket, read at now on the
// interface called name, into the Linux cooked frames it stands for: one,
// or one per datagram of a UDP segmentation-offload aggregate read whole
// (packet.SplitUDP). A frame's OrigLen is what the wire carried: the whole
// packet's length for a single frame (it may exceed what was read), the
// datagram's for a segment.
func frames(now time.Time, name string, info sock.PacketInfo, ip []byte) []packet.Frame {
	pkts := [][]byte{ip}
	if info.GSOSize > 0 && len(ip) == info.Len {
		pkts = packet.SplitUDP(ip, info.GSOSize)
	}
	h := packet.SLLHeader{Pkttype: uint16(info.Pkttype), Hatype: info.Hatype, Addr: info.Addr}
	out := make([]packet.Frame, 0, len(pkts))
	for _, p := range pkts {
		data := packet.AppendLinuxSLL(make([]byte, 0, 16+len(p)), h, p)
		orig := len(data)
		if len(pkts) == 1 {
			orig = 16 + info.Len
		}
		out = append(out, packet.Frame{Time: now, Iface: name, LinkType: pcap.LinkLinuxSLL, Data: data, OrigLen: orig})
	}
	return out
}
