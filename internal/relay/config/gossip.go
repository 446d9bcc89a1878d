package config

// Fleet membership: relays that join a gossip mesh (hashicorp/memberlist)
// instead of, or beside, listing each other in peer lines.
//
//	join seed1.example:7475 10.0.2.10  # seeds, tried at start and whenever alone
//	gossip 7475                        # or ADDR:PORT; default: listen address, port + 1
//	gossip-key /etc/mcast/gossip.key   # 32-byte secret, base64 (mcast relay genkey)
//	gossip-cert /etc/mcast/vm1.cert    # this relay's CA certificate (with ca)
//	gossip-lan site-a                  # relays with the same tag serve the same LAN
//	gossip-profile lan                 # or wan: memberlist's timing defaults
//	probe-interval 1s                  # failure detection, overriding the profile
//	probe-timeout 500ms
//	suspicion-mult 4

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// FleetSettings are the fleet membership lines: seeds, the gossip endpoint
// (zero: listen port + 1), the gossip secret's file and content (read by
// the caller), this relay's certificate for the others, its LAN tag and
// the failure-detection timing (zero: the profile's).
type FleetSettings struct {
	Join           []string
	Gossip         netip.AddrPort
	GossipKeyFile  string
	GossipKey      string
	GossipCertFile string
	GossipCert     string
	GossipLAN      string
	GossipProfile  string
	ProbeInterval  time.Duration
	ProbeTimeout   time.Duration
	SuspicionMult  int
	gossipLines    map[string]int
}

// Gossip profiles, memberlist's LAN and WAN defaults.
const (
	ProfileLAN = "lan"
	ProfileWAN = "wan"
)

// Profile is the failure-detection timing of a gossip profile.
type Profile struct {
	ProbeInterval  time.Duration
	ProbeTimeout   time.Duration
	SuspicionMult  int
	GossipInterval time.Duration
	GossipNodes    int
	PushPull       time.Duration
}

// Profiles are memberlist's DefaultLANConfig and DefaultWANConfig timings.
var Profiles = map[string]Profile{
	ProfileLAN: {ProbeInterval: time.Second, ProbeTimeout: 500 * time.Millisecond, SuspicionMult: 4,
		GossipInterval: 200 * time.Millisecond, GossipNodes: 3, PushPull: 30 * time.Second},
	ProfileWAN: {ProbeInterval: 5 * time.Second, ProbeTimeout: 3 * time.Second, SuspicionMult: 6,
		GossipInterval: 500 * time.Millisecond, GossipNodes: 4, PushPull: 60 * time.Second},
}

// SuspicionMaxMult is memberlist's SuspicionMaxTimeoutMult: a suspect with
// no confirmations from other members is declared dead after this many
// times the minimum suspicion timeout.
const SuspicionMaxMult = 6

// DetectionBound is the longest a dead member of a fleet of n relays stays
// alive in the others' view with timing p: up to two probe intervals until
// a member probes it (each member probes one other per interval, in a
// shuffled round), the probe timeout, then the suspicion timeout with no
// confirmation, SuspicionMaxMult × SuspicionMult × log10(n) × probe
// interval (memberlist's suspicionTimeout, with n at least 10).
func DetectionBound(p Profile, n int) time.Duration {
	return 2*p.ProbeInterval + p.ProbeTimeout + time.Duration(SuspicionMaxMult)*SuspicionTimeout(p, n)
}

// SuspicionTimeout is memberlist's minimum suspicion timeout for a fleet
// of n relays: SuspicionMult × max(1, log10(max(1, n))) × probe interval.
func SuspicionTimeout(p Profile, n int) time.Duration {
	scale := math.Max(1, math.Log10(math.Max(1, float64(n))))
	return time.Duration(float64(p.SuspicionMult) * scale * float64(p.ProbeInterval))
}

// Timing is the configured failure-detection timing: the profile with the
// probe lines applied.
func (c *Config) Timing() Profile {
	p := Profiles[c.GossipProfile]
	if p == (Profile{}) {
		p = Profiles[ProfileLAN]
	}
	if c.ProbeInterval != 0 {
		p.ProbeInterval = c.ProbeInterval
	}
	if c.ProbeTimeout != 0 {
		p.ProbeTimeout = c.ProbeTimeout
	}
	if c.SuspicionMult != 0 {
		p.SuspicionMult = c.SuspicionMult
	}
	return p
}

// Fleet reports whether the relay takes part in gossip membership.
func (c *Config) Fleet() bool { return c.GossipKeyFile != "" }

// GossipAddr is the gossip endpoint: the gossip line's, or the listen
// address with the listen port + 1.
func (c *Config) GossipAddr() netip.AddrPort {
	if c.Gossip.Port() == 0 {
		return netip.AddrPortFrom(c.Listen.Addr(), c.Listen.Port()+1)
	}
	if !c.Gossip.Addr().IsValid() {
		return netip.AddrPortFrom(c.Listen.Addr(), c.Gossip.Port())
	}
	return c.Gossip
}

// gossipOnce are the fleet directives given at most once.
var gossipOnce = map[string]bool{"gossip": true, "gossip-key": true, "gossip-cert": true, "gossip-lan": true,
	"gossip-profile": true, "probe-interval": true, "probe-timeout": true, "suspicion-mult": true}

