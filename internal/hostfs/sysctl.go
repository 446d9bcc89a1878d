// Package hostfs reads kernel state from /proc and /sys. Every reader takes a
// root directory, so tests point it at recorded files under testdata/.
package hostfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// FS reads kernel files below Root ("/" on a live system).
type FS struct{ Root string }

// Host is the live system: its files below "/".
func Host() FS { return FS{Root: "/"} }

// Sysctl reads a sysctl by its dotted name, such as
// "net.ipv4.conf.enX1.accept_local".
func (fs FS) Sysctl(name string) (string, error) {
	p := filepath.Join(fs.Root, "proc", "sys", strings.ReplaceAll(name, ".", "/"))
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("reading sysctl %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// SysctlInt reads a sysctl holding one integer.
func (fs FS) SysctlInt(name string) (int, error) {
	s, err := fs.Sysctl(name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("sysctl %s: %q is not a number", name, s)
	}
	return n, nil
}

// PathFilter is the part of an interface's IPv4 configuration that decides
// whether a datagram whose source is one of the host's own addresses, arriving
// from the wire, is accepted.
type PathFilter struct {
	AcceptLocal bool // net.ipv4.conf.<if>.accept_local
	RPFilter    int  // effective rp_filter: max(conf.all, conf.<if>); 1 is strict
}

// ReadPathFilter reads the accept_local and rp_filter settings of an interface.
func (fs FS) ReadPathFilter(ifname string) (PathFilter, error) {
	al, err := fs.SysctlInt("net.ipv4.conf." + ifname + ".accept_local")
	if err != nil {
		return PathFilter{}, err
	}
	all, err := fs.SysctlInt("net.ipv4.conf.all.rp_filter")
	if err != nil {
		return PathFilter{}, err
	}
	dev, err := fs.SysctlInt("net.ipv4.conf." + ifname + ".rp_filter")
	if err != nil {
		return PathFilter{}, err
	}
	return PathFilter{AcceptLocal: al != 0, RPFilter: max(all, dev)}, nil
}

// AcceptsOwnSource reports whether the interface accepts a wire copy whose
// source address is one of the host's own, and if not, why and how to fix it.
func (pf PathFilter) AcceptsOwnSource(ifname string) (ok bool, why, fix string) {
	switch {
	case !pf.AcceptLocal:
		return false, fmt.Sprintf("net.ipv4.conf.%s.accept_local=0 drops wire copies whose source is this host's own address", ifname),
			fmt.Sprintf("sysctl -w net.ipv4.conf.%s.accept_local=1", ifname)
	case pf.RPFilter == 1:
		return false, fmt.Sprintf("strict rp_filter (max of conf.all and conf.%s is 1) drops wire copies whose source belongs to another interface", ifname),
			LooseRPFilterFix(ifname)
	}
	return true, "", ""
}

// LooseRPFilterFix is the command that makes ifname's rp_filter loose (2):
// the effective value is the larger of conf.all and conf.<ifname>, so both
// are set.
func LooseRPFilterFix(ifname string) string {
	return fmt.Sprintf("sysctl -w net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.%s.rp_filter=2", ifname)
}
