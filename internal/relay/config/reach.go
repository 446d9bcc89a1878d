package config

// Several interfaces in one relay, what may cross between them, and the
// service presets.
//
//	interface iot                     # repeat: one relay serves several LANs
//	interface lan
//	interface br-media wait           # served while it is up (a Docker bridge)
//	interface br-media allow 172.28.0.0/24  # sources a datagram captured there may have
//	service mdns                      # a discovery protocol by name
//	allow mdns from iot to lan        # mDNS crosses from iot to lan, not back
//	allow 239.1.1.1 broadcast:9 from lan to iot,guest
//	mdns-type _googlecast._tcp _ipp._tcp  # only these DNS-SD types' mDNS is carried

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Service is a discovery protocol carried by name (`service NAME`): its
// groups, carried only to and from its UDP port.
type Service struct {
	Name   string
	Groups []netip.Addr
	Port   uint16
	Line   int
}

// Services are the presets `service` takes, by name.
var Services = map[string]Service{
	"mdns":  {Name: "mdns", Port: 5353, Groups: addrs("224.0.0.251", "ff02::fb")},
	"ssdp":  {Name: "ssdp", Port: 1900, Groups: addrs("239.255.255.250", "ff02::c", "ff05::c")},
	"wsd":   {Name: "wsd", Port: 3702, Groups: addrs("239.255.255.250", "ff02::c")},
	"llmnr": {Name: "llmnr", Port: 5355, Groups: addrs("224.0.0.252", "ff02::1:3")},
}

func addrs(s ...string) []netip.Addr {
	out := make([]netip.Addr, len(s))
	for i, a := range s {
		out[i] = netip.MustParseAddr(a)
	}
	return out
}

// serviceNames are the presets' names, sorted, for error messages.
func serviceNames() string {
	var n []string
	for k := range Services {
		n = append(n, k)
	}
	slices.Sort(n)
	return strings.Join(n, ", ")
}

// Allow is one `allow` line: the traffic it names (groups, broadcast ports)
// may cross from one interface to the others it lists. Traffic no allow
// line names crosses between every pair of interfaces; traffic one names
// crosses only where an allow line lets it.
type Allow struct {
	Groups []netip.Prefix
	Ports  []uint16 // broadcast ports
	From   string
	To     []string
	Line   int
}

// names reports whether the allow line covers the datagram to dst
// (broadcast: a broadcast to dst's port).
func (a *Allow) names(dst netip.AddrPort, bcast bool) bool {
	if bcast {
		return slices.Contains(a.Ports, dst.Port())
	}
	for _, p := range a.Groups {
		if p.Contains(dst.Addr()) {
			return true
		}
	}
	return false
}

// Crosses reports whether a datagram to dst (a broadcast to dst's port when
// bcast) captured on interface from may be re-emitted on interface to.
func (c *Config) Crosses(dst netip.AddrPort, bcast bool, from, to string) bool {
	named := false
	for i := range c.Allows {
		a := &c.Allows[i]
		if !a.names(dst, bcast) {
			continue
		}
		named = true
		if a.From == from && slices.Contains(a.To, to) {
			return true
		}
	}
	return !named
}

// PortCarried reports whether a datagram to dst of a carried group may be
// carried: a group a `service` alone brings is carried only to and from
// that service's port.
func (c *Config) PortCarried(dst netip.AddrPort) bool {
	if len(c.Services) == 0 {
		return true
	}
	g := dst.Addr()
	only := false
	for _, s := range c.Services {
		if slices.Contains(s.Groups, g) {
			if s.Port == dst.Port() {
				return true
			}
			only = true
		}
	}
	if !only {
		return true
	}
	for _, p := range c.Groups {
		if p.Contains(g) {
			return true
		}
	}
	return false
}

// parseInterface takes one `interface` line.
func (c *Config) parseInterface(args []string, line int, errf func(string, ...any) error) error {
	const form = "interface NAME [wait] [allow PREFIX[,PREFIX...]]"
	if len(args) == 0 {
		return errf("interface takes %s", form)
	}
	name := args[0]
	if len(name) > 15 || strings.ContainsAny(name, "/ ,") {
		return errf("invalid interface name %q", name)
	}
	if i := slices.Index(c.Interfaces, name); i >= 0 {
		return errf("interface %s given twice (first on line %d)", name, c.InterfaceLines[i])
	}
	wait := false
	var allow []netip.Prefix
	for rest := args[1:]; len(rest) > 0; rest = rest[1:] {
		switch {
		case rest[0] == "wait" && !wait:
			wait = true
		case rest[0] == "allow" && allow == nil:
			if len(rest) < 2 {
				return errf("interface %s: allow takes PREFIX[,PREFIX...]", name)
			}
			rest = rest[1:]
			var err error
			if allow, err = parseAllow(rest[0]); err != nil {
				return errf("interface %s allow %q: %v", name, rest[0], err)
			}
		default:
			return errf("interface %s: unexpected %q: want %s", name, rest[0], form)
		}
	}
	if c.Interface == "" {
		c.Interface = name
	}
	c.Interfaces = append(c.Interfaces, name)
	c.InterfaceLines = append(c.InterfaceLines, line)
	c.InterfaceWait = append(c.InterfaceWait, wait)
	if allow != nil || c.InterfaceAllow != nil { // nil while no interface line has allow
		c.InterfaceAllow = append(c.InterfaceAllow, make([][]netip.Prefix, len(c.Interfaces)-1-len(c.InterfaceAllow))...)
		c.InterfaceAllow = append(c.InterfaceAllow, allow)
	}
	return nil
}