// parseGossip reads the fleet directives (key is one of gossipOnce or join).
func (c *Config) parseGossip(key string, args []string, line int, errf func(string, ...any) error) error {
	if c.gossipLines == nil {
		c.gossipLines = map[string]int{}
	}
	if gossipOnce[key] {
		if prev, ok := c.gossipLines[key]; ok {
			return errf("%s given again (first on line %d)", key, prev)
		}
		if len(args) != 1 {
			return errf("%s takes one value, got %q", key, strings.Join(args, " "))
		}
	}
	if _, ok := c.gossipLines[key]; !ok {
		c.gossipLines[key] = line
	}
	a := ""
	if len(args) > 0 {
		a = args[0]
	}
	switch key {
	case "join":
		if len(args) == 0 {
			return errf("join takes one or more ADDR[:PORT] or NAME[:PORT]")
		}
		for _, s := range args {
			if err := checkSeed(s); err != nil {
				return errf("join %q: %v", s, err)
			}
			c.Join = append(c.Join, s)
		}
	case "gossip":
		if n, err := strconv.ParseUint(a, 10, 16); err == nil && n > 0 {
			c.Gossip = netip.AddrPortFrom(netip.Addr{}, uint16(n))
			return nil
		}
		ap, err := netip.ParseAddrPort(a)
		if err != nil || ap.Port() == 0 || !ap.Addr().Unmap().IsGlobalUnicast() && !ap.Addr().IsPrivate() && !ap.Addr().IsLoopback() {
			return errf("gossip %q: want a port 1-65535 or a unicast ADDR:PORT", a)
		}
		c.Gossip = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case "gossip-key":
		c.GossipKeyFile = a
	case "gossip-cert":
		c.GossipCertFile = a
	case "gossip-lan":
		if !validName(a) {
			return errf("gossip-lan %q: use letters, digits, '-', '_' and '.', at most 64", a)
		}
		c.GossipLAN = a
	case "gossip-profile":
		if _, ok := Profiles[a]; !ok {
			return errf("gossip-profile %q: want lan or wan", a)
		}
		c.GossipProfile = a
	case "probe-interval", "probe-timeout":
		d, err := time.ParseDuration(a)
		if err != nil || d < 10*time.Millisecond || d > time.Minute {
			return errf("%s %q: want a duration 10ms..1m such as 1s", key, a)
		}
		if key == "probe-interval" {
			c.ProbeInterval = d
		} else {
			c.ProbeTimeout = d
		}
	case "suspicion-mult":
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 || n > 20 {
			return errf("suspicion-mult %q: want a number 1..20", a)
		}
		c.SuspicionMult = n
	}
	return nil
}

// checkSeed checks the form of a join argument: ADDR, ADDR:PORT, [V6]:PORT,
// NAME or NAME:PORT. Names are resolved when the relay joins, not here.
func checkSeed(s string) error {
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return nil
	}
	if _, err := netip.ParseAddrPort(s); err == nil {
		return nil
	}
	host, port := s, ""
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	if port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("port %q: want 1-65535", port)
		}
	}
	if len(host) == 0 || len(host) > 253 {
		return errors.New("not ADDR[:PORT] or NAME[:PORT]")
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 {
			return errors.New("not ADDR[:PORT] or NAME[:PORT]")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("not ADDR[:PORT] or NAME[:PORT] (%q in a name)", r)
			}
		}
	}
	return nil
}

// SeedHostPort splits a join argument into the host to resolve and the
// port, defaulting to port.
func SeedHostPort(s string, port uint16) (host string, p uint16) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String(), ap.Port()
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.String(), port
	}
	if h, ps, err := net.SplitHostPort(s); err == nil {
		n, _ := strconv.ParseUint(ps, 10, 16)
		return h, uint16(n)
	}
	return s, port
}

// validateGossip checks the fleet directives together.
func (c *Config) validateGossip(name string) error {
	at := func(k, msg string) error { return &Error{File: name, Line: c.gossipLines[k], Msg: msg} }
	if !c.Fleet() {
		for _, k := range []string{"join", "gossip", "gossip-cert", "gossip-lan", "gossip-profile", "probe-interval", "probe-timeout", "suspicion-mult"} {
			if _, ok := c.gossipLines[k]; ok {
				if k == "join" {
					return at(k, "join needs gossip-key FILE: no unauthenticated relay may join (make one with mcast relay genkey, the same file on every relay)")
				}
				return at(k, k+" needs gossip-key FILE (the fleet's gossip secret)")
			}
		}
		return nil
	}
	if c.PrivateKey == "" {
		return at("gossip-key", "gossip-key needs private-key FILE: members are known by their public keys")
	}
	if c.GossipCertFile != "" && c.CA == "" {
		return at("gossip-cert", "gossip-cert needs ca: members' certificates are checked against it")
	}
	if c.Gossip.Port() == 0 && c.Listen.Port() == math.MaxUint16 {
		return at("gossip-key", "no gossip port: listen port 65535 leaves no default (port + 1): add gossip PORT")
	}
	g := c.GossipAddr()
	if g.Port() == c.Listen.Port() && g.Addr() == c.Listen.Addr() {
		return at("gossip", fmt.Sprintf("gossip %s is the listen address: give another port", g))
	}
	if t := c.Timing(); t.ProbeTimeout >= t.ProbeInterval {
		return at("probe-timeout", fmt.Sprintf("probe-timeout %s must be shorter than probe-interval %s", t.ProbeTimeout, t.ProbeInterval))
	}
	return nil
}

// ParseGossipKey reads a gossip key file's content: 32 bytes in base64 (as
// mcast relay genkey prints), the AES-256 key memberlist's keyring
// encrypts and authenticates every gossip message with.
func ParseGossipKey(text string) ([]byte, error) {
	s := strings.TrimSpace(text)
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(k) != 32 {
		return nil, errors.New("want 32 bytes in base64 (make one with mcast relay genkey)")
	}
	zero := true
	for _, b := range k {
		zero = zero && b == 0
	}
	if zero {
		return nil, errors.New("the key is all zeros")
	}
	return k, nil
}

// ValidName reports whether s is a valid node name: letters, digits, '-',
// '_' and '.', 1 to 64 bytes.
func ValidName(s string) bool { return validName(s) }
