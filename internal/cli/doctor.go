package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/mcasttools/mcast/internal/addrarg"
	"github.com/mcasttools/mcast/internal/contract"
	"github.com/mcasttools/mcast/internal/doctor"
	"github.com/spf13/cobra"
)

func newDoctorCmd(env *Env) *cobra.Command {
	c := newCommand("doctor [flags]", "name what keeps multicast or broadcast from working on this host, with the evidence and the fix",
		`Check this host for what keeps multicast or broadcast from working: interface flags, routes, reverse path
filters, firewall rules, IGMP/MLD versions and queriers, socket buffers. Each finding names the evidence and
the fix. With root and --group, also probe the group.`,
		`  mcast doctor
  mcast doctor -I eth0 --group 239.1.1.1:5000 -j`)
	fs := c.Flags()
	ifText := fs.StringP("iface", "I", "", "the interface multicast should use: a name or one of its addresses (default: the route's)")
	groupText := fs.String("group", "", "the group (and UDP port) to check, G[:PORT]; with root, also probe it (default: MULTICAST_ADDR if set)")
	srcText := fs.String("source", "", "the sender's address: this host's (then the probe sends from it) or another host's")
	ttl := fs.IntP("ttl", "t", 1, "the TTL the senders use (mcast send's default is 1)")
	asJSON := fs.BoolP("json", "j", false, "print the reports as JSON")
	verbose := fs.BoolP("verbose", "v", false, "show the evidence of checks that passed too")
	listen := fs.Duration("listen", 0, "as root, listen this long for IGMP/MLD queries on the wire to learn the querier's address and version (queriers query every 125s by default: --listen 130s; 0: do not listen)")
	timeout := fs.DurationP("timeout", "T", 10*time.Second, "give up on a check after this long (plus --listen for the checks that listen)")
	c.RunE = func(c *cobra.Command, args []string) error {
		ctx := c.Context()
		if fs.NArg() > 0 {
			return usagef("unexpected argument %q (the group goes in --group)", fs.Arg(0))
		}
		if *ttl < 0 || *ttl > 255 {
			return usagef("invalid --ttl %d: must be 0..255", *ttl)
		}
		if *timeout <= 0 {
			return usagef("invalid --timeout %s: must be positive", *timeout)
		}
		if *listen < 0 {
			return usagef("invalid --listen %s: must not be negative", *listen)
		}
		t := doctor.Target{Iface: *ifText, TTL: *ttl, Listen: *listen}
		from := "--group"
		if *groupText == "" {
			*groupText, from = env.Getenv("MULTICAST_ADDR"), "MULTICAST_ADDR"
		}
		if *groupText != "" {
			host, port := addrarg.SplitHostPort(*groupText)
			if port != "" {
				p, err := addrarg.ParsePort(port)
				if err != nil {
					return UsageError{fmt.Errorf("%s %q: %w", from, *groupText, err)}
				}
				t.Port = p
			}
			// A group that is not multicast is a usage error, as in send and
			// recv: checking something else than what was asked helps nobody.
			g, err := addrarg.ParseGroup(host)
			if err != nil {
				return UsageError{fmt.Errorf("%s: %w", from, err)}
			}
			t.Group = g
		}
		if *srcText != "" {
			a, err := netip.ParseAddr(*srcText)
			if err != nil {
				return usagef("invalid --source %q: not an IP address", *srcText)
			}
			t.Source = a.Unmap()
		}
		reports := doctor.Run(ctx, doctor.Catalog(doctor.LiveHost(), t), *timeout+*listen)
		if *asJSON {
			if err := writeDoctorJSON(env.Stdout, t, reports); err != nil {
				return err
			}
		} else {
			writeDoctorText(env.Stdout, t, reports, *verbose)
		}
		if doctor.Failed(reports) {
			return ExitError{Code: 1}
		}
		return nil
	}
	return c
}

// doctorJSON is the stable JSON shape of `mcast doctor --json`.
type doctorJSON struct {
	contract.Header
	Target struct {
		Iface  string  `json:"iface,omitempty"`
		Group  string  `json:"group,omitempty"`
		Port   uint16  `json:"port,omitempty"`
		Source string  `json:"source,omitempty"`
		TTL    int     `json:"ttl"`
		Listen float64 `json:"listen_seconds,omitempty"`
	} `json:"target"`
	Checks []doctor.Report `json:"checks"`
	Counts map[string]int  `json:"counts"`
	Failed bool            `json:"failed"`
}

func writeDoctorJSON(w io.Writer, t doctor.Target, rs []doctor.Report) error {
	out := doctorJSON{Header: stamp("doctor")}
	out.Target.Iface = t.Iface
	if t.HasGroup() {
		out.Target.Group = t.Group.String()
	}
	out.Target.Port = t.Port
	if t.Source.IsValid() {
		out.Target.Source = t.Source.String()
	}
	out.Target.TTL = t.TTL
	out.Target.Listen = t.Listen.Seconds()
	out.Checks = rs
	out.Counts = map[string]int{"ok": 0, "warn": 0, "fail": 0, "skip": 0}
	for s, n := range doctor.Count(rs) {
		out.Counts[s.String()] = n
	}
	out.Failed = doctor.Failed(rs)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeDoctorText(w io.Writer, t doctor.Target, rs []doctor.Report, verbose bool) {
	var about []string
	if t.HasGroup() {
		g := t.Group.String()
		if t.Port != 0 {
			g = netip.AddrPortFrom(t.Group, t.Port).String()
		}
		about = append(about, "group "+g)
	}
	if t.Iface != "" {
		about = append(about, "interface "+t.Iface)
	}
	if t.Source.IsValid() {
		about = append(about, "source "+t.Source.String())
	}
	if t.Listen > 0 {
		about = append(about, "listening "+t.Listen.String()+" for queriers")
	}
	head := "mcast doctor"
	if len(about) > 0 {
		head += ": " + strings.Join(about, ", ")
	}
	fmt.Fprintln(w, head)
	for _, r := range rs {
		fmt.Fprintf(w, "\n%-4s  %s: %s\n", strings.ToUpper(r.Status.String()), r.Check, r.Summary)
		if r.Status != doctor.OK || verbose {
			for _, e := range r.Evidence {
				fmt.Fprintf(w, "      seen: %s\n", e)
			}
		}
		for _, f := range r.Fix {
			fmt.Fprintf(w, "      fix:  %s\n", f)
		}
	}
	c := doctor.Count(rs)
	fmt.Fprintf(w, "\n%d fail, %d warn, %d ok, %d skipped\n", c[doctor.Fail], c[doctor.Warn], c[doctor.OK], c[doctor.Skip])
}
