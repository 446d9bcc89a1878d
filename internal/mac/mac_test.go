package mac_test

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/mac"
)

func TestFromGroup(t *testing.T) {
	tests := []struct{ in, want string }{
		{"239.0.0.100", "01:00:5e:00:00:64"},
		{"224.10.1.1", "01:00:5e:0a:01:01"},
		{"224.128.1.1", "01:00:5e:00:01:01"},
		{"225.0.1.1", "01:00:5e:00:01:01"},
		{"239.255.255.255", "01:00:5e:7f:ff:ff"},
		{"ff02::1", "33:33:00:00:00:01"},
		{"ff02::1:ff00:2", "33:33:ff:00:00:02"},
		{"ff3e::8000:1", "33:33:80:00:00:01"},
		{"::ffff:239.0.0.100", "01:00:5e:00:00:64"},
		{"10.0.0.1", "ERR"},
		{"fe80::1", "ERR"},
	}
	for _, tt := range tests {
		m, err := mac.FromGroup(netip.MustParseAddr(tt.in))
		got := m.String()
		if err != nil {
			got = "ERR"
			if !strings.Contains(err.Error(), tt.in[strings.LastIndex(tt.in, ":")+1:]) {
				t.Errorf("%s: error %q does not name the address", tt.in, err)
			}
		}
		if got != tt.want {
			t.Errorf("FromGroup(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestIPv4Groups(t *testing.T) {
	m, _ := net.ParseMAC("01:00:5e:00:01:01")
	gs, err := mac.IPv4Groups(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 32 || gs[0].String() != "224.0.1.1" || gs[1].String() != "224.128.1.1" || gs[31].String() != "239.128.1.1" {
		t.Errorf("groups %v", gs)
	}
	for _, g := range gs {
		if back, _ := mac.FromGroup(g); back.String() != m.String() {
			t.Errorf("%s maps to %s, not %s", g, back, m)
		}
	}
	for _, bad := range []string{"01:00:5e:80:00:01", "00:11:22:33:44:55", "33:33:00:00:00:01"} {
		m, _ := net.ParseMAC(bad)
		if _, err := mac.IPv4Groups(m); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("IPv4Groups(%s): %v, want an error naming it", bad, err)
		}
	}
	m6, _ := net.ParseMAC("33:33:ff:00:00:02")
	if s := mac.IPv6Suffix(m6); s != "ff00:2" {
		t.Errorf("suffix %s", s)
	}
}

func TestCollisions(t *testing.T) {
	var gs []netip.Addr
	for _, s := range []string{"224.128.1.1", "225.0.1.1", "239.0.0.100", "224.128.1.1", "10.0.0.1", "ff02::1", "ff0e::1", "ff01::1"} {
		gs = append(gs, netip.MustParseAddr(s))
	}
	got := fmt.Sprint(mac.Collisions(gs))
	want := "[{01:00:5e:00:01:01 [224.128.1.1 225.0.1.1]} {33:33:00:00:00:01 [ff02::1 ff0e::1]}]"
	if got != want {
		t.Errorf("Collisions = %s, want %s", got, want)
	}
}

func ExampleExplain() {
	s, _ := mac.Explain(netip.MustParseAddr("224.10.1.1"))
	fmt.Print(s)
	// Output:
	// IPv4 group 224.10.1.1 -> MAC 01:00:5e:0a:01:01: the low 23 bits are copied after 01:00:5e and a 0 bit
	//
	//                         224        10          1          1
	//                       | 11100000 | 0 0001010 | 00000001 | 00000001 |  group
	//                         ^^^^^^^^   ^ dropped: 32 groups share a MAC
	//                                      |   low 23 bits copied      |
	//                                      v                           v
	// | 00000001 | 00000000 | 01011110 | 0 0001010 | 00000001 | 00000001 |  MAC
	//   01         00         5e         0a          01         01
	//                                    ^ always 0
	//
	// 01:00:5e:0a:01:01 also stands for: 224.138.1.1 225.10.1.1 225.138.1.1 226.10.1.1 226.138.1.1 227.10.1.1 227.138.1.1 228.10.1.1 228.138.1.1 229.10.1.1 229.138.1.1 230.10.1.1 230.138.1.1 231.10.1.1 231.138.1.1 232.10.1.1 232.138.1.1 233.10.1.1 233.138.1.1 234.10.1.1 234.138.1.1 235.10.1.1 235.138.1.1 236.10.1.1 236.138.1.1 237.10.1.1 237.138.1.1 238.10.1.1 238.138.1.1 239.10.1.1 239.138.1.1
}
