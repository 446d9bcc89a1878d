// Package mac maps IP multicast groups to Ethernet multicast addresses and
// back (RFC 1112 section 6.4 for IPv4, RFC 2464 section 7 for IPv6).
//
// An IPv4 group keeps only its low 23 bits in the MAC 01:00:5e:xx:xx:xx, so
// 32 groups share each MAC; an IPv6 group keeps its low 32 bits in
// 33:33:xx:xx:xx:xx. Everything here is pure.
package mac

import (
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strings"
)

// FromGroup returns the Ethernet multicast address of an IPv4 or IPv6
// multicast group.
func FromGroup(g netip.Addr) (net.HardwareAddr, error) {
	g = g.Unmap()
	if !g.IsMulticast() {
		return nil, fmt.Errorf("%s is not a multicast address (IPv4 224.0.0.0/4 or IPv6 ff00::/8)", g)
	}
	if g.Is4() {
		b := g.As4()
		return net.HardwareAddr{0x01, 0x00, 0x5e, b[1] & 0x7f, b[2], b[3]}, nil
	}
	b := g.As16()
	return net.HardwareAddr{0x33, 0x33, b[12], b[13], b[14], b[15]}, nil
}

// Family says which IP family a multicast MAC belongs to.
type Family int

// MAC families.
const (
	IPv4 Family = 4 // 01:00:5e:00:00:00 to 01:00:5e:7f:ff:ff
	IPv6 Family = 6 // 33:33:xx:xx:xx:xx
)

// Classify says whether m is an IPv4 or IPv6 multicast MAC, or fails
// naming it.
func Classify(m net.HardwareAddr) (Family, error) {
	switch {
	case len(m) != 6:
		return 0, fmt.Errorf("%s is not a 6-byte Ethernet address", m)
	case m[0] == 0x01 && m[1] == 0x00 && m[2] == 0x5e && m[3]&0x80 == 0:
		return IPv4, nil
	case m[0] == 0x33 && m[1] == 0x33:
		return IPv6, nil
	}
	return 0, fmt.Errorf("%s is not an IP multicast MAC (01:00:5e:00:00:00-01:00:5e:7f:ff:ff or 33:33:xx:xx:xx:xx)", m)
}

// IPv4Groups returns the 32 IPv4 groups that map to m, in order.
func IPv4Groups(m net.HardwareAddr) ([]netip.Addr, error) {
	f, err := Classify(m)
	if err != nil {
		return nil, err
	}
	if f != IPv4 {
		return nil, fmt.Errorf("%s is an IPv6 multicast MAC: it stands for every IPv6 group ending in %s", m, IPv6Suffix(m))
	}
	out := make([]netip.Addr, 0, 32)
	for hi := byte(0); hi < 16; hi++ {
		for bit := byte(0); bit < 2; bit++ {
			out = append(out, netip.AddrFrom4([4]byte{0xe0 | hi, m[3] | bit<<7, m[4], m[5]}))
		}
	}
	return out, nil
}

// IPv6Suffix returns the low 32 bits an IPv6 MAC keeps, written as the end
// of an IPv6 address ("::1:ff00:2" style: "xxxx:xxxx").
func IPv6Suffix(m net.HardwareAddr) string {
	if len(m) != 6 {
		return ""
	}
	return fmt.Sprintf("%x:%x", uint16(m[2])<<8|uint16(m[3]), uint16(m[4])<<8|uint16(m[5]))
}

// Collision is a MAC shared by more than one of the given groups.
type Collision struct {
	MAC    net.HardwareAddr
	Groups []netip.Addr
}

