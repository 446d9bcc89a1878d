package relay

// Copies of IPv6 transmissions. IPv6 has no identification, so the content
// key cannot tell a host's second identical datagram (a repeated mDNS
// probe, SSDP NOTIFY or end marker) from a relay's copy of the first. The
// relays tell them apart by the flow label of their re-emissions instead,
// and by who put a key in the seen table.

import (
	"encoding/binary"
	"hash/crc32"
	"net/netip"
	"time"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// flowLabelMask is the flow label's 20 bits in the first word of an IPv6
// header.
const flowLabelMask = 1<<20 - 1

// flowTag is the flow label of a relay's raw IPv6 re-emission of payload
// from src to dst: a 20-bit function of the content, fixed and the same in
// every relay (not secret: forging it only keeps the forger's own datagram
// from being carried), never 0. A captured packet whose flow label is the
// tag of its content is a relay's copy. A host's packet has the tag by
// chance only: Linux labels a flow with a hash of its addresses and ports
// (net.ipv6.auto_flowlabels, on by default), constant for the flow, and
// other stacks put 0 or a random label, so a host's datagram matches its
// tag with probability 2^-20 and is then taken for a copy and not carried.
func flowTag(src, dst netip.AddrPort, payload []byte) uint32 {
	s, d := src.Addr().As16(), dst.Addr().As16()
	x := uint64(crc32.Update(0, castagnoli, payload))
	x = mix(x ^ binary.BigEndian.Uint64(s[0:8]))
	x = mix(x ^ binary.BigEndian.Uint64(s[8:16]))
	x = mix(x ^ binary.BigEndian.Uint64(d[0:8]))
	x = mix(x ^ binary.BigEndian.Uint64(d[8:16]))
	x = mix(x ^ uint64(src.Port())<<16 ^ uint64(dst.Port()))
	if t := uint32(x >> 44); t != 0 {
		return t
	}
	return 1
}

// relayedCopy reports whether a captured IPv6 packet with flow label flow
// is a relay's re-emission of payload (flowTag).
func relayedCopy(flow uint32, src, dst netip.AddrPort, payload []byte) bool {
	return flow != 0 && flow == flowTag(src, dst, payload)
}

// capturedCopy remembers the content key ck of a datagram captured on the
// LAN and reports whether the datagram is a copy of a transmission already
// handled, not to be carried. IPv4: its key was seen (the identification
// tells transmissions apart). IPv6: it carries the relay tag in its flow
// label; any other IPv6 packet is a host's new transmission, its key
// marked captured, so that the content coming back from a peer is a loop.
func (r *Relay) capturedCopy(ck uint64, src, dst netip.AddrPort, flow uint32, payload []byte, now time.Time) bool {
	if !dst.Addr().Is6() {
		r.cmu.Lock()
		again := r.seen.TestAndAdd(ck, now)
		r.cmu.Unlock()
		return again
	}
	copied := relayedCopy(flow, src, dst, payload)
	r.cmu.Lock()
	r.seen.Mark(ck, now, markCaptured)
	r.cmu.Unlock()
	return copied
}

// recordLoops reports whether a datagram of content key ck carried by the
// peer of node ID origin is already on this LAN and must not be re-emitted
// (a `loop` drop).
func (r *Relay) recordLoops(ck uint64, v6 bool, origin uint32, now time.Time) bool {
	r.cmu.Lock()
	marks, seen := r.seen.Lookup(ck, now)
	r.cmu.Unlock()
	return loops(marks, seen, v6, originMark(origin))
}

// loops decides recordLoops from the marks of the content's key (seen:
// it is live). IPv4: any live key (the LAN had that transmission). IPv6:
// content captured here, or re-emitted from a record another peer (or no
// peer) carried: a copy of one transmission that two relays carried. The
// same content re-emitted from the same peer's record is that peer's next
// transmission of it (the peer's datagram IDs already drop repeats).
func loops(marks uint16, seen, v6 bool, origin uint16) bool {
	switch {
	case !seen:
		return false
	case !v6, marks&markCaptured != 0:
		return true
	}
	return marks&markOrigin != origin
}

// reemitted marks the content key ck of an IPv6 datagram this relay
// re-emitted from a record the peer of node ID origin carried.
func (r *Relay) reemitted(ck uint64, origin uint32, now time.Time) {
	r.cmu.Lock()
	r.seen.Mark(ck, now, originMark(origin))
	r.cmu.Unlock()
}
