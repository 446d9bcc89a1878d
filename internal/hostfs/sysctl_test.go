package hostfs_test

import (
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/hostfs"
)

func TestReadPathFilter(t *testing.T) {
	fs := hostfs.FS{Root: "testdata/multihomed"}
	tests := []struct {
		nic     string
		ok      bool
		why     string
		fixPart string
	}{
		{"enX0", false, "net.ipv4.conf.enX0.accept_local=0", "sysctl -w net.ipv4.conf.enX0.accept_local=1"},
		{"enX1", false, "strict rp_filter", "rp_filter=2"},
	}
	for _, tt := range tests {
		pf, err := fs.ReadPathFilter(tt.nic)
		if err != nil {
			t.Fatal(err)
		}
		ok, why, fix := pf.AcceptsOwnSource(tt.nic)
		if ok != tt.ok || !strings.Contains(why, tt.why) || !strings.Contains(fix, tt.fixPart) {
			t.Errorf("%s: %v %q %q", tt.nic, ok, why, fix)
		}
	}
	if _, err := fs.ReadPathFilter("nosuch"); err == nil || !strings.Contains(err.Error(), "net.ipv4.conf.nosuch.accept_local") {
		t.Errorf("missing sysctl: %v", err)
	}
	if ok, _, _ := (hostfs.PathFilter{AcceptLocal: true, RPFilter: 2}).AcceptsOwnSource("x"); !ok {
		t.Error("accept_local=1 with loose rp_filter should accept")
	}
}
