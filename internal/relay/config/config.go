// Package config parses the relay's configuration file: one directive per
// line, "#" starts a comment. Parse is pure (it takes a reader) and every
// error names the file, the line and the bad value.
//
//	node vm1                          # this relay's name (unique in the mesh)
//	listen 10.0.1.10:7474             # underlay address and UDP port
//	interface eth0                    # the LAN whose groups are carried (repeat: reach.go)
//	private-key /etc/mcast/relay.priv # this relay's identity (mcast relay genkey), mode 0600
//	key /etc/mcast/relay.key          # optional mesh pre-shared key, at least 32 bytes
//	cipher aes-256-gcm                # or chacha20-poly1305 (every relay alike)
//	peer vm2 10.0.2.10:7474 PUBKEY    # another relay and its public key (repeat)
//	peer vm1b 10.0.1.11:7474 PUBKEY lan allow 10.0.1.0/24
//	                                  # a relay serving the same LAN; the
//	                                  # sources its datagrams may carry
//	group 239.1.1.1                   # a group, joined at start
//	group 239.2.0.0/16                # a range: carried when members appear
//	group auto                        # every group local members join
//	broadcast-port 5000               # carry broadcasts to this UDP port
//	source original                   # or "relay [PORT]": re-emit from own address
//	interest members                  # or "all": want every listed group
//	querier on                        # or "off": never send IGMP/MLD queries
//	mtu 1500                          # underlay path MTU
//	keepalive 1s                      # hello interval
//	peer-timeout 3s                   # silent peer is down after this
//	rate-limit-group 0                # datagrams/s per group (0: none)
//	rate-limit-peer 0                 # datagrams/s per peer (0: none)
//	fanout 16                         # most frames per datagram; past it, reflectors
//	metrics 127.0.0.1:9474            # Prometheus endpoint (default: off)
//	admin /run/mcast/relay.sock       # admin socket for `mcast relay status`
//	join 10.0.1.10 seed.example       # fleet membership: gossip.go
package config

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultPort is the relay's underlay UDP port when listen or peer omit it.
const DefaultPort = 7474

// DefaultFanout is how many relays the origin of a datagram sends it to
// at most (`fanout`); past it, reflector relays pass it on. MaxFanout is
// the largest value a config may give.
const (
	DefaultFanout = 16
	MaxFanout     = 1024
)

// DefaultAdmin is the admin socket path when the config names none.
const DefaultAdmin = "/run/mcast/relay.sock"

// Ciphers are the frame ciphers a config may name, the default first
// (crypto.NewKeys takes the same names).
var Ciphers = []string{"aes-256-gcm", "chacha20-poly1305"}

// Source says which source address re-emitted datagrams carry.
type Source string

// Source modes.
const (
	SourceOriginal Source = "original" // the original sender's address and port (raw socket)
	SourceRelay    Source = "relay"    // the relay's own address on the interface
)

// Interest says what a relay tells its peers it wants.
type Interest string

// Interest modes.
const (
	InterestMembers Interest = "members" // groups with local members (this host's tables and other hosts' reports)
	InterestAll     Interest = "all"     // every listed single group, members or not
)

// Config is a parsed relay configuration.
type Config struct {
	Node           string
	ID             uint32
	Listen         netip.AddrPort
	Interface      string   // the first interface (the one of a relay serving one LAN)
	Interfaces     []string // every interface, in order (reach.go)
	InterfaceLines []int    // the line of each interface
	InterfaceWait  []bool   // per interface: `wait`, served while it is up (reach.go)
	KeyFile        string   // the mesh pre-shared key (optional once PrivateKey is set)
	PrivateKey     string   // this relay's private key file
	CA             string   // the mesh CA's public key (base64 Ed25519), for peers with a cert
	RevokedFile    string   // fingerprints of revoked certificates, one a line
	Revoked        string   // RevokedFile's content, read by the caller
	Cipher         string   // one of Ciphers
	Peers          []Peer
	Groups         []netip.Prefix // single groups are /32 or /128
	GroupLines     []int          // the line of each group
	Services       []Service      // `service` presets
	Allows         []Allow        // `allow` lines: what crosses between interfaces
	MDNSTypes      []string       // `mdns-type`: the DNS-SD types whose mDNS is carried (none: all)
	MDNSTypeLine   int            // the first mdns-type line
	Auto           bool           // carry any group local members join
	BroadcastPorts []uint16
	Source         Source
	SourcePort     uint16 // the UDP source port of "source relay", 0: ephemeral
	Interest       Interest
	Querier        bool // send IGMP/MLD general queries where no other querier is heard
	MTU            int
	Keepalive      time.Duration
	PeerTimeout    time.Duration
	Fanout         int // the most relays the origin sends a datagram to; past it, reflectors pass it on
	RateGroup      int // datagrams/s per group, 0: no cap
	RatePeer       int // datagrams/s per peer, 0: no cap
	Metrics        string
	Admin          string

	// InterfaceAllow, per interface: the source prefixes a datagram
	// captured there may have (`interface NAME allow PREFIX`); nil: any
	// (the whole slice is nil while no interface line has allow).
	InterfaceAllow [][]netip.Prefix
	FleetSettings  // join, gossip-*, probe-*: fleet membership (gossip.go)
}

