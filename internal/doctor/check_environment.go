package doctor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcasttools/mcast/internal/hostfs"
)

// environmentCheck (10) says where this runs: a container (and how its
// network is attached), a VM in a cloud whose network does not carry
// multicast (from /sys/class/dmi/id), and what that provider supports.
type environmentCheck struct {
	h *Host
	t Target
}

func (environmentCheck) Name() string { return "environment" }

// Cloud is a provider recognised from DMI, and what its network carries.
type Cloud struct {
	Name      string
	Multicast string
	Broadcast string
}

// clouds are the published cloud limits, updated: what each provider's virtual
// network carries.
var clouds = []struct {
	match []string // substrings of sys_vendor, product_name, bios_vendor, chassis_asset_tag
	Cloud
}{
	{[]string{"amazon ec2", "amazon"}, Cloud{"Amazon EC2",
		"only through Transit Gateway multicast domains (IGMP or static group members); a plain VPC does not carry it",
		"no"}},
	{[]string{"google compute engine", "google"}, Cloud{"Google Compute Engine",
		"not in a VPC network; only the allow-listed regional multicast service, where your project is admitted",
		"no"}},
	{[]string{"7783-7084-3265-9085-8269-3286-77", "microsoft corporation"}, Cloud{"Microsoft Azure",
		"no (virtual networks block multicast, broadcast, IP-in-IP and GRE)",
		"no"}},
	{[]string{"oraclecloud.com"}, Cloud{"Oracle Cloud Infrastructure",
		"no (the VCN carries unicast only)",
		"no"}},
}

var hypervisors = []string{"qemu", "kvm", "vmware", "virtualbox", "innotek", "xen", "bochs", "parallels", "firecracker", "cloud hypervisor"}

// DetectCloud reads /sys/class/dmi/id below the FS root.
func (c environmentCheck) dmi() (map[string]string, []string) {
	files := []string{"sys_vendor", "product_name", "bios_vendor", "board_vendor", "chassis_vendor", "chassis_asset_tag"}
	m := map[string]string{}
	var ev []string
	for _, f := range files {
		if s, err := readFile(c.h.FS, "sys/class/dmi/id/"+f); err == nil && s != "" {
			m[f] = s
			ev = append(ev, fmt.Sprintf("/sys/class/dmi/id/%s: %s", f, s))
		}
	}
	return m, ev
}

