package doctor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcasttools/mcast/internal/hostfs"
)

// limitsCheck (7) compares the per-socket IGMP limits with the memberships
// in use, and a forced IGMP version with the querier's.
type limitsCheck struct {
	h    *Host
	t    Target
	wire *listener
}

func (limitsCheck) Name() string { return "limits" }

func (c limitsCheck) Run(ctx context.Context) Result {
	fs := c.h.FS
	maxM, err := fs.SysctlInt("net.ipv4.igmp_max_memberships")
	if err != nil {
		return Skipf("%v", err)
	}
	maxMsf, err := fs.SysctlInt("net.ipv4.igmp_max_msf")
	if err != nil {
		return Skipf("%v", err)
	}
	res := Result{Status: OK, Evidence: []string{fmt.Sprintf("net.ipv4.igmp_max_memberships=%d, net.ipv4.igmp_max_msf=%d", maxM, maxMsf)}}
	var notes []string

	ifs, err := readIGMP(fs)
	if err != nil {
		return Skipf("%v", err)
	}
	versionOf := map[string]int{}
	for _, i := range ifs {
		versionOf[i.Name] = i.Version
		n := 0
		for _, g := range i.Groups {
			if g.Group.String() != "224.0.0.1" {
				n++
			}
		}
		if n == 0 {
			continue
		}
		res.Evidence = append(res.Evidence, fmt.Sprintf("/proc/net/igmp: %s has %s joined (IGMPv%d)", i.Name, plural(n, "group", "groups"), i.Version))
		if n*5 >= maxM*4 {
			res.Status = worst(res.Status, Warn)
			notes = append(notes, fmt.Sprintf("%s holds %d groups and one socket may join at most %d (igmp_max_memberships): a program joining them all on one socket gets ENOBUFS", i.Name, n, maxM))
			res.Fix = append(res.Fix, fmt.Sprintf("sysctl -w net.ipv4.igmp_max_memberships=%d", max(2*n, 2*maxM)))
		}
	}
	if f, err := os.Open(filepath.Join(fs.Root, "proc/net/mcfilter")); err == nil {
		filt, perr := hostfs.ParseMcfilter(f)
		f.Close()
		if perr == nil {
			per := map[string]int{}
			for _, s := range filt {
				per[s.Iface+" "+s.Group.String()]++
			}
			for k, n := range per {
				if n*5 >= maxMsf*4 {
					res.Status = worst(res.Status, Warn)
					notes = append(notes, fmt.Sprintf("group %s filters %d sources and one socket may list at most %d (igmp_max_msf)", k, n, maxMsf))
					res.Fix = append(res.Fix, fmt.Sprintf("sysctl -w net.ipv4.igmp_max_msf=%d", max(2*n, 2*maxMsf)))
				}
			}
		}
	}

	links, err := c.h.Net.Links(ctx)
	if err != nil {
		return Skipf("%v", err)
	}
	t := c.t
	t.Group = netipZero
	cands, err := candidates(links, t)
	if err != nil {
		return Skipf("%v", err)
	}
	all, _ := fs.SysctlInt("net.ipv4.conf.all.force_igmp_version")
	heard := c.wire.Heard(ctx)
	if heard.Asked && heard.Err != nil {
		res.Evidence = append(res.Evidence, "could not listen for queriers: "+heard.Err.Error())
	}
	for _, l := range cands {
		dev, err := fs.SysctlInt("net.ipv4.conf." + l.Name + ".force_igmp_version")
		if err != nil {
			continue
		}
		forced := forcedVersion(all, dev)
		// The querier on the wire is the one that counts; a local
		// querier bridge is the next best.
		q, qwhere := c.querier(links, l)
		seen := ""
		if q != 0 {
			seen = fmt.Sprintf("%s: querier %s speaks IGMPv%d", l.Name, qwhere, q)
		}
		if w, ok := heard.IGMP(l.Name); ok {
			q, qwhere = w.Version, w.Addr.String()+" on the wire"
			seen = ""
			for _, o := range heard.On(l.Name) {
				if o.Proto == "IGMP" {
					res.Evidence = append(res.Evidence, o.String())
				}
			}
		} else if heard.Asked && heard.Err == nil {
			res.Evidence = append(res.Evidence, fmt.Sprintf("%s: no IGMP query heard in %s of listening", l.Name, heard.For))
		}
		if forced == 0 {
			if seen != "" {
				res.Evidence = append(res.Evidence, seen)
			}
			continue
		}
		res.Evidence = append(res.Evidence, fmt.Sprintf("net.ipv4.conf.all.force_igmp_version=%d, net.ipv4.conf.%s.force_igmp_version=%d", all, l.Name, dev))
		fix := fmt.Sprintf("sysctl -w net.ipv4.conf.all.force_igmp_version=0 net.ipv4.conf.%s.force_igmp_version=0", l.Name)
		switch {
		case q != 0 && q != forced:
			res.Status = worst(res.Status, Fail)
			if seen != "" {
				res.Evidence = append(res.Evidence, seen)
			}
			notes = append(notes, fmt.Sprintf("%s is forced to IGMPv%d but its querier (%s) speaks IGMPv%d: the querier falls back to v%d for the groups this host joins, and source-specific joins lose their sources", l.Name, forced, qwhere, q, forced))
			res.Fix = append(res.Fix, fix)
		case q == 0:
			res.Status = worst(res.Status, Warn)
			why := "querier's version unknown from here"
			switch {
			case !heard.Asked:
				why += "; run doctor as root with --listen 130s to hear it"
			case heard.Err == nil:
				why = fmt.Sprintf("no querier heard in %s", heard.For)
			}
			notes = append(notes, fmt.Sprintf("%s is forced to IGMPv%d (%s): source-specific joins cannot be signalled", l.Name, forced, why))
			res.Fix = append(res.Fix, fix)
		default:
			if seen != "" {
				res.Evidence = append(res.Evidence, seen+" too")
			} else {
				res.Evidence = append(res.Evidence, fmt.Sprintf("%s: querier %s speaks IGMPv%d too", l.Name, qwhere, q))
			}
		}
	}
	if len(notes) == 0 {
		res.Summary = "memberships are well below the per-socket limits, and no IGMP version is forced against the querier"
	} else {
		res.Summary = strings.Join(notes, "; ")
	}
	return res
}