// Collisions returns the MACs that more than one group in groups maps to,
// ordered by MAC. Non-multicast addresses, duplicates and interface-local
// IPv6 groups (ff01::/16, which never reach the wire) are ignored.
func Collisions(groups []netip.Addr) []Collision {
	by := map[string]*Collision{}
	seen := map[netip.Addr]bool{}
	for _, g := range groups {
		g = g.Unmap()
		if seen[g] || g.IsInterfaceLocalMulticast() {
			continue
		}
		seen[g] = true
		m, err := FromGroup(g)
		if err != nil {
			continue
		}
		c := by[m.String()]
		if c == nil {
			c = &Collision{MAC: m}
			by[m.String()] = c
		}
		c.Groups = append(c.Groups, g)
	}
	var out []Collision
	for _, c := range by {
		if len(c.Groups) > 1 {
			sort.Slice(c.Groups, func(i, j int) bool { return c.Groups[i].Less(c.Groups[j]) })
			out = append(out, *c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MAC.String() < out[j].MAC.String() })
	return out
}

// Explain draws the mapping of an IPv4 group as multicast programming guides draw it: the bits that
// are dropped and the 23 bits copied into 01:00:5e. For an IPv6 group it
// shows the 32 copied bits.
func Explain(g netip.Addr) (string, error) {
	m, err := FromGroup(g)
	if err != nil {
		return "", err
	}
	g = g.Unmap()
	var sb strings.Builder
	bits := func(b byte) string { return fmt.Sprintf("%08b", b) }
	if g.Is4() {
		b := g.As4()
		fmt.Fprintf(&sb, "IPv4 group %s -> MAC %s: the low 23 bits are copied after 01:00:5e and a 0 bit\n\n", g, m)
		pad := strings.Repeat(" ", 22)
		fmt.Fprintf(&sb, "%s  %-10d %-11d %-10d %d\n", pad, b[0], b[1], b[2], b[3])
		fmt.Fprintf(&sb, "%s| %s | %s %s | %s | %s |  group\n", pad, bits(b[0]), bits(b[1])[:1], bits(b[1])[1:], bits(b[2]), bits(b[3]))
		fmt.Fprintf(&sb, "%s  ^^^^^^^^   ^ dropped: 32 groups share a MAC\n", pad)
		fmt.Fprintf(&sb, "%s               |   low 23 bits copied      |\n", pad)
		fmt.Fprintf(&sb, "%s               v                           v\n", pad)
		fmt.Fprintf(&sb, "| %s | %s | %s | %s %s | %s | %s |  MAC\n", bits(m[0]), bits(m[1]), bits(m[2]), bits(m[3])[:1], bits(m[3])[1:], bits(m[4]), bits(m[5]))
		fmt.Fprintf(&sb, "  %-10s %-10s %-10s %-11s %-10s %s\n", fmt.Sprintf("%02x", m[0]), fmt.Sprintf("%02x", m[1]), fmt.Sprintf("%02x", m[2]), fmt.Sprintf("%02x", m[3]), fmt.Sprintf("%02x", m[4]), fmt.Sprintf("%02x", m[5]))
		fmt.Fprintf(&sb, "%s                                 ^ always 0\n", strings.Repeat(" ", 2))
		others, _ := IPv4Groups(m)
		fmt.Fprintf(&sb, "\n%s also stands for: %s\n", m, joinAddrs(others, g))
		return sb.String(), nil
	}
	b := g.As16()
	fmt.Fprintf(&sb, "IPv6 group %s -> MAC %s: 33:33 and the low 32 bits of the group\n\n", g, m)
	fmt.Fprintf(&sb, "  group  ...   | %s | %s | %s | %s |\n", bits(b[12]), bits(b[13]), bits(b[14]), bits(b[15]))
	fmt.Fprintf(&sb, "                   v          v          v          v\n")
	fmt.Fprintf(&sb, "  MAC    33:33:| %s | %s | %s | %s |\n", bits(m[2]), bits(m[3]), bits(m[4]), bits(m[5]))
	fmt.Fprintf(&sb, "\n%s stands for every IPv6 group ending in %s\n", m, IPv6Suffix(m))
	return sb.String(), nil
}

func joinAddrs(as []netip.Addr, skip netip.Addr) string {
	var s []string
	for _, a := range as {
		if a != skip {
			s = append(s, a.String())
		}
	}
	return strings.Join(s, " ")
}
