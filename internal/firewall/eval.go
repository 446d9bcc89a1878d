package firewall

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// Packet is a kind of datagram to ask the rules about.
type Packet struct {
	What     string // "UDP to 239.1.2.3:5000 arriving on eth0"
	Dir      string // "input" or "output"
	Family   int    // 4 or 6
	Proto    int    // IP protocol: 17 UDP, 2 IGMP, 58 ICMPv6
	Dst      netip.Addr
	DPort    int    // 0 when unknown
	ICMPType int    // for ICMPv6
	Dev      string // the interface it arrives on or leaves by, "" when unknown
}

// tri is a three-valued truth: a condition holds, does not, or cannot be
// decided from what is known of the packet.
type tri int

const (
	no tri = iota
	yes
	maybe
)

var protoNumbers = map[string]int{
	"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132, "udplite": 136, "gre": 47, "esp": 50, "ah": 51,
}

var icmp6Types = map[string]int{
	"mld-listener-query": 130, "mld-listener-report": 131, "mld-listener-done": 132,
	"mld-listener-reduction": 132, "mld2-listener-report": 143, "nd-router-solicit": 133,
	"nd-router-advert": 134, "nd-neighbor-solicit": 135, "nd-neighbor-advert": 136,
	"echo-request": 128, "echo-reply": 129,
}

// numOf reads a number or a known name.
func numOf(s string, names map[string]int) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, true
	}
	n, ok := names[strings.ToLower(s)]
	return n, ok
}

// matchNum: does n fall in one of vals?
func matchNum(n int, vals []Value, names map[string]int) tri {
	for _, v := range vals {
		lo, ok1 := numOf(v.Lo, names)
		hi, ok2 := numOf(v.Hi, names)
		if !ok1 || !ok2 {
			return maybe
		}
		if n >= lo && n <= hi {
			return yes
		}
	}
	return no
}

func matchAddr(a netip.Addr, vals []Value) tri {
	for _, v := range vals {
		if v.Prefix.IsValid() {
			if v.Prefix.Contains(a) {
				return yes
			}
			continue
		}
		lo, err1 := netip.ParseAddr(v.Lo)
		hi, err2 := netip.ParseAddr(v.Hi)
		if err1 != nil || err2 != nil {
			return maybe
		}
		if a.Compare(lo) >= 0 && a.Compare(hi) <= 0 {
			return yes
		}
	}
	return no
}

func matchName(dev string, vals []Value) tri {
	if dev == "" {
		return maybe
	}
	for _, v := range vals {
		if ok, _ := path.Match(v.Lo, dev); ok || v.Lo == dev {
			return yes
		}
	}
	return no
}

// holds decides whether c holds for p.
func (c Cond) holds(p Packet) tri {
	t := c.test(p)
	if c.Negate && t != maybe {
		if t == yes {
			return no
		}
		return yes
	}
	return t
}

func (c Cond) test(p Packet) tri {
	proto, field, _ := strings.Cut(c.Field, ".")
	switch proto {
	case "ip", "ip6":
		if (proto == "ip") != (p.Family == 4) {
			return no // an ip payload match implies IPv4, ip6 implies IPv6
		}
		switch field {
		case "daddr":
			return matchAddr(p.Dst, c.Values)
		case "protocol", "nexthdr":
			return matchNum(p.Proto, c.Values, protoNumbers)
		case "saddr", "version", "hoplimit", "ttl", "dscp", "length":
			return maybe
		}
	case "udp", "tcp", "th", "udplite", "sctp":
		want := map[string]int{"udp": 17, "tcp": 6, "udplite": 136, "sctp": 132}[proto]
		if proto == "th" {
			if p.Proto != 17 && p.Proto != 6 {
				return no
			}
		} else if p.Proto != want {
			return no
		}
		if field == "dport" {
			if p.DPort == 0 {
				return maybe
			}
			return matchNum(p.DPort, c.Values, nil)
		}
		return maybe
	case "icmpv6":
		if p.Proto != 58 {
			return no
		}
		if field == "type" {
			return matchNum(p.ICMPType, c.Values, icmp6Types)
		}
		return maybe
	case "icmp", "igmp":
		if p.Proto != protoNumbers[proto] {
			return no
		}
		return maybe
	case "meta":
		switch field {
		case "l4proto":
			if t := matchNum(p.Proto, c.Values, protoNumbers); t != maybe {
				return t
			}
			for _, v := range c.Values { // "all" in iptables
				if v.Lo == "all" {
					return yes
				}
			}
			return maybe
		case "nfproto", "protocol":
			want := "ipv4"
			if p.Family == 6 {
				want = "ipv6"
			}
			for _, v := range c.Values {
				if v.Lo == want || (want == "ipv4" && v.Lo == "ip") || (want == "ipv6" && v.Lo == "ip6") {
					return yes
				}
			}
			return no
		case "iifname", "iif":
			if p.Dir != "input" {
				return maybe
			}
			return matchName(p.Dev, c.Values)
		case "oifname", "oif":
			if p.Dir != "output" {
				return maybe
			}
			return matchName(p.Dev, c.Values)
		case "pkttype":
			for _, v := range c.Values {
				if v.Lo == "multicast" {
					return yes
				}
			}
			return no
		}
	case "ct":
		// The datagrams asked about open no connection: their state is new.
		if field == "state" {
			for _, v := range c.Values {
				if strings.EqualFold(v.Lo, "new") {
					return yes
				}
			}
			return no
		}
	}
	return maybe
}

