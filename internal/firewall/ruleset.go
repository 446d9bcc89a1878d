package firewall

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Chain is one firewall chain, from nftables or iptables, in a form Blocks
// can walk.
type Chain struct {
	Tool   string // "nft" or "iptables" / "ip6tables"
	Family string // nft family: ip, ip6, inet, bridge, netdev, arp
	Table  string
	Name   string
	Hook   string // input, output, prerouting, postrouting, forward; "" for a regular chain
	Type   string // filter, nat, route
	Policy string // accept or drop ("" for a regular chain)
	Rules  []Rule
}

// Rule is one rule: conditions, all of which must hold, and a verdict.
type Rule struct {
	Conds   []Cond
	Verdict string // accept, drop, reject, jump, goto, return, or "" (goes on)
	Target  string // jump and goto target chain
	Handle  int    // nft handle; 0 for iptables
	Text    string // the rule as its tool would print it
}

// Cond is one condition of a rule. Field names a packet property such as
// "ip.daddr", "udp.dport", "meta.l4proto"; an unknown field makes the
// condition undecidable.
type Cond struct {
	Field  string
	Negate bool
	Values []Value
}

// Value is one value a condition compares with: a single value, a prefix or
// a range (Lo..Hi).
type Value struct {
	Lo, Hi string // equal for a single value
	Prefix netip.Prefix
}

func (v Value) String() string {
	switch {
	case v.Prefix.IsValid():
		return v.Prefix.String()
	case v.Lo != v.Hi:
		return v.Lo + "-" + v.Hi
	}
	return v.Lo
}

// ParseNftJSON parses the output of `nft -j list ruleset`.
func ParseNftJSON(data []byte) ([]Chain, error) {
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("parsing nft JSON: %w", err)
	}
	var chains []Chain
	index := map[string]int{}
	key := func(fam, table, name string) string { return fam + "\x00" + table + "\x00" + name }
	for _, obj := range doc.Nftables {
		if raw, ok := obj["chain"]; ok {
			var c struct {
				Family, Table, Name, Hook, Type, Policy string
			}
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, fmt.Errorf("parsing nft chain: %w", err)
			}
			index[key(c.Family, c.Table, c.Name)] = len(chains)
			ch := Chain{Tool: "nft", Family: c.Family, Table: c.Table, Name: c.Name, Hook: c.Hook, Type: c.Type, Policy: c.Policy}
			if ch.Hook != "" && ch.Policy == "" {
				ch.Policy = "accept"
			}
			chains = append(chains, ch)
		}
		if raw, ok := obj["rule"]; ok {
			var r struct {
				Family, Table, Chain string
				Handle               int
				Expr                 []map[string]json.RawMessage
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				return nil, fmt.Errorf("parsing nft rule: %w", err)
			}
			i, ok := index[key(r.Family, r.Table, r.Chain)]
			if !ok {
				continue
			}
			rule := nftRule(r.Expr)
			rule.Handle = r.Handle
			chains[i].Rules = append(chains[i].Rules, rule)
		}
	}
	return chains, nil
}

// nftRule turns a rule's expressions into conditions and a verdict.
func nftRule(exprs []map[string]json.RawMessage) Rule {
	var r Rule
	var text []string
	for _, e := range exprs {
		for k, raw := range e {
			switch k {
			case "match":
				var m struct {
					Op    string
					Left  json.RawMessage
					Right json.RawMessage
				}
				if json.Unmarshal(raw, &m) != nil {
					r.Conds = append(r.Conds, Cond{Field: "?"})
					text = append(text, "?")
					continue
				}
				field, ftext := nftLeft(m.Left)
				vals, vtext := nftRight(m.Right)
				c := Cond{Field: field, Values: vals}
				op := ""
				switch m.Op {
				case "==", "in", "":
				case "!=":
					c.Negate, op = true, "!= "
				default:
					c.Field = "?" + field // <, >, & ...: not decided here
					op = m.Op + " "
				}
				r.Conds = append(r.Conds, c)
				text = append(text, ftext+" "+op+vtext)
			case "counter", "log", "comment":
				if k == "counter" {
					text = append(text, "counter")
				}
			case "accept", "drop", "return", "continue":
				r.Verdict = k
				text = append(text, k)
			case "reject":
				r.Verdict = "reject"
				text = append(text, "reject")
			case "jump", "goto":
				var j struct{ Target string }
				json.Unmarshal(raw, &j)
				r.Verdict, r.Target = k, j.Target
				text = append(text, k+" "+j.Target)
			default:
				// limit, quota, xt, set updates, mangling...: the rule's
				// match cannot be decided here.
				r.Conds = append(r.Conds, Cond{Field: "?" + k})
				text = append(text, k+" ...")
			}
		}
	}
	r.Text = strings.Join(text, " ")
	return r
}

