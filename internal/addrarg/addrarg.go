// Package addrarg parses the addresses a user types: groups, ports and
// GROUP[:PORT] pairs. It is pure: nothing here touches the network.
package addrarg

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// DefaultPort is the UDP port used when neither a flag nor MULTICAST_PORT names one.
const DefaultPort = 28000

// ParsePort parses a UDP port number in 1..65535.
func ParsePort(s string) (uint16, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid port %q: not a number", s)
	}
	if n == 0 || n > 65535 {
		return 0, fmt.Errorf("invalid port %q: must be 1..65535", s)
	}
	return uint16(n), nil
}

// ParseGroup parses a multicast group address (IPv4 224.0.0.0/4 or IPv6 ff00::/8).
func ParseGroup(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid group %q: not an IP address", s)
	}
	a = a.Unmap()
	if !a.IsMulticast() {
		return netip.Addr{}, fmt.Errorf("invalid group %q: not a multicast address (IPv4 224.0.0.0/4, IPv6 ff00::/8)", s)
	}
	return a, nil
}

// Target is a group and a UDP port.
type Target struct {
	Group netip.Addr
	Port  uint16
}

func (t Target) String() string { return netip.AddrPortFrom(t.Group, t.Port).String() }

// SplitHostPort splits "A", "A:P", "[v6]:P" or a bare IPv6 address into
// address and optional port text.
func SplitHostPort(s string) (host, port string) {
	if strings.HasPrefix(s, "[") {
		if i := strings.LastIndex(s, "]"); i > 0 {
			host = s[1:i]
			if rest := s[i+1:]; strings.HasPrefix(rest, ":") {
				port = rest[1:]
			}
			return host, port
		}
	}
	if strings.Count(s, ":") == 1 {
		i := strings.IndexByte(s, ':')
		return s[:i], s[i+1:]
	}
	return s, ""
}

// ParseTarget parses GROUP[:PORT]. An empty text falls back to envGroup
// (MULTICAST_ADDR); a missing port falls back to defPort.
func ParseTarget(text, envGroup string, defPort uint16) (Target, error) {
	if text == "" {
		text = envGroup
	}
	if text == "" {
		return Target{}, fmt.Errorf("no group given: pass GROUP[:PORT] or set MULTICAST_ADDR")
	}
	host, port := SplitHostPort(text)
	g, err := ParseGroup(host)
	if err != nil {
		return Target{}, err
	}
	t := Target{Group: g, Port: defPort}
	if port != "" {
		if t.Port, err = ParsePort(port); err != nil {
			return Target{}, err
		}
	}
	return t, nil
}

// DefaultPortFrom returns the port from MULTICAST_PORT text, or DefaultPort when empty.
func DefaultPortFrom(env string) (uint16, error) {
	if env == "" {
		return DefaultPort, nil
	}
	p, err := ParsePort(env)
	if err != nil {
		return 0, fmt.Errorf("MULTICAST_PORT: %w", err)
	}
	return p, nil
}
