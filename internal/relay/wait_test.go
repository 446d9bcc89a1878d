package relay

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay/config"
)

func TestWaitingFor(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader("node a\nlisten 127.0.0.1\nprivate-key k\ninterface lan0\ninterface br-media wait\ninterface br-other wait\ngroup 239.1.1.1\n"), "r.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		up   []string
		want []string
	}{
		{"all up: the failure is another one", []string{"lan0", "br-media", "br-other"}, nil},
		{"one waited bridge missing", []string{"lan0", "br-other"}, []string{"br-media"}},
		{"both waited bridges missing", []string{"lan0"}, []string{"br-media", "br-other"}},
		{"an interface without wait missing refuses", []string{"br-media"}, nil},
		{"nothing up refuses", nil, nil},
	} {
		got := waitingFor(cfg, func(name string) bool { return slices.Contains(tc.up, name) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestAbsentIfaces(t *testing.T) {
	cfg, err := config.Parse(strings.NewReader("node a\nlisten 127.0.0.1\nprivate-key k\ninterface lan0\ninterface br-media wait\ngroup 239.1.1.1\n"), "r.conf")
	if err != nil {
		t.Fatal(err)
	}
	up := func(names ...string) func(string) bool {
		return func(n string) bool { return slices.Contains(names, n) }
	}
	if got := absentIfaces(cfg, up("lan0", "br-media")); got != nil {
		t.Errorf("all up: %q", got)
	}
	if got := absentIfaces(cfg, up()); !slices.Equal(got, []string{"lan0", "br-media"}) {
		t.Errorf("none up: %q", got)
	}
}
