package cli

import (
	"fmt"
	"net/netip"

	"github.com/mcasttools/mcast/internal/addrarg"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/spf13/pflag"
)

// recvTargets reads the groups (or, with --broadcast, an optional
// [ADDRESS][:PORT] whose port is used).
func recvTargets(env *Env, fs *pflag.FlagSet, portFlag string, broadcast bool) ([]addrarg.Target, error) {
	port, err := portFrom(env, portFlag)
	if err != nil {
		return nil, err
	}
	if broadcast {
		if fs.NArg() > 1 {
			return nil, usagef("--broadcast takes at most one [ADDRESS][:PORT]")
		}
		if fs.NArg() == 1 {
			host, p := addrarg.SplitHostPort(fs.Arg(0))
			if a, err := netip.ParseAddr(host); host != "" && (err != nil || !a.Is4() || a.IsMulticast()) {
				return nil, usagef("invalid broadcast address %q: want an IPv4 address that is not multicast (receive a group without --broadcast)", fs.Arg(0))
			}
			if p != "" {
				if port, err = addrarg.ParsePort(p); err != nil {
					return nil, UsageError{err}
				}
			}
		}
		return []addrarg.Target{{Group: netip.IPv4Unspecified(), Port: port}}, nil
	}
	ts, err := addrarg.ParseTargets(fs.Args(), env.Getenv("MULTICAST_ADDR"), port)
	if err != nil {
		return nil, UsageError{err}
	}
	return ts, nil
}

// pickIfaces resolves the --iface values, or picks every interface that is
// up, multicast-capable and has an address of the family when none was given.
func pickIfaces(all []iface.Interface, texts []string, is6 bool) ([]iface.Interface, error) {
	need := ifaceNeed(is6)
	var out []iface.Interface
	seen := map[int]bool{}
	for _, t := range texts {
		ifc, err := iface.Resolve(all, t, need)
		if err != nil {
			return nil, classifyIfaceErr(err)
		}
		if !seen[ifc.Index] {
			seen[ifc.Index] = true
			out = append(out, ifc)
		}
	}
	if len(texts) > 0 {
		return out, nil
	}
	for _, ifc := range all {
		if !ifc.Up || !ifc.Multicast || ifc.Name == "lo" {
			continue
		}
		if _, ok := ifc.IPv4(); ok && !is6 {
			out = append(out, ifc)
		} else if is6 && hasIPv6(ifc) {
			out = append(out, ifc)
		}
	}
	if len(out) == 0 {
		fam := "IPv4"
		if is6 {
			fam = "IPv6"
		}
		return nil, fmt.Errorf("no interface is up with multicast and %s; name one with --iface", fam)
	}
	return out, nil
}

func hasIPv6(ifc iface.Interface) bool {
	for _, p := range ifc.Addrs {
		if p.Addr().Is6() {
			return true
		}
	}
	return false
}
