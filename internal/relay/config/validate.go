package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// validate checks what no single line can: required directives and how
// the lines fit together.
func (c *Config) validate(name string, seen map[string]int) error {
	missing := func(k string) error {
		return &Error{File: name, Msg: fmt.Sprintf("no %s directive (it is required)", k)}
	}
	switch {
	case c.Node == "":
		return missing("node")
	case !c.Listen.IsValid():
		return missing("listen")
	case c.Interface == "":
		return missing("interface")
	case c.KeyFile == "" && c.PrivateKey == "":
		return &Error{File: name, Msg: "no key directive: give this relay's private-key FILE (make one with mcast relay genkey)"}
	case len(c.Groups) == 0 && len(c.BroadcastPorts) == 0 && !c.Auto && len(c.Services) == 0:
		return &Error{File: name, Msg: "nothing to carry: add a group, service or broadcast-port directive"}
	}
	ids := map[uint32]string{c.ID: c.Node}
	for _, p := range c.Peers {
		if p.Name == c.Node {
			return &Error{File: name, Line: p.Line, Msg: fmt.Sprintf("peer %s has this node's own name", p.Name)}
		}
		if p.Addr == c.Listen {
			return &Error{File: name, Line: p.Line, Msg: fmt.Sprintf("peer %s has this node's own listen address %s", p.Name, p.Addr)}
		}
		if p.Addr.Addr().Is4() != c.Listen.Addr().Is4() {
			return &Error{File: name, Line: p.Line, Msg: fmt.Sprintf("peer %s address %s is not of the listen address's family (%s)", p.Name, p.Addr, c.Listen)}
		}
		if other, ok := ids[p.ID]; ok {
			return &Error{File: name, Line: p.Line, Msg: fmt.Sprintf("peer %s has the same node ID as %s: rename one", p.Name, other)}
		}
		ids[p.ID] = p.Name
	}
	if err := c.validateReach(name); err != nil {
		return err
	}
	if err := c.validateKeys(name); err != nil {
		return err
	}
	if err := c.validateGossip(name); err != nil {
		return err
	}
	if c.PeerTimeout <= c.Keepalive {
		return &Error{File: name, Line: seen["peer-timeout"], Msg: fmt.Sprintf("peer-timeout %s must be longer than keepalive %s", c.PeerTimeout, c.Keepalive)}
	}
	return nil
}

func parseGroup(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return p, errors.New("not GROUP or GROUP/BITS")
		}
		if p != p.Masked() {
			return p, fmt.Errorf("has host bits set (did you mean %s?)", p.Masked())
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return p, errors.New("not an IP address")
		}
		a = a.Unmap()
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Zone() != "" {
		return p, errors.New("zones are not supported")
	}
	if p.Addr().Is4In6() {
		return p, errors.New("IPv4-mapped IPv6: write the IPv4 group")
	}
	a := p.Addr()
	if !a.IsMulticast() || (a.Is4() && p.Bits() < 4) || (a.Is6() && p.Bits() < 8) {
		return p, errors.New("not a multicast group (IPv4 224.0.0.0/4, IPv6 ff00::/8)")
	}
	if Single(p) && control(a) {
		return p, errors.New("is a local network control group, never carried")
	}
	return p, nil
}
