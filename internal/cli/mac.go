package cli

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/mac"
	"github.com/spf13/cobra"
)

// macResult is one line of `mcast mac --json`.
type macResult struct {
	Input  string       `json:"input"`
	Group  netip.Addr   `json:"group,omitzero"`
	MAC    string       `json:"mac"`
	Groups []netip.Addr `json:"groups,omitempty"`      // a MAC's 32 IPv4 groups
	Suffix string       `json:"ipv6_suffix,omitempty"` // an IPv6 MAC's low 32 bits
}

func newMacCmd(env *Env) *cobra.Command {
	c := newCommand("mac [flags] ADDR...", "map multicast groups to MAC addresses and back, and find groups that share a MAC",
		`Map each ADDR, a multicast group or a multicast MAC address, to the other: a group to its MAC, a MAC to the
groups it stands for. --check says which groups share a MAC (the given ones, else those joined on this host).`,
		`  mcast mac 239.1.1.1 ff02::1:ff00:1
  mcast mac --explain 239.129.1.1
  mcast mac --check 224.1.1.1 239.129.1.1 -j`)
	fs := c.Flags()
	explain := fs.Bool("explain", false, "draw how the group's bits map into the MAC (the classic 01:00:5e picture)")
	check := fs.Bool("check", false, "say which of the given groups, or of the groups joined on this host when none are given, share a MAC")
	asJSON := fs.BoolP("json", "j", false, "print JSON")
	c.RunE = func(_ *cobra.Command, args []string) error {
		addrs := fs.Args()
		if len(addrs) == 0 && !*check {
			return usagef("give a multicast group or MAC address, such as 239.0.0.100 or 01:00:5e:00:00:64")
		}
		if *check {
			return macCheck(env, addrs, *asJSON)
		}
		var results []macResult
		for _, a := range addrs {
			r, err := macLookup(a)
			if err != nil {
				return err
			}
			results = append(results, r)
		}
		if *asJSON {
			return jsonOut(env, macRecord{Header: stamp("mac"), Results: results})
		}
		for _, r := range results {
			switch {
			case r.Group.IsValid():
				if *explain {
					s, _ := mac.Explain(r.Group)
					fmt.Fprintln(env.Stdout, s)
					continue
				}
				fmt.Fprintf(env.Stdout, "%-16s %s\n", r.Input, r.MAC)
			case len(r.Groups) > 0:
				fmt.Fprintf(env.Stdout, "%s stands for 32 IPv4 groups:\n", r.MAC)
				for i := 0; i < len(r.Groups); i += 8 {
					var s []string
					for _, g := range r.Groups[i:min(i+8, len(r.Groups))] {
						s = append(s, fmt.Sprintf("%-15s", g))
					}
					fmt.Fprintf(env.Stdout, "  %s\n", strings.TrimRight(strings.Join(s, " "), " "))
				}
			default:
				fmt.Fprintf(env.Stdout, "%s stands for every IPv6 group ending in %s (such as ff02::%s, ff0e::%s)\n", r.MAC, r.Suffix, r.Suffix, r.Suffix)
			}
		}
		return nil
	}
	return c
}

func macLookup(text string) (macResult, error) {
	if g, err := netip.ParseAddr(text); err == nil {
		m, err := mac.FromGroup(g)
		if err != nil {
			return macResult{}, UsageError{err}
		}
		return macResult{Input: text, Group: g.Unmap(), MAC: m.String()}, nil
	}
	hw, err := net.ParseMAC(text)
	if err != nil {
		return macResult{}, usagef("%q is neither an IP address nor a MAC address", text)
	}
	f, err := mac.Classify(hw)
	if err != nil {
		return macResult{}, UsageError{err}
	}
	r := macResult{Input: text, MAC: hw.String()}
	if f == mac.IPv4 {
		r.Groups, _ = mac.IPv4Groups(hw)
	} else {
		r.Suffix = mac.IPv6Suffix(hw)
	}
	return r, nil
}

// macShared is one MAC shared by several groups in `mcast mac --check --json`.
type macShared struct {
	Iface  string       `json:"iface,omitempty"`
	MAC    string       `json:"mac"`
	Groups []netip.Addr `json:"groups"`
}

func macCheck(env *Env, texts []string, asJSON bool) error {
	type set struct {
		iface  string
		groups []netip.Addr
	}
	var sets []set
	if len(texts) > 0 {
		var gs []netip.Addr
		for _, t := range texts {
			g, err := netip.ParseAddr(t)
			if err != nil {
				return usagef("%q is not an IP address", t)
			}
			if !g.Unmap().IsMulticast() {
				return usagef("%s is not a multicast address", t)
			}
			gs = append(gs, g)
		}
		sets = append(sets, set{groups: gs})
	} else {
		ifs, err := hostfs.Host().Groups()
		if err != nil {
			return err
		}
		for _, i := range ifs {
			s := set{iface: i.Name}
			for _, m := range append(i.IPv4, i.IPv6...) {
				s.groups = append(s.groups, m.Group)
			}
			sets = append(sets, s)
		}
	}
	var out []macShared
	for _, s := range sets {
		for _, c := range mac.Collisions(s.groups) {
			out = append(out, macShared{Iface: s.iface, MAC: c.MAC.String(), Groups: c.Groups})
		}
	}
	if asJSON {
		if out == nil {
			out = []macShared{}
		}
		return jsonOut(env, macCheckRecord{Header: stamp("mac.check"), Shared: out})
	}
	if len(out) == 0 {
		fmt.Fprintln(env.Stdout, "no two groups share a MAC")
		return nil
	}
	for _, c := range out {
		where := ""
		if c.Iface != "" {
			where = " on " + c.Iface
		}
		var gs []string
		for _, g := range c.Groups {
			gs = append(gs, g.String())
		}
		fmt.Fprintf(env.Stdout, "%s%s is shared by %s: each NIC that joins one receives all of them, and the kernel drops the rest\n", c.MAC, where, strings.Join(gs, ", "))
	}
	return nil
}

func jsonOut(env *Env, v any) error {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
