package relay

import (
	"net"
	"net/netip"
	"os/exec"
	"testing"

	"github.com/mcasttools/mcast/internal/labtest"
)

// TestUnderlayMTU: the interface holding the listen address gives the
// underlay's MTU; a wildcard or foreign address gives none.
func TestUnderlayMTU(t *testing.T) {
	if labtest.Isolated() { // lo has its address once up
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			t.Fatalf("ip link set lo up: %v: %s", err, out)
		}
	}
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatalf("no loopback interface: %v", err)
	}
	if name, mtu := underlayMTU(netip.MustParseAddr("127.0.0.1")); name != "lo" || mtu != lo.MTU {
		t.Errorf("127.0.0.1: %q MTU %d, want lo MTU %d", name, mtu, lo.MTU)
	}
	for _, a := range []string{"0.0.0.0", "::", "192.0.2.77"} {
		if name, mtu := underlayMTU(netip.MustParseAddr(a)); mtu != 0 {
			t.Errorf("%s: %q MTU %d, want none", a, name, mtu)
		}
	}
}
