package origin_test

import (
	"net/netip"
	"testing"

	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/origin"
)

var (
	enX0 = iface.Interface{Name: "enX0", Index: 2, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.12/24")}}
	enX1 = iface.Interface{Name: "enX1", Index: 3, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.13/24")}}
	host = []iface.Interface{enX0, enX1}
)

func TestClassify(t *testing.T) {
	own, peer := netip.MustParseAddr("10.0.0.12"), netip.MustParseAddr("10.0.0.20")
	tests := []struct {
		name       string
		src        netip.Addr
		arrived    iface.Interface
		acceptsOwn bool
		want       origin.Path
	}{
		{"other host", peer, enX1, false, origin.Wire},
		{"own address on the sending NIC", own, enX0, true, origin.Loopback},
		{"own address on another NIC, accept_local=1", own, enX1, true, origin.WireSelf},
		{"own address on another NIC that drops such copies", own, enX1, false, origin.Loopback},
	}
	for _, tt := range tests {
		if got := origin.Classify(tt.src, tt.arrived, host, tt.acceptsOwn); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestPathString(t *testing.T) {
	for p, want := range map[origin.Path]string{origin.Wire: "wire", origin.WireSelf: "wire, from this host",
		origin.Loopback: "loopback copy", origin.Path(9): "unknown"} {
		if got := p.String(); got != want {
			t.Errorf("Path(%d).String() = %q, want %q", int(p), got, want)
		}
	}
}