// SourceAllowed reports whether a datagram from src captured on interface
// name may be carried: the interface line's `allow` prefixes hold src, or
// it has none.
func (c *Config) SourceAllowed(name string, src netip.Addr) bool {
	i := slices.Index(c.Interfaces, name)
	if i < 0 || i >= len(c.InterfaceAllow) || c.InterfaceAllow[i] == nil {
		return true
	}
	for _, p := range c.InterfaceAllow[i] {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// Waits reports whether the config's interface line for name says wait:
// the relay starts while that interface is missing or down and waits for
// it, instead of refusing to start.
func (c *Config) Waits(name string) bool {
	i := slices.Index(c.Interfaces, name)
	return i >= 0 && i < len(c.InterfaceWait) && c.InterfaceWait[i]
}

// parseService takes one `service` line: one or more preset names.
func (c *Config) parseService(args []string, line int, errf func(string, ...any) error) error {
	if len(args) == 0 {
		return errf("service takes one or more of %s", serviceNames())
	}
	for _, a := range args {
		s, ok := Services[a]
		if !ok {
			return errf("service %q: want one of %s", a, serviceNames())
		}
		for _, prev := range c.Services {
			if prev.Name == a {
				return errf("service %s given twice (first on line %d)", a, prev.Line)
			}
		}
		s.Line = line
		c.Services = append(c.Services, s)
	}
	return nil
}

// parseAllow takes one `allow WHAT... from IFACE to IFACE[,IFACE...]` line;
// WHAT is a group, a range, broadcast:PORT or a service name.
func (c *Config) parseAllow(args []string, line int, errf func(string, ...any) error) error {
	const form = "allow GROUP|GROUP/BITS|broadcast:PORT|SERVICE... from IFACE to IFACE[,IFACE...]"
	n := len(args)
	if n < 5 || args[n-4] != "from" || args[n-2] != "to" {
		return errf("allow %q: want %s", strings.Join(args, " "), form)
	}
	a := Allow{From: args[n-3], To: strings.Split(args[n-1], ","), Line: line}
	for _, w := range args[:n-4] {
		if s, ok := Services[w]; ok {
			for _, g := range s.Groups {
				a.Groups = append(a.Groups, netip.PrefixFrom(g, g.BitLen()))
			}
			continue
		}
		if p, ok := strings.CutPrefix(w, "broadcast:"); ok {
			v, err := strconv.ParseUint(p, 10, 16)
			if err != nil || v == 0 {
				return errf("allow %q: not a port 1..65535", w)
			}
			a.Ports = append(a.Ports, uint16(v))
			continue
		}
		p, err := parseGroup(w)
		if err != nil {
			return errf("allow %q: %v (or name a service: %s)", w, err, serviceNames())
		}
		a.Groups = append(a.Groups, p)
	}
	for _, to := range a.To {
		if to == a.From {
			return errf("allow: interface %s is both from and to", to)
		}
	}
	c.Allows = append(c.Allows, a)
	return nil
}

// parseMDNSType takes one `mdns-type` line: DNS-SD service types.
func (c *Config) parseMDNSType(args []string, line int, errf func(string, ...any) error) error {
	if len(args) == 0 {
		return errf("mdns-type takes one or more service types such as _ipp._tcp")
	}
	for _, a := range args {
		t := strings.ToLower(a)
		name, proto, ok := strings.Cut(t, ".")
		if !ok || len(name) < 2 || len(name) > 64 || name[0] != '_' || (proto != "_tcp" && proto != "_udp") {
			return errf("mdns-type %q: not a service type such as _ipp._tcp or _sleep-proxy._udp", a)
		}
		if slices.Contains(c.MDNSTypes, t) {
			return errf("mdns-type %s given twice", a)
		}
		c.MDNSTypes = append(c.MDNSTypes, t)
	}
	if c.MDNSTypeLine == 0 {
		c.MDNSTypeLine = line
	}
	return nil
}

// validateReach checks what only the whole file tells: every interface an
// allow line names is configured, and no explicit group is one a service
// brings too.
func (c *Config) validateReach(name string) error {
	for _, a := range c.Allows {
		for _, ifc := range append([]string{a.From}, a.To...) {
			if !slices.Contains(c.Interfaces, ifc) {
				return &Error{File: name, Line: a.Line, Msg: fmt.Sprintf("allow names interface %s, which no interface line configures", ifc)}
			}
		}
	}
	if len(c.MDNSTypes) > 0 && !slices.ContainsFunc(c.Services, func(s Service) bool { return s.Name == "mdns" }) {
		return &Error{File: name, Line: c.MDNSTypeLine, Msg: "mdns-type without service mdns: add a service mdns line"}
	}
	for _, s := range c.Services {
		for _, g := range s.Groups {
			for i, p := range c.Groups {
				if p.Contains(g) {
					return &Error{File: name, Line: c.GroupLines[i], Msg: fmt.Sprintf("group %s takes in %s, which service %s (line %d) carries on port %d only: drop one", p, g, s.Name, s.Line, s.Port)}
				}
			}
		}
	}
	return nil
}
