package addrarg

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// MaxGroups is the most groups one list or range may name.
const MaxGroups = 4096

// ParseTargets parses one or more GROUP[:PORT] texts, each of which may be
// a comma-separated list and where GROUP may be a range BASE+N (BASE and
// the N addresses after it, e.g. 239.1.1.1+99 is 100 groups). Every group
// must be of one address family and share one port. An empty list falls
// back to envGroup; a missing port to defPort.
func ParseTargets(texts []string, envGroup string, defPort uint16) ([]Target, error) {
	var items []string
	for _, t := range texts {
		for _, it := range strings.Split(t, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
	}
	if len(items) == 0 {
		if envGroup == "" {
			return nil, fmt.Errorf("no group given: pass GROUP[:PORT] or set MULTICAST_ADDR")
		}
		items = []string{envGroup}
	}
	var out []Target
	seen := map[Target]bool{}
	for _, it := range items {
		host, port := SplitHostPort(it)
		n := 0
		if i := strings.LastIndexByte(host, '+'); i >= 0 {
			v, err := strconv.Atoi(host[i+1:])
			if err != nil || v < 0 || v >= MaxGroups {
				return nil, fmt.Errorf("invalid group range %q: want BASE+N with N in 0..%d", it, MaxGroups-1)
			}
			host, n = host[:i], v
		}
		g, err := ParseGroup(host)
		if err != nil {
			return nil, err
		}
		p := defPort
		if port != "" {
			if p, err = ParsePort(port); err != nil {
				return nil, err
			}
		}
		for k := 0; k <= n; k++ {
			if !g.IsMulticast() {
				return nil, fmt.Errorf("invalid group range %q: runs out of the multicast range at %s", it, g)
			}
			t := Target{Group: g, Port: p}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
			g = g.Next()
		}
		if len(out) > MaxGroups {
			return nil, fmt.Errorf("too many groups in %q: at most %d", it, MaxGroups)
		}
	}
	for _, t := range out[1:] {
		if t.Group.Is4() != out[0].Group.Is4() {
			return nil, fmt.Errorf("groups %s and %s: IPv4 and IPv6 cannot be mixed in one run", out[0].Group, t.Group)
		}
		if t.Port != out[0].Port {
			return nil, fmt.Errorf("groups %s and %s: all groups must share one port", out[0], t)
		}
	}
	return out, nil
}

// ParseAddrList parses comma-separated IP addresses (for --source).
func ParseAddrList(texts []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, t := range texts {
		for _, it := range strings.Split(t, ",") {
			it = strings.TrimSpace(it)
			if it == "" {
				continue
			}
			a, err := netip.ParseAddr(it)
			if err != nil {
				return nil, fmt.Errorf("invalid source %q: not an IP address", it)
			}
			a = a.Unmap()
			if a.IsMulticast() || a.IsUnspecified() || (a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255})) {
				return nil, fmt.Errorf("invalid source %q: not a unicast address", it)
			}
			out = append(out, a)
		}
	}
	return out, nil
}
