package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Status looks at this host's part of overlay s: its devices, address,
// routes and sysctls, and pings every peer through the overlay and on the
// underlay, waiting at most timeout for answers.
func Status(ctx context.Context, s State, timeout time.Duration) (*Report, error) {
	k, err := newKernel(nil)
	if err != nil {
		return nil, err
	}
	defer k.close()
	r := NewReport(s)
	missingTunnel := ""
	for i, l := range s.Links {
		d := &r.Devices[i]
		cur, err := k.link(l.Name)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			if l.Kind != KindBridge {
				missingTunnel = l.Kind
			}
			continue
		}
		a := cur.Attrs()
		d.Present, d.Owned, d.MTU = true, OwnedDevice(a.Alias, a.Group), a.MTU
		d.Up = a.Flags&net.FlagUp != 0 && a.OperState != netlink.OperDown
		d.Kind = cur.Type()
		if a.MasterIndex != 0 {
			if m, err := k.h.LinkByIndex(a.MasterIndex); err == nil {
				d.Master = m.Attrs().Name
			}
		}
	}
	if missingTunnel != "" {
		f := &FeatureStatus{Name: featureName(missingTunnel), Available: true}
		if err := Probe(missingTunnel); err != nil {
			f.Available, f.Error = false, err.Error()
		}
		r.Feature = f
	}
	for i, a := range s.Addrs {
		dev, _ := k.link(a.Dev)
		if dev == nil {
			continue
		}
		have, err := k.h.AddrList(dev, unix.AF_INET)
		if err != nil {
			return nil, fmt.Errorf("listing addresses of %s: %w", a.Dev, err)
		}
		for _, h := range have {
			if p, ok := netipPrefix(h.IPNet); ok && p == a.Prefix {
				r.Addrs[i].Present = true
			}
		}
	}
	for i, rt := range s.Routes {
		dev, _ := k.link(rt.Dev)
		if dev == nil {
			continue
		}
		rs, err := k.h.RouteListFiltered(unix.AF_INET, &netlink.Route{Dst: prefixNet(rt.Dst), LinkIndex: dev.Attrs().Index, Table: unix.RT_TABLE_MAIN},
			netlink.RT_FILTER_DST|netlink.RT_FILTER_OIF|netlink.RT_FILTER_TABLE)
		if err != nil {
			return nil, fmt.Errorf("listing routes to %s: %w", rt.Dst, err)
		}
		r.Routes[i].Present = len(rs) > 0
	}
	for i, sc := range s.Sysctls {
		v, err := readSysctl(sc.Key)
		if err != nil {
			return nil, err
		}
		r.Sysctls[i].Have = v
	}

	overlayUp := len(r.Devices) > 0 && r.Devices[0].Present
	var targets []netip.Addr
	for _, p := range s.Peers {
		targets = append(targets, p.Underlay)
		if overlayUp {
			targets = append(targets, p.Overlay)
		}
	}
	rtt, err := pingAll(ctx, targets, timeout)
	if err != nil {
		return nil, err
	}
	for i, p := range s.Peers {
		ps := &r.Peers[i]
		if d, ok := rtt[p.Overlay]; ok && overlayUp {
			ps.OverlayAnswers, ps.OverlayRTTMs = true, ms(d)
		}
		if d, ok := rtt[p.Underlay]; ok {
			ps.UnderlayAnswers, ps.UnderlayRTTMs = true, ms(d)
		}
	}
	r.Assess()
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pingAll sends ICMP echo requests to every target (three tries, 300 ms
// apart) and returns the round-trip time of the first answer from each.
func pingAll(ctx context.Context, targets []netip.Addr, timeout time.Duration) (map[netip.Addr]time.Duration, error) {
	out := map[netip.Addr]time.Duration{}
	if len(targets) == 0 {
		return out, nil
	}
	c, err := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if err != nil {
		if errors.Is(err, os.ErrPermission) {
			return nil, fmt.Errorf("opening an ICMP socket to ping the peers: %w (needs CAP_NET_RAW)", err)
		}
		return nil, fmt.Errorf("opening an ICMP socket to ping the peers: %w", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	_ = c.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	id := os.Getpid() & 0xffff
	type sent struct {
		to netip.Addr
		at time.Time
	}
	sends := make(chan sent, 3*len(targets))
	go func() {
		for try := 0; try < 3; try++ {
			for i, t := range targets {
				m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: try*len(targets) + i, Data: []byte("mcast tunnel status")}}
				b, _ := m.Marshal(nil)
				sends <- sent{to: t, at: time.Now()}
				_, _ = c.WriteTo(b, &net.IPAddr{IP: ip(t)})
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(300 * time.Millisecond):
			}
		}
	}()
	bySeq := map[int]sent{}
	buf := make([]byte, 1500)
	for len(out) < len(targets) {
		n, peer, err := c.ReadFrom(buf)
		if err != nil {
			break // the deadline: who answered, answered
		}
		now := time.Now()
	drain:
		for {
			select {
			case s := <-sends:
				bySeq[len(bySeq)] = s
			default:
				break drain
			}
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil || m.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		e, ok := m.Body.(*icmp.Echo)
		if !ok || e.ID != id {
			continue
		}
		s, ok := bySeq[e.Seq]
		from, _ := netip.AddrFromSlice(peer.(*net.IPAddr).IP)
		if !ok || s.to != from.Unmap() {
			continue
		}
		if _, done := out[s.to]; !done {
			out[s.to] = now.Sub(s.at)
		}
	}
	return out, nil
}
