package relay

import (
	"encoding/binary"
	"iter"
	"net/netip"
	"time"

	"github.com/mcasttools/mcast/internal/sock"
	"golang.org/x/net/bpf"
)

// IPv6 next-header values the capture walks past or takes.
const (
	nextHopByHop = 0
	nextUDP      = 17
	nextRouting  = 43
	nextDestOpts = 60

	// maxExtHeaders bounds the extension headers ParseIPv6UDP walks, so a
	// hostile chain costs a fixed amount of work.
	maxExtHeaders = 8
)

// ParseIPv6UDP reads a captured IPv6 packet (as a packet socket returns
// it, from the IPv6 header on): source, destination, hop limit and UDP
// payload, walking hop-by-hop, routing and destination-options headers.
// Fragments and other next headers are refused. The IPv6 payload length
// and the UDP length bound what is read, so link-layer padding is not
// taken for payload; a UDP segmentation-offload aggregate (seen before the
// kernel cut it) reads as one datagram of its whole payload.
func ParseIPv6UDP(b []byte) (src, dst netip.AddrPort, hops uint8, payload []byte, err error) {
	if len(b) < 40 || b[0]>>4 != 6 {
		return src, dst, 0, nil, errNotUDP
	}
	end := 40 + int(binary.BigEndian.Uint16(b[4:6]))
	if end > len(b) {
		return src, dst, 0, nil, errNotUDP
	}
	next, off := b[6], 40
	for i := 0; next != nextUDP; i++ {
		switch next {
		case nextHopByHop, nextRouting, nextDestOpts:
		default:
			return src, dst, 0, nil, errNotUDP
		}
		if i == maxExtHeaders || off+8 > end {
			return src, dst, 0, nil, errNotUDP
		}
		next, off = b[off], off+(int(b[off+1])+1)*8
	}
	if off+8 > end {
		return src, dst, 0, nil, errNotUDP
	}
	u := b[off:end]
	sport, dport, payload, err := ParseUDP(u)
	if err != nil {
		return src, dst, 0, nil, err
	}
	src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), sport)
	dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), dport)
	return src, dst, b[7], payload, nil
}

// CaptureFilter6At is the kernel-side filter of the IPv6 packet capture,
// for packets whose IPv6 header starts at offset off: it keeps packets to
// a multicast destination whose first header is UDP or a hop-by-hop
// header (ParseIPv6UDP walks the rest), so that unicast, such as the
// relay's own underlay frames, and ICMPv6 (MLD, neighbour discovery) never
// reach the capture loop.
func CaptureFilter6At(off uint32) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: off + 24, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0xff, SkipTrue: 3},
		bpf.LoadAbsolute{Off: off + 6, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: nextUDP, SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: nextHopByHop, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 0x40000},
	}
}

// capturedFrame6 handles one frame read by the IPv6 packet capture: a
// virtio-net header, a link-layer header of linkLen bytes, an IPv6 packet.
func (r *Relay) capturedFrame6(w *sendWork, b []byte, linkLen int, now time.Time) {
	seg, ok := sock.VNetSegment(b)
	if !ok {
		return
	}
	off, ok := netOffset(b[sock.VNetHdrLen:], linkLen, etherIPv6)
	if !ok {
		return
	}
	r.captured6(w, seg, b[sock.VNetHdrLen+off:], now)
}

// captured6 handles one IPv6 packet read from the LAN; seg is the segment
// size of a segmented send not yet cut (0: one datagram). Its datagrams
// keep the original source, port and hop limit.
func (r *Relay) captured6(w *sendWork, seg int, pkt []byte, now time.Time) {
	src, dst, hops, payload, err := ParseIPv6UDP(pkt)
	if err != nil || !dst.Addr().IsMulticast() {
		return
	}
	flow := flowLabel(pkt)
	for _, p := range segments(payload, seg) {
		r.onCapturedFlow(w, src, dst, 0, flow, hops, false, p, now)
	}
}

// flowLabel is the flow label of pkt, an IPv6 packet ParseIPv6UDP read.
func flowLabel(pkt []byte) uint32 { return binary.BigEndian.Uint32(pkt[0:4]) & flowLabelMask }

// segments yields the datagrams of a segmented send's payload, each with
// its place k: pieces of seg bytes, the last shorter. A seg of 0 or at
// least the payload's length yields the payload whole.
func segments(payload []byte, seg int) iter.Seq2[int, []byte] {
	return func(yield func(int, []byte) bool) {
		if seg <= 0 || seg >= len(payload) {
			yield(0, payload)
			return
		}
		for k := 0; len(payload) > 0; k++ {
			m := min(seg, len(payload))
			if !yield(k, payload[:m]) {
				return
			}
			payload = payload[m:]
		}
	}
}
