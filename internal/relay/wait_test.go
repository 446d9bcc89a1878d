package relay

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A LAN and two Docker bridges, the bridges marked wait: which interfaces
// the relay serves, when it refuses to start, and when it opens its
// sockets again.
func TestWaitedInterfaces(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader("node a\nlisten 127.0.0.1\nprivate-key k\ninterface lan0\ninterface br-media wait\ninterface br-other wait\ngroup 239.1.1.1\n"), "r.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		up     []string
		absent []string
		waited bool     // onlyWaited: start, serving the others
		served []string // servedIfaces
	}{
		{"all up", []string{"lan0", "br-media", "br-other"}, nil, false, []string{"lan0", "br-media", "br-other"}},
		{"one bridge not created yet", []string{"lan0", "br-other"}, []string{"br-media"}, true, []string{"lan0", "br-other"}},
		{"no bridge yet", []string{"lan0"}, []string{"br-media", "br-other"}, true, []string{"lan0"}},
		{"only bridges: the LAN without wait is missing", []string{"br-media", "br-other"}, []string{"lan0"}, false, []string{"br-media", "br-other"}},
		{"nothing up", nil, []string{"lan0", "br-media", "br-other"}, false, nil},
	} {
		up := func(name string) bool { return slices.Contains(tc.up, name) }
		absent := absentIfaces(cfg, up)
		if !slices.Equal(absent, tc.absent) {
			t.Errorf("%s: absent %q, want %q", tc.name, absent, tc.absent)
		}
		if got := onlyWaited(cfg, absent); got != tc.waited {
			t.Errorf("%s: onlyWaited %v, want %v", tc.name, got, tc.waited)
		}
		served := servedIfaces(cfg, absent)
		if !slices.Equal(served, tc.served) {
			t.Errorf("%s: served %q, want %q", tc.name, served, tc.served)
		}
		if appeared(cfg, served, up) {
			t.Errorf("%s: an interface appeared though nothing changed", tc.name)
		}
	}
	served := []string{"lan0"}
	if !appeared(cfg, served, func(name string) bool { return name == "lan0" || name == "br-other" }) {
		t.Error("br-other came up: not seen")
	}
	if appeared(cfg, served, func(name string) bool { return name == "lan0" }) {
		t.Error("nothing came up: seen")
	}
}

// TestInterfaceServedMetric: mcast_relay_interface_served is 1 for the
// interfaces served, 0 for one marked wait that is missing, and 0 for all
// while the relay carries nothing.
func TestInterfaceServedMetric(t *testing.T) {
	r := relayFromConf(t, "node a\nlisten 127.0.0.1:7474\ninterface lan0\ninterface br-media wait\ngroup 239.1.1.1\n")
	absent := []string{"br-media"}
	r.stats.downIfaces.Store(&absent)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(r.Collector())
	want := `
# HELP mcast_relay_interface_served 1 for each configured interface the relay serves now, 0 for one it does not (missing or down; all 0 while it carries nothing).
# TYPE mcast_relay_interface_served gauge
mcast_relay_interface_served{interface="br-media"} 0
mcast_relay_interface_served{interface="lan0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mcast_relay_interface_served"); err != nil {
		t.Error(err)
	}
	r.stats.interfaceDown.Store(true)
	want = strings.Replace(want, `{interface="lan0"} 1`, `{interface="lan0"} 0`, 1)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "mcast_relay_interface_served"); err != nil {
		t.Error(err)
	}
}
