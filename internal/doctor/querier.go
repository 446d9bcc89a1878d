package doctor

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// Querier is what a bridge knows of the IGMP querier on its segment
// (IFLA_BR_MCAST_QUERIER_STATE, Linux 5.15 and later).
type Querier struct {
	Addr       netip.Addr    // the querier's address; 0.0.0.0 when it queries from no address
	PortIndex  int           // the bridge port it was heard on, 0 for the bridge itself
	OtherTimer time.Duration // time left before another querier is taken as gone; 0 when none is
}

// Present reports whether another querier is being heard.
func (q Querier) Present() bool { return q.OtherTimer > 0 || q.PortIndex != 0 }

// Netlink attribute types of the nested querier state (linux/if_bridge.h).
const (
	querierIPAddress    = 1
	querierIPPort       = 2
	querierIPOtherTimer = 3
)

// ParseQuerierState decodes the payload of IFLA_BR_MCAST_QUERIER_STATE: a
// list of netlink attributes. Unknown attributes (IPv6) are skipped.
func ParseQuerierState(b []byte) (Querier, error) {
	var q Querier
	for len(b) > 0 {
		if len(b) < 4 {
			return Querier{}, fmt.Errorf("querier state: %d trailing bytes", len(b))
		}
		n := int(binary.NativeEndian.Uint16(b[0:2]))
		typ := binary.NativeEndian.Uint16(b[2:4]) & 0x3fff
		if n < 4 || n > len(b) {
			return Querier{}, fmt.Errorf("querier state: attribute length %d of %d bytes", n, len(b))
		}
		v := b[4:n]
		switch typ {
		case querierIPAddress:
			if len(v) != 4 {
				return Querier{}, fmt.Errorf("querier state: address of %d bytes", len(v))
			}
			q.Addr = netip.AddrFrom4([4]byte(v))
		case querierIPPort:
			if len(v) != 4 {
				return Querier{}, fmt.Errorf("querier state: port of %d bytes", len(v))
			}
			q.PortIndex = int(binary.NativeEndian.Uint32(v))
		case querierIPOtherTimer:
			if len(v) != 8 {
				return Querier{}, fmt.Errorf("querier state: timer of %d bytes", len(v))
			}
			q.OtherTimer = time.Duration(binary.NativeEndian.Uint64(v)) * 10 * time.Millisecond // clock_t, 1/100 s
		}
		adv := (n + 3) &^ 3
		if adv > len(b) {
			adv = len(b)
		}
		b = b[adv:]
	}
	return q, nil
}