// forcedVersion is the IGMP version the kernel forces on an interface: v1
// when conf.all or conf.<if> says 1, else v2 when either says 2, else 0.
func forcedVersion(all, dev int) int {
	switch {
	case all == 1 || dev == 1:
		return 1
	case all == 2 || dev == 2:
		return 2
	}
	return 0
}

// querier finds the IGMP version of a querier this host can see for l: l
// itself or the bridge l is a port of, when that bridge is the querier.
func (c limitsCheck) querier(links []Link, l Link) (int, string) {
	for _, b := range []Link{l, masterOf(links, l)} {
		if b.Type != "bridge" {
			continue
		}
		bs := readBridge(c.h.FS, b.Name)
		if bs.err == nil && bs.Snooping && bs.Querier {
			return bs.IGMPVersion, "bridge " + b.Name
		}
	}
	return 0, ""
}

func masterOf(links []Link, l Link) Link {
	if l.MasterIndex == 0 {
		return Link{}
	}
	m, _ := linkByIndex(links, l.MasterIndex)
	return m
}

func readIGMP(fs hostfs.FS) ([]hostfs.IGMPIface, error) {
	f, err := os.Open(filepath.Join(fs.Root, "proc/net/igmp"))
	if err != nil {
		return nil, fmt.Errorf("reading IGMP memberships: %w", err)
	}
	defer f.Close()
	return hostfs.ParseIGMP(f)
}
