package doctor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/doctor"
)

// How a container is attached is a property of the host, not of the group
// asked about: with or without a route for the group, and with or without
// --group, the verdict is the same.
func TestEnvironmentOneAnswerPerHost(t *testing.T) {
	bridged := func(routed bool) *fakeNet {
		n := &fakeNet{links: []doctor.Link{lo, eth("eth0", 2, "172.17.0.2/16")}}
		if routed {
			n.routes = []doctor.Route{{Type: "unicast", Gateway: ip("172.17.0.1"), Dev: "eth0", Table: doctor.TableMain}}
			n.get = map[string]doctor.Route{
				"239.1.2.3":   {Type: "multicast", Dst: pfx("239.1.2.3/32"), Dev: "eth0", Src: ip("172.17.0.2")},
				"239.255.0.1": {Type: "multicast", Dst: pfx("239.255.0.1/32"), Dev: "eth0", Src: ip("172.17.0.2")},
			}
		}
		return n
	}
	hostNet := func(routed bool) *fakeNet {
		phys := eth("enp3s0", 2, "192.168.1.10/24")
		phys.Type = "device"
		br := doctor.Link{Name: "docker0", Index: 3, Type: "bridge", Up: true, Multicast: true, Addrs: addrs("172.17.0.1/16")}
		n := &fakeNet{links: []doctor.Link{lo, phys, br, eth("veth1a2b", 4)}}
		if routed {
			n.get = map[string]doctor.Route{"239.1.2.3": {Type: "multicast", Dst: pfx("239.1.2.3/32"), Dev: "enp3s0"},
				"239.255.0.1": {Type: "multicast", Dst: pfx("239.255.0.1/32"), Dev: "enp3s0"}}
		}
		return n
	}
	for _, tt := range []struct {
		name   string
		net    func(bool) *fakeNet
		status doctor.Status
		want   string
	}{
		{"bridged", bridged, doctor.Warn, "a Docker container on a bridged (veth) network"},
		{"host networking", hostNet, doctor.OK, "a Docker container with host networking"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := root(t, "docker", nil)
			for _, routed := range []bool{true, false} {
				for _, target := range []doctor.Target{{}, {Group: ip("239.1.2.3")}} {
					r := run(t, &doctor.Host{Net: tt.net(routed), FS: fs}, target, "environment")
					if r.Status != tt.status || !strings.Contains(r.Summary, tt.want) {
						t.Errorf("group route %v, target %+v: %s %q; want %s %q", routed, target, r.Status, r.Summary, tt.status, tt.want)
					}
				}
			}
		})
	}
}

// In a network namespace made inside a container (ip netns add, as mcast
// lab does), /.dockerenv is still there, but it is the machine's file: the
// namespace's links are not the container's attachment, and there is no
// Docker network to warn about.
func TestEnvironmentNamedNetnsInContainer(t *testing.T) {
	fs := root(t, "docker", map[string]string{"proc/self/ns/net": ""})
	if err := os.MkdirAll(filepath.Join(fs.Root, "run/netns"), 0o755); err != nil {
		t.Fatal(err)
	}
	// ip netns add bind-mounts the namespace on /run/netns/NAME: the same
	// file as /proc/self/ns/net seen from inside; a hard link stands for it.
	if err := os.Link(filepath.Join(fs.Root, "proc/self/ns/net"), filepath.Join(fs.Root, "run/netns/lab-n1")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fs.Root, "run/netns/other"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := run(t, &doctor.Host{Net: lanNode(), FS: fs}, doctor.Target{Group: ip("239.1.2.3")}, "environment")
	expect(t, r, doctor.OK, "network namespace lab-n1", "/run/netns/lab-n1")
	if strings.Contains(r.Summary, "bridged") || strings.Contains(r.Summary, "Docker container on") {
		t.Errorf("warns about the container's network inside a namespace of its own: %q", r.Summary)
	}
}
