package iface_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/iface"
)

var host = []iface.Interface{
	{Name: "lo", Index: 1, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
	{Name: "enX0", Index: 2, Up: true, Multicast: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.12/24")}},
	{Name: "enX1", Index: 3, Up: true, Multicast: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.13/24")}},
	{Name: "v6only", Index: 4, Up: true, Multicast: true, Addrs: []netip.Prefix{netip.MustParsePrefix("fd00::1/64")}},
	{Name: "down0", Index: 5, Multicast: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.9.0.1/24")}},
}

func TestResolve(t *testing.T) {
	tests := []struct {
		text    string
		want    string
		err     string
		unknown bool
	}{
		{text: "enX1", want: "enX1"},
		{text: "10.0.0.12", want: "enX0"},
		{text: "enX9", err: `unknown interface "enX9"`, unknown: true},
		{text: "10.0.0.99", err: `unknown interface "10.0.0.99": no interface has that address`, unknown: true},
		{text: "down0", err: `interface "down0" is down`},
		{text: "v6only", err: `interface "v6only" has no IPv4 address`},
	}
	for _, tt := range tests {
		got, err := iface.Resolve(host, tt.text, iface.NeedIPv4)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Resolve(%q): error %v, want %q", tt.text, err, tt.err)
			}
			if errors.Is(err, iface.ErrUnknown) != tt.unknown {
				t.Errorf("Resolve(%q): errors.Is(ErrUnknown) = %v", tt.text, !tt.unknown)
			}
			continue
		}
		if err != nil || got.Name != tt.want {
			t.Errorf("Resolve(%q) = %s, %v; want %s", tt.text, got.Name, err, tt.want)
		}
	}
}

func TestOwner(t *testing.T) {
	if i, ok := iface.Owner(host, netip.MustParseAddr("10.0.0.13")); !ok || i.Name != "enX1" {
		t.Errorf("Owner(10.0.0.13) = %s, %v", i.Name, ok)
	}
	if _, ok := iface.Owner(host, netip.MustParseAddr("10.0.0.20")); ok {
		t.Error("Owner(10.0.0.20) found an interface")
	}
}

func TestByIndex(t *testing.T) {
	if got, ok := iface.ByIndex(host, 3); !ok || got.Name != "enX1" {
		t.Errorf("ByIndex(3) = %q, %v; want enX1, true", got.Name, ok)
	}
	if got, ok := iface.ByIndex(host, 42); ok || got.Name != "if42" || got.Index != 42 {
		t.Errorf("ByIndex(42) = %+v, %v; want the stand-in if42, false", got, ok)
	}
}

// A group configured as an interface address (the autojoin trap) is found,
// with the prefix it was added with, and the error names it and the fix.
func TestLocalGroup(t *testing.T) {
	all := append(append([]iface.Interface(nil), host...), iface.Interface{Name: "eth0", Index: 6, Up: true, Multicast: true,
		Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.1.1/24"), netip.MustParsePrefix("239.0.0.1/32")}})
	err := iface.LocalGroup(all, netip.MustParseAddr("239.0.0.1"))
	for _, want := range []string{"239.0.0.1 is an address of this host (on eth0", "to lo", "Fix: ip addr del 239.0.0.1/32 dev eth0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if err := iface.LocalGroup(all, netip.MustParseAddr("239.0.0.2")); err != nil {
		t.Errorf("a group no interface holds: %v", err)
	}
}
