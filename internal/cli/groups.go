package cli

import (
	"fmt"
	"io"
	"net/netip"
	"strings"

	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/mac"
	"github.com/spf13/cobra"
)

func newGroupsCmd(env *Env) *cobra.Command {
	c := newCommand("groups [flags]", "list the groups each interface joined, with users, versions and source filters",
		"List the groups each interface joined, the programs that joined them, the IGMP/MLD version in use and source filters.",
		`  mcast groups
  mcast groups -I eth0 -j`)
	fs := c.Flags()
	ifName := fs.StringP("iface", "I", "", "show only this interface (default: every interface with multicast state)")
	asJSON := fs.BoolP("json", "j", false, "print JSON (fields in docs/watch.md)")
	c.RunE = func(_ *cobra.Command, args []string) error {
		if fs.NArg() > 0 {
			return usagef("unexpected argument %q", fs.Arg(0))
		}
		all, err := hostfs.Host().Groups()
		if err != nil {
			return err
		}
		if *ifName != "" {
			ifs, err := iface.List()
			if err != nil {
				return err
			}
			ifc, err := iface.Resolve(ifs, *ifName, iface.NeedAny)
			if err != nil {
				return classifyIfaceErr(err)
			}
			var keep []hostfs.IfaceGroups
			for _, g := range all {
				if g.Index == ifc.Index {
					keep = append(keep, g)
				}
			}
			if len(keep) == 0 {
				keep = []hostfs.IfaceGroups{{Index: ifc.Index, Name: ifc.Name}}
			}
			all = keep
		}
		if *asJSON {
			for i := range all {
				// Stable JSON: empty lists, not null.
				if all[i].IPv4 == nil {
					all[i].IPv4 = []hostfs.Membership{}
				}
				if all[i].IPv6 == nil {
					all[i].IPv6 = []hostfs.Membership{}
				}
				if all[i].Link == nil {
					all[i].Link = []hostfs.LinkAddr{}
				}
			}
			if all == nil {
				all = []hostfs.IfaceGroups{}
			}
			return jsonOut(env, groupsRecord{Header: stamp("groups"), Interfaces: all})
		}
		for _, g := range all {
			writeIfaceGroups(env.Stdout, g)
		}
		return nil
	}
	return c
}

func writeIfaceGroups(w io.Writer, g hostfs.IfaceGroups) {
	var vers []string
	if g.IGMPVersion > 0 {
		vers = append(vers, fmt.Sprintf("IGMPv%d", g.IGMPVersion))
	}
	if g.MLDVersion > 0 {
		vers = append(vers, fmt.Sprintf("MLDv%d", g.MLDVersion))
	}
	fmt.Fprintf(w, "%d: %s", g.Index, g.Name)
	if len(vers) > 0 {
		fmt.Fprintf(w, "  (%s)", strings.Join(vers, ", "))
	}
	fmt.Fprintln(w)
	for _, l := range g.Link {
		fmt.Fprintf(w, "    link  %-30s users %d\n", l.Addr, l.Users)
	}
	for _, fam := range []struct {
		name string
		ms   []hostfs.Membership
	}{{"inet ", g.IPv4}, {"inet6", g.IPv6}} {
		for _, m := range fam.ms {
			fmt.Fprintf(w, "    %s %-30s users %d  %s%s  mac %s\n", fam.name, m.Group, m.Users, m.Mode, fmtFilter(m.Sources), macOf(m.Group))
		}
	}
}

func fmtFilter(srcs []hostfs.Source) string {
	s := make([]string, len(srcs))
	for i, x := range srcs {
		s[i] = x.Addr.String()
	}
	return " {" + strings.Join(s, ",") + "}"
}

func macOf(g netip.Addr) string {
	m, err := mac.FromGroup(g)
	if err != nil {
		return "-"
	}
	return m.String()
}