// NodeID is the 32-bit identifier frames carry for a relay named name.
func NodeID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

// Error is a configuration error at one line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Single reports whether p names one group rather than a range.
func Single(p netip.Prefix) bool { return p.Bits() == p.Addr().BitLen() }

// Carries reports whether group g is one the config carries: a group or
// range it names, or with `group auto` any multicast group AutoExcluded
// does not leave out.
func (c *Config) Carries(g netip.Addr) bool {
	if c.Auto && g.IsMulticast() && !AutoExcluded(g) {
		return true
	}
	for _, p := range c.Groups {
		if p.Contains(g) {
			return true
		}
	}
	for _, s := range c.Services {
		if slices.Contains(s.Groups, g) {
			return true
		}
	}
	return false
}

// CarriesBroadcast reports whether broadcasts to port are carried.
func (c *Config) CarriesBroadcast(port uint16) bool {
	for _, p := range c.BroadcastPorts {
		if p == port {
			return true
		}
	}
	return false
}

// Parse reads a configuration from r; name is used in error messages.
func Parse(r io.Reader, name string) (*Config, error) {
	c := &Config{
		Source: SourceOriginal, Cipher: Ciphers[0], Interest: InterestMembers, Querier: true, MTU: 1500,
		Keepalive: time.Second, PeerTimeout: 3 * time.Second, Admin: DefaultAdmin, Fanout: DefaultFanout,
	}
	seen := map[string]int{} // directive -> line, for the ones allowed once
	peerNames := map[string]int{}
	peerAddrs := map[netip.AddrPort]int{}
	groups := map[netip.Prefix]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	line := 0
	errf := func(format string, a ...any) error {
		return &Error{File: name, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		key, args := f[0], f[1:]
		once := map[string]bool{"node": true, "listen": true, "key": true, "private-key": true, "ca": true, "revoked": true, "cipher": true, "source": true, "interest": true, "querier": true,
			"mtu": true, "keepalive": true, "peer-timeout": true, "rate-limit-group": true, "rate-limit-peer": true, "fanout": true, "metrics": true, "admin": true}
		if once[key] {
			if prev, ok := seen[key]; ok {
				return nil, errf("%s given again (first on line %d)", key, prev)
			}
			seen[key] = line
		}
		want := func(n int, form string) error {
			if len(args) != n {
				return errf("%s takes %s, got %q", key, form, strings.Join(args, " "))
			}
			return nil
		}
		switch key {
		case "node":
			if err := want(1, "a name"); err != nil {
				return nil, err
			}
			if !validName(args[0]) {
				return nil, errf("invalid node name %q: use letters, digits, '-', '_' and '.', at most 64", args[0])
			}
			c.Node, c.ID = args[0], NodeID(args[0])
		case "listen":
			if err := want(1, "ADDR[:PORT]"); err != nil {
				return nil, err
			}
			ap, err := parseAddrPort(args[0])
			if err != nil {
				return nil, errf("listen %q: %v", args[0], err)
			}
			c.Listen = ap
		case "interface":
			if err := c.parseInterface(args, line, errf); err != nil {
				return nil, err
			}
		case "service":
			if err := c.parseService(args, line, errf); err != nil {
				return nil, err
			}
		case "allow":
			if err := c.parseAllow(args, line, errf); err != nil {
				return nil, err
			}
		case "mdns-type":
			if err := c.parseMDNSType(args, line, errf); err != nil {
				return nil, err
			}
		case "key":
			if err := want(1, "a file path"); err != nil {
				return nil, err
			}
			c.KeyFile = args[0]
		case "private-key":
			if err := want(1, "a file path"); err != nil {
				return nil, err
			}
			c.PrivateKey = args[0]
		case "ca", "revoked":
			if err := want(1, map[string]string{"ca": "the CA's public key", "revoked": "a file path"}[key]); err != nil {
				return nil, err
			}
			if key == "ca" {
				c.CA = args[0]
			} else {
				c.RevokedFile = args[0]
			}
		case "cipher":
			if err := want(1, strings.Join(Ciphers, " or ")); err != nil {
				return nil, err
			}
			if !slices.Contains(Ciphers, args[0]) {
				return nil, errf("cipher %q: want %s", args[0], strings.Join(Ciphers, " or "))
			}
			c.Cipher = args[0]
		case "peer":
			p, err := parsePeer(args)
			if err != nil {
				return nil, errf("%v", err)
			}
			if prev, ok := peerNames[p.Name]; ok {
				return nil, errf("peer %s given twice (first on line %d)", p.Name, prev)
			}
			if prev, ok := peerAddrs[p.Addr]; ok {
				return nil, errf("peer %s: address %s given twice (first on line %d)", p.Name, p.Addr, prev)
			}
			peerNames[p.Name], peerAddrs[p.Addr] = line, line
			p.Line = line
			c.Peers = append(c.Peers, p)
		case "group":
			if len(args) == 0 {
				return nil, errf("group takes one or more GROUP, GROUP/BITS or auto")
			}
			for _, a := range args {
				if a == "auto" {
					c.Auto = true
					continue
				}
				p, err := parseGroup(a)
				if err != nil {
					return nil, errf("group %q: %v", a, err)
				}
				if prev, ok := groups[p]; ok {
					return nil, errf("group %s given twice (first on line %d)", p, prev)
				}
				groups[p] = line
				c.Groups = append(c.Groups, p)
				c.GroupLines = append(c.GroupLines, line)
			}
		case "broadcast-port":
			if len(args) == 0 {
				return nil, errf("broadcast-port takes one or more ports")
			}
			for _, a := range args {
				n, err := strconv.ParseUint(a, 10, 16)
				if err != nil || n == 0 {
					return nil, errf("broadcast-port %q: not a port 1..65535", a)
				}
				if c.CarriesBroadcast(uint16(n)) {
					return nil, errf("broadcast-port %d given twice", n)
				}
				c.BroadcastPorts = append(c.BroadcastPorts, uint16(n))
			}
		case "source":
			if len(args) == 2 && args[0] == string(SourceRelay) {
				n, err := strconv.ParseUint(args[1], 10, 16)
				if err != nil || n == 0 {
					return nil, errf("source relay port %q: want 1-65535", args[1])
				}
				c.SourcePort = uint16(n)
				args = args[:1]
			}
			if err := want(1, "original or relay [PORT]"); err != nil {
				return nil, err
			}
			if args[0] != string(SourceOriginal) && args[0] != string(SourceRelay) {
				return nil, errf("source %q: want original or relay", args[0])
			}
			c.Source = Source(args[0])
		case "interest":
			if err := want(1, "members or all"); err != nil {
				return nil, err
			}
			if args[0] != string(InterestMembers) && args[0] != string(InterestAll) {
				return nil, errf("interest %q: want members or all", args[0])
			}
			c.Interest = Interest(args[0])
		case "querier":
			if err := want(1, "on or off"); err != nil {
				return nil, err
			}
			if args[0] != "on" && args[0] != "off" {
				return nil, errf("querier %q: want on or off", args[0])
			}
			c.Querier = args[0] == "on"
		case "mtu":
			if err := want(1, "a number of bytes"); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 576 || n > 65535 {
				return nil, errf("mtu %q: want a number 576..65535", args[0])
			}
			c.MTU = n
		case "keepalive", "peer-timeout":
			if err := want(1, "a duration such as 1s"); err != nil {
				return nil, err
			}
			d, err := time.ParseDuration(args[0])
			if err != nil || d < 10*time.Millisecond || d > time.Hour {
				return nil, errf("%s %q: want a duration 10ms..1h such as 1s", key, args[0])
			}
			if key == "keepalive" {
				c.Keepalive = d
			} else {
				c.PeerTimeout = d
			}
		case "rate-limit-group", "rate-limit-peer":
			if err := want(1, "datagrams per second"); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 0 || n > 100_000_000 {
				return nil, errf("%s %q: want datagrams per second, 0 for no cap", key, args[0])
			}
			if key == "rate-limit-group" {
				c.RateGroup = n
			} else {
				c.RatePeer = n
			}
		case "fanout":
			if err := want(1, "a number of relays"); err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(args[0])
			if err != nil || n < 1 || n > MaxFanout {
				return nil, errf("fanout %q: want a number of relays 1..%d", args[0], MaxFanout)
			}
			c.Fanout = n
		case "metrics":
			if err := want(1, "ADDR:PORT"); err != nil {
				return nil, err
			}
			if _, err := netip.ParseAddrPort(args[0]); err != nil {
				return nil, errf("metrics %q: want ADDR:PORT such as 127.0.0.1:9474", args[0])
			}
			c.Metrics = args[0]
		case "join", "gossip", "gossip-key", "gossip-cert", "gossip-lan", "gossip-profile", "probe-interval", "probe-timeout", "suspicion-mult":
			if err := c.parseGossip(key, args, line, errf); err != nil {
				return nil, err
			}
		case "admin":
			if err := want(1, "a socket path"); err != nil {
				return nil, err
			}
			if len(args[0]) > 100 {
				return nil, errf("admin %q: path longer than 100 bytes", args[0])
			}
			c.Admin = args[0]
		default:
			return nil, errf("unknown directive %q", key)
		}
	}
	if err := sc.Err(); err != nil {
		line++
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, errf("line longer than 64 KiB")
		}
		return nil, &Error{File: name, Msg: fmt.Sprintf("reading: %v", err)}
	}
	return c, c.validate(name, seen)
}
