package tunnel_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/tunnel"
)

// report makes a report of node on cfg with every device present and as
// configured, then lets edit change what was observed.
func report(t *testing.T, cfg, node string, edit func(r *tunnel.Report)) *tunnel.Report {
	t.Helper()
	i := int(node[len(node)-1] - '0')
	s, err := tunnel.Desire(load(t, cfg), node, vm(i, 1500))
	if err != nil {
		t.Fatal(err)
	}
	r := tunnel.NewReport(s)
	for i := range r.Devices {
		d := &r.Devices[i]
		d.Present, d.Owned, d.Up, d.MTU = true, true, true, d.WantMTU
	}
	for i := range r.Addrs {
		r.Addrs[i].Present = true
	}
	for i := range r.Routes {
		r.Routes[i].Present = true
	}
	for i := range r.Sysctls {
		r.Sysctls[i].Have = r.Sysctls[i].Want
	}
	for i := range r.Peers {
		r.Peers[i].OverlayAnswers, r.Peers[i].UnderlayAnswers = true, true
	}
	edit(r)
	r.Assess()
	return r
}

func TestAssess(t *testing.T) {
	tests := []struct {
		name      string
		cfg, node string
		edit      func(r *tunnel.Report)
		want      []string // substrings of the problems, in order; none: OK
	}{
		{"all well", "vxlan-mesh.yaml", "vm1", func(*tunnel.Report) {}, nil},
		{"mesh peer down", "vxlan-mesh.yaml", "vm1", func(r *tunnel.Report) {
			r.Peers[1].OverlayAnswers, r.Peers[1].UnderlayAnswers = false, false
		}, []string{"peer vm3 does not answer, neither through the overlay (172.16.254.3) nor on the underlay (10.0.3.10)"}},
		{"hub down", "vxlan-hub.yaml", "vm2", func(r *tunnel.Report) {
			for i := range r.Peers {
				r.Peers[i].OverlayAnswers = false
			}
			r.Peers[0].UnderlayAnswers = false
		}, []string{"hub vm1 is down: it answers neither", "peer vm3 is cut off with the hub"}},
		{"hub tunnel down", "vxlan-hub.yaml", "vm3", func(r *tunnel.Report) {
			for i := range r.Peers {
				r.Peers[i].OverlayAnswers = false
			}
		}, []string{"hub vm1 is down for the overlay: it answers on the underlay (10.0.1.10) but not through the overlay (172.16.254.1), so its tunnel is down or UDP port 4789 is blocked", "peer vm2 is cut off with the hub"}},
		{"gre blocked at the hub", "gretap-hub.yaml", "vm1", func(r *tunnel.Report) {
			for i := range r.Peers {
				r.Peers[i].OverlayAnswers = false
			}
		}, []string{"peer vm2 answers on the underlay (10.0.2.10) but not through the overlay (172.16.254.2): its tunnel is down, or GRE (IP protocol 47) is blocked",
			"peer vm3 answers on the underlay",
			"GRE (IP protocol 47) looks blocked: every peer answers on the underlay, none through the overlay"}},
		{"gre unavailable", "gretap-hub.yaml", "vm2", func(r *tunnel.Report) {
			r.Feature = &tunnel.FeatureStatus{Name: "GRETAP", Error: "kernel feature GRETAP is missing (module ip_gre): operation not supported"}
			r.Devices[0].Present = false
			r.Addrs[0].Present, r.Routes[0].Present = false, false
		}, []string{"GRE is unavailable on this host: kernel feature GRETAP is missing", "device mcast0 is missing (run: mcast tunnel up)"}},
		{"wrong kind", "gretap-hub.yaml", "vm2", func(r *tunnel.Report) { r.Devices[0].Kind = "vxlan" },
			[]string{"device mcast0 is a vxlan device, the config makes a gretap"}},
		{"sysctl and route", "vxlan-mesh.yaml", "vm2", func(r *tunnel.Report) {
			r.Sysctls[0].Have = "1"
			r.Routes[0].Present = false
		}, []string{"route 224.0.0.0/4 dev mcast0 is missing", "sysctl net.ipv4.icmp_echo_ignore_broadcasts is 1, want 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := report(t, tt.cfg, tt.node, tt.edit)
			if r.OK != (len(tt.want) == 0) {
				t.Errorf("OK = %v with problems %q", r.OK, r.Problems)
			}
			if len(r.Problems) != len(tt.want) {
				t.Fatalf("problems %q\nwant %d", r.Problems, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.Contains(r.Problems[i], w) {
					t.Errorf("problem %d: %q\nwant it to contain %q", i, r.Problems[i], w)
				}
			}
			var b bytes.Buffer
			r.Write(&b)
			if !strings.Contains(b.String(), "PEER") {
				t.Errorf("text report without the peer table:\n%s", b.String())
			}
		})
	}
}
