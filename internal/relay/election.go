package relay

import (
	"encoding/binary"
	"hash/fnv"
	"net/netip"
)

// Forwarder elects, among the relays serving one LAN (self and the LAN peers
// that are up), the one that captures and re-emits group: the highest
// rendezvous hash of (node ID, group) wins, so groups spread over the
// relays and every relay computes the same answer from the same view.
func Forwarder(group netip.Addr, candidates []uint32) uint32 {
	var best uint32
	var bestScore uint64
	g := group.As16()
	for i, id := range candidates {
		h := fnv.New64a()
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], id)
		h.Write(b[:])
		h.Write(g[:])
		s := mix(h.Sum64())
		if i == 0 || s > bestScore || (s == bestScore && id > best) {
			best, bestScore = id, s
		}
	}
	return best
}

// mix is splitmix64's finalizer: every bit of x moves every bit of the
// result. FNV alone barely moves its high bits when only the last bytes
// differ, which would hand every group to one relay; the IPv6 relay tag
// (copies.go) mixes with it too.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
