package tunnel

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/mcasttools/mcast/internal/contract"
)

// Report is what `mcast tunnel status` finds on a node. Its JSON field
// names are stable (docs/json.md); every list is [] when empty, never null.
type Report struct {
	contract.Header                // type "tunnel.status"; the printer stamps it
	Node            string         `json:"node"`
	Mode            Mode           `json:"mode"`
	Role            string         `json:"role"`
	Underlay        netip.Addr     `json:"underlay"`
	UnderlayDev     string         `json:"underlay_dev"`
	Overlay         netip.Prefix   `json:"overlay"`
	MTU             int            `json:"mtu"`
	Devices         []DeviceStatus `json:"devices"`
	Addrs           []AddrStatus   `json:"addrs"`
	Routes          []RouteStatus  `json:"routes"`
	Sysctls         []SysctlStatus `json:"sysctls"`
	Feature         *FeatureStatus `json:"feature,omitempty"`
	Peers           []PeerStatus   `json:"peers"`
	Problems        []string       `json:"problems"`
	OK              bool           `json:"ok"`
	state           State          // what the report was made against
}

// DeviceStatus is one device of the overlay.
type DeviceStatus struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`           // what the device is
	WantKind string `json:"want_kind"`      // what the config makes
	Peer     string `json:"peer,omitempty"` // the node a tunnel leads to
	Present  bool   `json:"present"`
	Owned    bool   `json:"owned"` // made by mcast tunnel
	Up       bool   `json:"up"`
	MTU      int    `json:"mtu"`
	WantMTU  int    `json:"want_mtu"`
	Master   string `json:"master,omitempty"`
}

// AddrStatus is the overlay address.
type AddrStatus struct {
	Dev     string       `json:"dev"`
	Prefix  netip.Prefix `json:"prefix"`
	Present bool         `json:"present"`
}

// RouteStatus is a route the overlay needs.
type RouteStatus struct {
	Dst     netip.Prefix `json:"dst"`
	Dev     string       `json:"dev"`
	Present bool         `json:"present"`
}

// SysctlStatus is a sysctl the config asks for.
type SysctlStatus struct {
	Key  string `json:"key"`
	Want string `json:"want"`
	Have string `json:"have"`
}

// FeatureStatus is the kernel feature the overlay's tunnels need, checked
// when a tunnel device is missing.
type FeatureStatus struct {
	Name      string `json:"name"` // GRETAP or VXLAN
	Available bool   `json:"available"`
	Error     string `json:"error,omitempty"`
}

// PeerStatus is another node and whether it answers ICMP echo, through the
// overlay and on the underlay.
type PeerStatus struct {
	Peer
	OverlayAnswers  bool    `json:"overlay_answers"`
	OverlayRTTMs    float64 `json:"overlay_rtt_ms,omitempty"`
	UnderlayAnswers bool    `json:"underlay_answers"`
	UnderlayRTTMs   float64 `json:"underlay_rtt_ms,omitempty"`
}

// NewReport starts the report of s, with nothing observed yet.
func NewReport(s State) *Report {
	r := &Report{Node: s.Node.Name, Mode: s.Config.Mode, Role: s.Role, Underlay: s.Node.Underlay,
		UnderlayDev: s.UnderlayDev, Overlay: s.Addrs[0].Prefix, MTU: s.MTU, state: s,
		Devices: []DeviceStatus{}, Addrs: []AddrStatus{}, Routes: []RouteStatus{}, Sysctls: []SysctlStatus{}, Peers: []PeerStatus{}, Problems: []string{}}
	for _, l := range s.Links {
		r.Devices = append(r.Devices, DeviceStatus{Name: l.Name, Kind: l.Kind, WantKind: l.Kind, Peer: l.Peer, WantMTU: l.MTU})
	}
	for _, a := range s.Addrs {
		r.Addrs = append(r.Addrs, AddrStatus{Dev: a.Dev, Prefix: a.Prefix})
	}
	for _, rt := range s.Routes {
		r.Routes = append(r.Routes, RouteStatus{Dst: rt.Dst, Dev: rt.Dev})
	}
	for _, sc := range s.Sysctls {
		r.Sysctls = append(r.Sysctls, SysctlStatus{Key: sc.Key, Want: sc.Value})
	}
	for _, p := range s.Peers {
		r.Peers = append(r.Peers, PeerStatus{Peer: p})
	}
	return r
}

// Assess fills Problems and OK from what was observed.
func (r *Report) Assess() {
	r.Problems = []string{}
	add := func(f string, a ...any) { r.Problems = append(r.Problems, fmt.Sprintf(f, a...)) }
	encap, blocked := "VXLAN", fmt.Sprintf("UDP port %d", r.state.Config.Port)
	if r.Mode == GretapHub {
		encap, blocked = "GRE", "GRE (IP protocol 47)"
	}
	if r.Feature != nil && !r.Feature.Available {
		add("%s is unavailable on this host: %s", encap, r.Feature.Error)
	}
	missing := false
	for _, d := range r.Devices {
		switch {
		case !d.Present:
			missing = true
			add("device %s is missing (run: mcast tunnel up)", d.Name)
		case !d.Owned:
			add("device %s was not made by mcast tunnel", d.Name)
		case d.Kind != d.WantKind:
			add("device %s is a %s device, the config makes a %s (run: mcast tunnel up, which makes it again)", d.Name, d.Kind, d.WantKind)
		case !d.Up:
			add("device %s is down", d.Name)
		case d.MTU != d.WantMTU:
			add("device %s has mtu %d, want %d", d.Name, d.MTU, d.WantMTU)
		}
	}
	if !missing {
		for _, a := range r.Addrs {
			if !a.Present {
				add("address %s is missing on %s", a.Prefix, a.Dev)
			}
		}
		for _, rt := range r.Routes {
			if !rt.Present {
				add("route %s dev %s is missing", rt.Dst, rt.Dev)
			}
		}
	}
	for _, sc := range r.Sysctls {
		if sc.Have != sc.Want {
			add("sysctl %s is %s, want %s", sc.Key, sc.Have, sc.Want)
		}
	}
	overlayOK, underlayOK := 0, 0
	for _, p := range r.Peers {
		if p.OverlayAnswers {
			overlayOK++
		}
		if p.UnderlayAnswers {
			underlayOK++
		}
	}
	if !missing {
		hubDown := false
		for _, p := range r.Peers {
			hubDown = hubDown || (p.Hub && !p.OverlayAnswers)
		}
		for _, p := range r.Peers {
			switch {
			case p.OverlayAnswers:
			case p.Hub && p.UnderlayAnswers:
				add("hub %s is down for the overlay: it answers on the underlay (%s) but not through the overlay (%s), so its tunnel is down or %s is blocked; every spoke depends on it", p.Name, p.Underlay, p.Overlay, blocked)
			case p.Hub:
				add("hub %s is down: it answers neither through the overlay (%s) nor on the underlay (%s); every spoke depends on it", p.Name, p.Overlay, p.Underlay)
			case hubDown:
				add("peer %s is cut off with the hub: spokes reach each other only through it", p.Name)
			case p.UnderlayAnswers:
				add("peer %s answers on the underlay (%s) but not through the overlay (%s): its tunnel is down, or %s is blocked on the path", p.Name, p.Underlay, p.Overlay, blocked)
			default:
				add("peer %s does not answer, neither through the overlay (%s) nor on the underlay (%s): it is down or unreachable", p.Name, p.Overlay, p.Underlay)
			}
		}
		if len(r.Peers) > 1 && overlayOK == 0 && underlayOK == len(r.Peers) && r.Role != "spoke" {
			add("%s looks blocked: every peer answers on the underlay, none through the overlay", blocked)
		}
	}
	r.OK = len(r.Problems) == 0
}

// Write prints the report as text.
func (r *Report) Write(w io.Writer) {
	dev := ""
	if r.UnderlayDev != "" {
		dev = " on " + r.UnderlayDev
	}
	fmt.Fprintf(w, "node %s: mode %s, role %s, underlay %s%s, overlay %s, mtu %d\n", r.Node, r.Mode, r.Role, r.Underlay, dev, r.Overlay, r.MTU)
	if r.Feature != nil {
		state := "available"
		if !r.Feature.Available {
			state = "UNAVAILABLE: " + r.Feature.Error
		}
		fmt.Fprintf(w, "kernel feature %s: %s\n", r.Feature.Name, state)
	}
	for _, d := range r.Devices {
		var b []string
		switch {
		case !d.Present:
			b = append(b, "missing")
		default:
			b = append(b, upDown(d.Up), fmt.Sprintf("mtu %d", d.MTU))
			if d.Master != "" {
				b = append(b, "master "+d.Master)
			}
			if !d.Owned {
				b = append(b, "NOT made by mcast tunnel")
			}
		}
		peer := ""
		if d.Peer != "" {
			peer = " to " + d.Peer
		}
		fmt.Fprintf(w, "device %-10s %s%s: %s\n", d.Name, d.Kind, peer, strings.Join(b, ", "))
	}
	for _, a := range r.Addrs {
		fmt.Fprintf(w, "address %s dev %s: %s\n", a.Prefix, a.Dev, present(a.Present))
	}
	for _, rt := range r.Routes {
		fmt.Fprintf(w, "route %s dev %s: %s\n", rt.Dst, rt.Dev, present(rt.Present))
	}
	for _, sc := range r.Sysctls {
		fmt.Fprintf(w, "sysctl %s = %s (want %s)\n", sc.Key, sc.Have, sc.Want)
	}
	fmt.Fprintf(w, "%-12s %-16s %-16s %-17s %s\n", "PEER", "OVERLAY", "UNDERLAY", "THROUGH TUNNEL", "ON UNDERLAY")
	for _, p := range r.Peers {
		name := p.Name
		if p.Hub {
			name += " (hub)"
		}
		fmt.Fprintf(w, "%-12s %-16s %-16s %-17s %s\n", name, p.Overlay, p.Underlay, answer(p.OverlayAnswers, p.OverlayRTTMs), answer(p.UnderlayAnswers, p.UnderlayRTTMs))
	}
	if r.OK {
		fmt.Fprintln(w, "ok: the overlay is up and every peer answers through it")
		return
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
}

func upDown(up bool) string {
	if up {
		return "up"
	}
	return "DOWN"
}

func present(ok bool) string {
	if ok {
		return "present"
	}
	return "MISSING"
}

func answer(ok bool, ms float64) string {
	if ok {
		return fmt.Sprintf("answers %.2f ms", ms)
	}
	return "no answer"
}
