package addrarg_test

import (
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/addrarg"
)

func TestParseTargets(t *testing.T) {
	tests := []struct {
		in      []string
		n       int
		first   string
		last    string
		wantErr string
	}{
		{[]string{"239.1.1.1+99:5000"}, 100, "239.1.1.1:5000", "239.1.1.100:5000", ""},
		{[]string{"239.1.1.1,239.1.1.5"}, 2, "239.1.1.1:28000", "239.1.1.5:28000", ""},
		{[]string{"239.1.1.1", "239.1.1.1"}, 1, "239.1.1.1:28000", "239.1.1.1:28000", ""},
		{[]string{"239.1.1.255+1"}, 2, "239.1.1.255:28000", "239.1.2.0:28000", ""},
		{[]string{"[ff3e::1]:5000"}, 1, "[ff3e::1]:5000", "[ff3e::1]:5000", ""},
		{[]string{"ff02::1234%eth0"}, 1, "[ff02::1234%eth0]:28000", "[ff02::1234%eth0]:28000", ""},
		{[]string{"239.255.255.255+2"}, 0, "", "", "runs out of the multicast range"},
		{[]string{"239.1.1.1+x"}, 0, "", "", "invalid group range"},
		{[]string{"239.1.1.1,ff3e::1"}, 0, "", "", "IPv4 and IPv6"},
		{[]string{"239.1.1.1:1,239.1.1.2:2"}, 0, "", "", "share one port"},
		{[]string{"10.0.0.1"}, 0, "", "", "not a multicast address"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.in, " "), func(t *testing.T) {
			got, err := addrarg.ParseTargets(tt.in, "", 28000)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.n || got[0].String() != tt.first || got[len(got)-1].String() != tt.last {
				t.Fatalf("got %d targets %v..%v", len(got), got[0], got[len(got)-1])
			}
		})
	}
}

func TestParseAddrList(t *testing.T) {
	if a, err := addrarg.ParseAddrList([]string{"10.0.0.1,10.0.0.2", "fd00::1"}); err != nil || len(a) != 3 {
		t.Fatalf("%v %v", a, err)
	}
	for _, bad := range []string{"239.1.1.1", "0.0.0.0", "x", "255.255.255.255"} {
		if _, err := addrarg.ParseAddrList([]string{bad}); err == nil {
			t.Fatalf("%s: no error", bad)
		}
	}
}