func nftLeft(raw json.RawMessage) (field, text string) {
	var l struct {
		Payload *struct{ Protocol, Field string }
		Meta    *struct{ Key string }
		Ct      *struct{ Key string }
	}
	if json.Unmarshal(raw, &l) != nil {
		return "?", "?"
	}
	switch {
	case l.Payload != nil:
		return l.Payload.Protocol + "." + l.Payload.Field, l.Payload.Protocol + " " + l.Payload.Field
	case l.Meta != nil:
		return "meta." + l.Meta.Key, "meta " + l.Meta.Key
	case l.Ct != nil:
		return "ct." + l.Ct.Key, "ct " + l.Ct.Key
	}
	return "?", strings.TrimSpace(string(raw))
}

func nftRight(raw json.RawMessage) ([]Value, string) {
	var any any
	if json.Unmarshal(raw, &any) != nil {
		return nil, "?"
	}
	vals, ok := nftValues(any)
	if !ok {
		return nil, "?"
	}
	if len(vals) == 1 {
		return vals, vals[0].String()
	}
	var s []string
	for _, v := range vals {
		s = append(s, v.String())
	}
	return vals, "{ " + strings.Join(s, ", ") + " }"
}

func nftValues(v any) ([]Value, bool) {
	switch x := v.(type) {
	case string:
		return []Value{{Lo: x, Hi: x}}, !strings.HasPrefix(x, "@") // @set: a named set, not decided
	case float64:
		s := strconv.FormatFloat(x, 'f', -1, 64)
		return []Value{{Lo: s, Hi: s}}, true
	case []any:
		var out []Value
		for _, e := range x {
			vs, ok := nftValues(e)
			if !ok {
				return nil, false
			}
			out = append(out, vs...)
		}
		return out, true
	case map[string]any:
		if s, ok := x["set"]; ok {
			return nftValues(s)
		}
		if p, ok := x["prefix"].(map[string]any); ok {
			a, _ := p["addr"].(string)
			n, _ := p["len"].(float64)
			addr, err := netip.ParseAddr(a)
			if err != nil || n < 0 || int(n) > addr.BitLen() {
				return nil, false
			}
			return []Value{{Prefix: netip.PrefixFrom(addr, int(n)).Masked()}}, true
		}
		if r, ok := x["range"].([]any); ok && len(r) == 2 {
			lo, ok1 := nftValues(r[0])
			hi, ok2 := nftValues(r[1])
			if !ok1 || !ok2 || len(lo) != 1 || len(hi) != 1 {
				return nil, false
			}
			return []Value{{Lo: lo[0].Lo, Hi: hi[0].Lo}}, true
		}
	}
	return nil, false
}

// ParseIptablesSave parses `iptables-save` (tool "iptables", family "ip") or
// `ip6tables-save` (tool "ip6tables", family "ip6") output. Only the filter
// table is read.
func ParseIptablesSave(text, tool string) ([]Chain, error) {
	family := "ip"
	if tool == "ip6tables" {
		family = "ip6"
	}
	hooks := map[string]string{"INPUT": "input", "OUTPUT": "output", "FORWARD": "forward"}
	var chains []Chain
	index := map[string]int{}
	table := ""
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || line == "COMMIT":
		case strings.HasPrefix(line, "*"):
			table = line[1:]
		case table != "filter":
		case strings.HasPrefix(line, ":"):
			f := strings.Fields(line[1:])
			if len(f) < 2 {
				return nil, fmt.Errorf("%s-save line %d: bad chain line %q", tool, n+1, line)
			}
			c := Chain{Tool: tool, Family: family, Table: table, Name: f[0], Hook: hooks[f[0]], Type: "filter"}
			if c.Hook != "" {
				c.Policy = strings.ToLower(f[1])
			}
			index[f[0]] = len(chains)
			chains = append(chains, c)
		case strings.HasPrefix(line, "-A "):
			args := splitArgs(line)
			if len(args) < 2 {
				return nil, fmt.Errorf("%s-save line %d: bad rule %q", tool, n+1, line)
			}
			i, ok := index[args[1]]
			if !ok {
				return nil, fmt.Errorf("%s-save line %d: rule for unknown chain %q", tool, n+1, args[1])
			}
			r := iptRule(args[2:])
			r.Text = line
			chains[i].Rules = append(chains[i].Rules, r)
		}
	}
	return chains, nil
}

