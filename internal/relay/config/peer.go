package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Peer is another relay.
type Peer struct {
	Name string
	ID   uint32         // NodeID(Name)
	Addr netip.AddrPort // its underlay address
	LAN  bool           // it serves the same LAN as this relay (forwarder election)
	Line int            // where it was declared
	// Key is its static public key (base64 on the peer line), the zero
	// value when the line gives none.
	Key [32]byte
	// Allow are the source prefixes of the datagrams it may carry from its
	// LAN (`allow`); nil: any source.
	Allow []netip.Prefix
	// CertFile is its certificate (`cert FILE`), which gives Key and Allow
	// once the relay has checked it against the mesh CA; Cert is the
	// file's content, which the caller reads (Parse reads no files).
	CertFile string
	Cert     string
	// NotAfter is when its certificate expires (zero: no certificate).
	NotAfter time.Time
}

// peerForm is the peer line's syntax, for error messages.
const peerForm = "peer takes NAME ADDR[:PORT] [lan] PUBKEY [allow PREFIX[,PREFIX...]] or NAME ADDR[:PORT] [lan] cert FILE (in any order after the address)"

// parsePeer reads the arguments of a peer line: a name, an address, then
// in any order the public key, `lan`, and `allow PREFIX[,PREFIX...]`.
func parsePeer(args []string) (Peer, error) {
	var p Peer
	if len(args) < 2 {
		return p, fmt.Errorf("%s, got %q", peerForm, strings.Join(args, " "))
	}
	if !validName(args[0]) {
		return p, fmt.Errorf("invalid peer name %q: use letters, digits, '-', '_' and '.', at most 64", args[0])
	}
	ap, err := parseAddrPort(args[1])
	if err != nil {
		return p, fmt.Errorf("peer %s address %q: %v", args[0], args[1], err)
	}
	p = Peer{Name: args[0], ID: NodeID(args[0]), Addr: ap}
	hasKey := false
	for rest := args[2:]; len(rest) > 0; rest = rest[1:] {
		switch a := rest[0]; {
		case a == "lan" && !p.LAN:
			p.LAN = true
		case a == "cert" && p.CertFile == "":
			if len(rest) < 2 {
				return p, fmt.Errorf("peer %s: cert takes a file path", p.Name)
			}
			rest = rest[1:]
			p.CertFile = rest[0]
		case a == "allow" && p.Allow == nil:
			if len(rest) < 2 {
				return p, fmt.Errorf("peer %s: allow takes PREFIX[,PREFIX...]", p.Name)
			}
			rest = rest[1:]
			if p.Allow, err = parseAllow(rest[0]); err != nil {
				return p, fmt.Errorf("peer %s allow %q: %v", p.Name, rest[0], err)
			}
		case len(a) >= 40 && !hasKey:
			k, err := base64.StdEncoding.DecodeString(a)
			if err != nil || len(k) != 32 {
				return p, fmt.Errorf("peer %s: malformed public key %q: want 32 bytes in base64 (mcast relay pubkey prints it)", p.Name, a)
			}
			if [32]byte(k) == ([32]byte{}) {
				return p, fmt.Errorf("peer %s: public key %q is all zeros", p.Name, a)
			}
			p.Key, hasKey = [32]byte(k), true
		default:
			return p, fmt.Errorf("%s, got %q", peerForm, strings.Join(args, " "))
		}
	}
	return p, nil
}

// parseAllow reads a comma-separated list of source prefixes; a bare
// address is its own /32 or /128.
func parseAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		var p netip.Prefix
		var err error
		if strings.Contains(f, "/") {
			p, err = netip.ParsePrefix(f)
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(f)
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil || p.Addr().Zone() != "" {
			return nil, fmt.Errorf("%q is not ADDR or ADDR/BITS", f)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("%s has host bits set (did you mean %s?)", p, p.Masked())
		}
		if p.Addr().Is4In6() {
			return nil, errors.New("IPv4-mapped IPv6: write the IPv4 prefix")
		}
		out = append(out, p)
	}
	return out, nil
}

// Allows reports whether p may carry datagrams from source address a.
func (p *Peer) Allows(a netip.Addr) bool {
	if p.Allow == nil {
		return true
	}
	a = a.Unmap()
	for _, pr := range p.Allow {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// validateKeys checks the identities: with a private key, every peer
// names its public key, and no two peers share one.
func (c *Config) validateKeys(name string) error {
	if c.PrivateKey == "" {
		return nil
	}
	keys := map[[32]byte]string{}
	for _, p := range c.Peers {
		if p.CertFile != "" {
			if p.Key != ([32]byte{}) || p.Allow != nil {
				return &Error{File: name, Line: p.Line, Msg: fmt.Sprintf("peer %s: give its cert or its PUBKEY and allow, not both", p.Name)}
			}
			if c.CA == "" {
				return &Error{File: name, Line: p.Line, Msg: fmt.Sprintf("peer %s has a cert but the config names no ca", p.Name)}
			}
			continue
		}
		if p.Key == ([32]byte{}) {
			return &Error{File: name, Line: p.Line, Msg: fmt.Sprintf("peer %s has no public key: %s", p.Name, peerForm)}
		}
		if other, ok := keys[p.Key]; ok {
			return &Error{File: name, Line: p.Line, Msg: fmt.Sprintf("peer %s has the public key of peer %s", p.Name, other)}
		}
		keys[p.Key] = p.Name
	}
	return nil
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

func parseAddrPort(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return netip.AddrPort{}, errors.New("port 0")
		}
		if !ap.Addr().Unmap().IsGlobalUnicast() && !ap.Addr().IsLoopback() && !ap.Addr().IsPrivate() {
			return netip.AddrPort{}, errors.New("not a unicast address")
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.AddrPort{}, errors.New("not ADDR[:PORT]")
	}
	a = a.Unmap()
	if !a.IsGlobalUnicast() && !a.IsLoopback() {
		return netip.AddrPort{}, errors.New("not a unicast address")
	}
	if a.Zone() != "" {
		return netip.AddrPort{}, errors.New("zones are not supported")
	}
	return netip.AddrPortFrom(a, DefaultPort), nil
}
