package doctor

import (
	"context"
	"fmt"
	"net/netip"
)

// broadcastCheck (6) looks at what IPv4 broadcast needs: an interface with
// the BROADCAST flag and a subnet broadcast route, and hosts that answer
// `ping -b` (net.ipv4.icmp_echo_ignore_broadcasts=0, as the GRETAP hub recipe asks).
type broadcastCheck struct {
	h *Host
	t Target
}

func (broadcastCheck) Name() string { return "broadcast" }

func (c broadcastCheck) Run(ctx context.Context) Result {
	res := Result{Status: OK}
	var notes []string
	ign, err := c.h.FS.SysctlInt("net.ipv4.icmp_echo_ignore_broadcasts")
	switch {
	case err != nil:
		res.Evidence = append(res.Evidence, fmt.Sprintf("could not read: %v", err))
	case ign != 0:
		res.Status = Warn
		notes = append(notes, "this host does not answer broadcast pings (ping -b), so a ping -b test of the LAN misses it; other broadcast traffic is not affected")
		res.Evidence = append(res.Evidence, fmt.Sprintf("net.ipv4.icmp_echo_ignore_broadcasts=%d", ign))
		res.Fix = append(res.Fix, "sysctl -w net.ipv4.icmp_echo_ignore_broadcasts=0")
	default:
		res.Evidence = append(res.Evidence, "net.ipv4.icmp_echo_ignore_broadcasts=0")
	}
	links, err := c.h.Net.Links(ctx)
	if err != nil {
		return Skipf("%v", err)
	}
	t := c.t
	t.Group = netip.Addr{} // broadcast is IPv4 whatever the group
	cands, err := candidates(links, t)
	if err != nil {
		return Skipf("%v", err)
	}
	for _, l := range cands {
		a, ok := l.First(4)
		if !ok {
			continue
		}
		if !l.Broadcast {
			res.Status = worst(res.Status, Fail)
			notes = append(notes, fmt.Sprintf("%s has no BROADCAST flag (point-to-point or tun): it cannot carry broadcast", l.Name))
			res.Evidence = append(res.Evidence, fmt.Sprintf("ip link: %s %s", l.Name, l.Flags()))
			res.Fix = append(res.Fix, fmt.Sprintf("carry broadcast over an interface that has it, or over a tunnel (mcast tunnel) instead of %s", l.Name))
			continue
		}
		if a.Prefix.Bits() >= 31 {
			res.Status = worst(res.Status, Warn)
			notes = append(notes, fmt.Sprintf("%s's address %s has no subnet broadcast address", l.Name, a.Prefix))
			res.Evidence = append(res.Evidence, fmt.Sprintf("ip addr: %s dev %s", a.Prefix, l.Name))
			res.Fix = append(res.Fix, fmt.Sprintf("ip addr replace ADDRESS/24 dev %s brd +   (a prefix shorter than /31)", l.Name))
			continue
		}
		bc := a.Broadcast
		if !bc.IsValid() {
			bc = lastAddr(a.Prefix)
		}
		r, err := c.h.Net.RouteGet(ctx, bc, 0, netipZero)
		if err != nil {
			res.Evidence = append(res.Evidence, fmt.Sprintf("ip route get %s: %v", bc, err))
			continue
		}
		res.Evidence = append(res.Evidence, fmt.Sprintf("ip route get %s: %s", bc, r))
		if r.Type != "broadcast" {
			res.Status = worst(res.Status, Warn)
			notes = append(notes, fmt.Sprintf("%s is not a broadcast address on %s: datagrams to it are sent as unicast", bc, l.Name))
			res.Fix = append(res.Fix, fmt.Sprintf("ip addr replace %s dev %s brd +", a.Prefix, l.Name))
		}
	}
	if len(notes) == 0 {
		res.Summary = "broadcast addresses are routed as broadcast, and this host answers ping -b"
	} else {
		res.Summary = joinAnd(notes)
	}
	return res
}

// lastAddr is the highest address of p (its directed broadcast address).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (1<<host - 1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