// splitArgs splits a line on blanks, keeping "double quoted" words whole.
func splitArgs(s string) []string {
	var out []string
	var cur strings.Builder
	inQ, have := false, false
	for _, r := range s {
		switch {
		case r == '"':
			inQ, have = !inQ, true
		case (r == ' ' || r == '\t') && !inQ:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

func iptRule(args []string) Rule {
	var r Rule
	neg := false
	proto := ""
	next := func(i *int) string {
		if *i+1 < len(args) {
			*i++
			return args[*i]
		}
		return ""
	}
	add := func(field string, vals []Value) {
		r.Conds = append(r.Conds, Cond{Field: field, Negate: neg, Values: vals})
		neg = false
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch a {
		case "!":
			neg = true
		case "-p", "--protocol":
			proto = next(&i)
			add("meta.l4proto", []Value{{Lo: proto, Hi: proto}})
		case "-d", "--destination", "-s", "--source":
			v := next(&i)
			field := "ip.daddr"
			if a == "-s" || a == "--source" {
				field = "ip.saddr"
			}
			var vals []Value
			for _, s := range strings.Split(v, ",") {
				if p, err := netip.ParsePrefix(s); err == nil {
					vals = append(vals, Value{Prefix: p.Masked()})
				} else if ad, err := netip.ParseAddr(s); err == nil {
					vals = append(vals, Value{Prefix: netip.PrefixFrom(ad, ad.BitLen())})
				} else {
					field = "?" + field
				}
			}
			add(field, vals)
		case "-i", "--in-interface":
			v := strings.ReplaceAll(next(&i), "+", "*")
			add("meta.iifname", []Value{{Lo: v, Hi: v}})
		case "-o", "--out-interface":
			v := strings.ReplaceAll(next(&i), "+", "*")
			add("meta.oifname", []Value{{Lo: v, Hi: v}})
		case "--dport", "--destination-port", "--dports", "--destination-ports":
			var vals []Value
			for _, s := range strings.Split(next(&i), ",") {
				lo, hi, ok := strings.Cut(s, ":")
				if !ok {
					hi = lo
				}
				vals = append(vals, Value{Lo: lo, Hi: hi})
			}
			p := proto
			if p == "" {
				p = "th"
			}
			add(p+".dport", vals)
		case "--ctstate", "--state":
			var vals []Value
			for _, s := range strings.Split(next(&i), ",") {
				s = strings.ToLower(s)
				vals = append(vals, Value{Lo: s, Hi: s})
			}
			add("ct.state", vals)
		case "-m", "--match":
			next(&i) // the module name; its options follow
		case "-j", "--jump", "-g", "--goto":
			t := next(&i)
			switch strings.ToUpper(t) {
			case "ACCEPT", "DROP", "REJECT", "RETURN":
				r.Verdict = strings.ToLower(t)
			default:
				r.Verdict, r.Target = "jump", t
				if a == "-g" || a == "--goto" {
					r.Verdict = "goto"
				}
			}
		case "-c":
			next(&i)
			next(&i)
		default:
			if strings.HasPrefix(a, "-") {
				// An option not modelled here: the rule's match is undecided.
				field := "?" + strings.TrimLeft(a, "-")
				r.Conds = append(r.Conds, Cond{Field: field})
				neg = false
				// Skip its values.
				for i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") && args[i+1] != "!" {
					i++
				}
			}
		}
	}
	return r
}