func (c environmentCheck) Run(ctx context.Context) Result {
	res := Result{Status: OK}
	var notes []string

	// The container.
	ctr := ""
	switch {
	case exists(c.h.FS, ".dockerenv"):
		ctr = "Docker"
		res.Evidence = append(res.Evidence, "/.dockerenv exists")
	case exists(c.h.FS, "run/.containerenv"):
		ctr = "Podman"
		res.Evidence = append(res.Evidence, "/run/.containerenv exists")
	}
	if cg, err := readFile(c.h.FS, "proc/1/cgroup"); err == nil {
		for _, k := range []string{"docker", "kubepods", "containerd", "lxc", "libpod"} {
			if strings.Contains(cg, k) {
				if ctr == "" {
					ctr = k
				}
				res.Evidence = append(res.Evidence, fmt.Sprintf("/proc/1/cgroup mentions %s", k))
				break
			}
		}
	}
	ns, inNetns := ownNetns(c.h.FS)
	if ctr != "" && inNetns {
		// The container's marks are files of the machine: a namespace
		// made inside it (ip netns add, mcast lab) has links of its own,
		// and the container's attachment only matters beyond them.
		res.Evidence = append(res.Evidence, fmt.Sprintf("/run/netns/%s is this process's network namespace", ns))
		notes = append(notes, fmt.Sprintf("in network namespace %s (made with ip netns or mcast lab) inside a %s container: multicast between such namespaces does not depend on the container's network", ns, ctr))
		ctr = ""
	}
	if ctr != "" {
		mode, detail := c.netMode(ctx)
		res.Evidence = append(res.Evidence, detail)
		switch mode {
		case "none":
			res.Status = Fail
			notes = append(notes, fmt.Sprintf("a %s container with no network but lo", ctr))
			res.Fix = append(res.Fix, "run the container with --network host, or a macvlan network")
		case "bridge":
			res.Status = Warn
			notes = append(notes, fmt.Sprintf("a %s container on a bridged (veth) network: its multicast reaches the containers on the same bridge, not the LAN (NAT does not carry multicast)", ctr))
			res.Fix = append(res.Fix, "run the container with --network host, or on a macvlan/ipvlan network, to reach the LAN")
		default:
			notes = append(notes, fmt.Sprintf("a %s container with %s networking", ctr, mode))
		}
	}

	// The machine.
	dmi, ev := c.dmi()
	res.Evidence = append(res.Evidence, ev...)
	all := strings.ToLower(strings.Join([]string{dmi["sys_vendor"], dmi["product_name"], dmi["bios_vendor"], dmi["chassis_asset_tag"], dmi["board_vendor"]}, " | "))
	found := false
	for _, cl := range clouds {
		for _, m := range cl.match {
			if strings.Contains(all, m) && (m != "microsoft corporation" || strings.Contains(all, "virtual machine")) {
				found = true
				res.Status = worst(res.Status, Warn)
				notes = append(notes, fmt.Sprintf("a VM in %s, whose network carries multicast: %s; broadcast: %s", cl.Name, cl.Multicast, cl.Broadcast))
				res.Fix = append(res.Fix, "between VMs, carry multicast and broadcast over unicast: a GRETAP/VXLAN overlay (mcast tunnel) or a relay (mcast relay)")
				break
			}
		}
		if found {
			break
		}
	}
	if !found {
		for _, h := range hypervisors {
			if strings.Contains(all, h) {
				notes = append(notes, fmt.Sprintf("a VM (%s): its virtual network decides what multicast crosses", h))
				found = true
				break
			}
		}
	}
	if len(notes) == 0 {
		res.Summary = "not a container, not a cloud VM"
		if len(dmi) == 0 {
			res.Evidence = append(res.Evidence, "no /sys/class/dmi/id (no firmware tables: bare kernel or a micro-VM)")
		}
	} else {
		res.Summary = joinAnd(notes)
	}
	return res
}

// netMode tells how a container's network is attached, from its links
// alone, so that every run on one host gives one answer whatever the group
// and its route: "none" (only lo is up), "host" (a physical NIC, a bridge
// or a bond is up: the host's own links), "macvlan" or "ipvlan", or
// "bridge" (veths only: Docker's bridge network, a Kubernetes pod).
func (c environmentCheck) netMode(ctx context.Context) (string, string) {
	links, err := c.h.Net.Links(ctx)
	if err != nil {
		return "unknown", fmt.Sprintf("network: %v", err)
	}
	var names []string
	up := map[string]bool{}
	for _, l := range links {
		if l.Loopback {
			continue
		}
		names = append(names, fmt.Sprintf("%s (%s)", l.Name, l.Type))
		if l.Up {
			up[l.Type] = true
		}
	}
	list := "interfaces: " + strings.Join(names, ", ")
	switch {
	case len(up) == 0:
		if len(names) == 0 {
			return "none", "network: only lo"
		}
		return "none", "network: only lo is up; " + list
	case up["device"] || up["bridge"] || up["bond"]:
		return "host", "network: a host's links are up; " + list
	case up["macvlan"]:
		return "macvlan", "network: a macvlan is up; " + list
	case up["ipvlan"]:
		return "ipvlan", "network: an ipvlan is up; " + list
	case up["veth"]:
		return "bridge", "network: veths only; " + list
	}
	return "host", "network: " + list
}

// ownNetns finds the name this process's network namespace is bound under
// in /run/netns (by ip netns add, as mcast lab does): a namespace made on
// the machine, not the one a container runtime gave it.
func ownNetns(fs hostfs.FS) (string, bool) {
	self, err := os.Stat(filepath.Join(fs.Root, "proc/self/ns/net"))
	if err != nil {
		return "", false
	}
	dir := filepath.Join(fs.Root, "run/netns")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", false
	}
	for _, e := range entries {
		if st, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && os.SameFile(self, st) {
			return e.Name(), true
		}
	}
	return "", false
}