// match decides whether every condition of r holds for p.
func (r Rule) match(p Packet) tri {
	out := yes
	for _, c := range r.Conds {
		switch c.holds(p) {
		case no:
			return no
		case maybe:
			out = maybe
		}
	}
	return out
}

// Block is a rule (or a chain policy) that drops a packet.
type Block struct {
	Packet Packet
	Chain  Chain
	Rule   *Rule // nil when the chain's policy drops it
	Sure   bool  // false when the rule has conditions not decided here
}

// Evidence renders the block as one evidence line.
func (b Block) Evidence() string {
	where := fmt.Sprintf("%s: table %s %s chain %s", b.Chain.Tool, b.Chain.Family, b.Chain.Table, b.Chain.Name)
	if b.Chain.Tool != "nft" {
		where = fmt.Sprintf("%s: chain %s", b.Chain.Tool, b.Chain.Name)
	}
	may := "drops"
	if !b.Sure {
		may = "may drop"
	}
	if b.Rule == nil {
		return fmt.Sprintf("%s policy drop, no rule accepts it: %s %s", where, may, b.Packet.What)
	}
	h := ""
	if b.Rule.Handle != 0 {
		h = fmt.Sprintf(" handle %d", b.Rule.Handle)
	}
	return fmt.Sprintf("%s%s: %q %s %s", where, h, b.Rule.Text, may, b.Packet.What)
}

// Fix is the command that removes the rule, or adds one that accepts the
// packet before a dropping policy.
func (b Block) Fix() string {
	c := b.Chain
	if b.Rule != nil {
		if c.Tool == "nft" {
			return fmt.Sprintf("nft delete rule %s %s %s handle %d", c.Family, c.Table, c.Name, b.Rule.Handle)
		}
		return c.Tool + " " + strings.Replace(b.Rule.Text, "-A ", "-D ", 1)
	}
	m := acceptMatch(b.Packet, c.Tool)
	if c.Tool == "nft" {
		return fmt.Sprintf("nft insert rule %s %s %s %s accept", c.Family, c.Table, c.Name, m)
	}
	return fmt.Sprintf("%s -I %s %s -j ACCEPT", c.Tool, c.Name, m)
}

func acceptMatch(p Packet, tool string) string {
	if tool == "nft" {
		switch p.Proto {
		case 2:
			return "ip protocol igmp"
		case 58:
			return "icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report }"
		}
		fam := "ip"
		if p.Family == 6 {
			fam = "ip6"
		}
		if p.DPort != 0 {
			return fmt.Sprintf("%s daddr %s udp dport %d", fam, p.Dst, p.DPort)
		}
		return fmt.Sprintf("%s daddr %s meta l4proto udp", fam, p.Dst)
	}
	switch p.Proto {
	case 2:
		return "-p igmp"
	case 58:
		return "-p ipv6-icmp"
	}
	if p.DPort != 0 {
		return fmt.Sprintf("-d %s -p udp --dport %d", p.Dst, p.DPort)
	}
	return fmt.Sprintf("-d %s -p udp", p.Dst)
}

// hooksFor are the netfilter hooks a packet going in dir passes.
func hooksFor(dir string) []string {
	if dir == "input" {
		return []string{"prerouting", "input"}
	}
	return []string{"output", "postrouting"}
}

func familyApplies(chainFam string, pktFam int) bool {
	switch chainFam {
	case "inet":
		return true
	case "ip":
		return pktFam == 4
	case "ip6":
		return pktFam == 6
	}
	return false // bridge, netdev, arp: other layers
}

// Blocks walks every base chain p passes and returns what drops it.
func Blocks(chains []Chain, p Packet) []Block {
	var out []Block
	for _, c := range chains {
		if c.Hook == "" || c.Type == "nat" || !familyApplies(c.Family, p.Family) {
			continue
		}
		ok := false
		for _, h := range hooksFor(p.Dir) {
			ok = ok || c.Hook == h
		}
		if !ok {
			continue
		}
		v, r, sure := walk(chains, c, p, 0, true)
		switch v {
		case "drop", "reject":
			out = append(out, Block{Packet: p, Chain: c, Rule: r, Sure: sure})
		case "":
			if c.Policy == "drop" {
				out = append(out, Block{Packet: p, Chain: c, Sure: sure})
			}
		}
	}
	return out
}

// walk runs p through chain c. It returns the verdict that ends it ("" when
// the packet falls off the end), the rule that decided, and whether every
// rule on the way was decided for sure.
func walk(chains []Chain, c Chain, p Packet, depth int, sure bool) (string, *Rule, bool) {
	if depth > 16 {
		return "", nil, false
	}
	for i := range c.Rules {
		r := &c.Rules[i]
		m := r.match(p)
		if m == no {
			continue
		}
		switch r.Verdict {
		case "accept":
			if m == yes {
				return "accept", r, sure
			}
			sure = false // it may be accepted here
		case "drop", "reject":
			return r.Verdict, r, sure && m == yes
		case "return":
			if m == yes {
				return "", nil, sure
			}
			sure = false
		case "jump", "goto":
			for _, t := range chains {
				if t.Tool == c.Tool && t.Family == c.Family && t.Table == c.Table && t.Name == r.Target {
					v, rr, s := walk(chains, t, p, depth+1, sure && m == yes)
					if v != "" {
						return v, rr, s
					}
					if r.Verdict == "goto" && m == yes {
						return "", nil, s
					}
				}
			}
		}
	}
	return "", nil, sure
}
