package relay

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCheckCapabilities(t *testing.T) {
	caps, err := parseCapEff([]byte("Name:\tmcast\nCapInh:\t0000000000000000\nCapEff:\t0000000000003000\n"))
	if err != nil || caps != 0x3000 {
		t.Fatalf("parseCapEff: %#x %v", caps, err)
	}
	if err := checkCaps(caps); err != nil {
		t.Errorf("CAP_NET_RAW and CAP_NET_ADMIN: %v", err)
	}
	if err := checkCaps(1 << capNetAdmin); err == nil || !strings.Contains(err.Error(), "missing capability CAP_NET_RAW:") {
		t.Errorf("without CAP_NET_RAW: %v", err)
	}
	if err := checkCaps(0); err == nil || !strings.Contains(err.Error(), "CAP_NET_RAW and CAP_NET_ADMIN") {
		t.Errorf("without both: %v", err)
	}
	if _, err := parseCapEff([]byte("CapEff:\tzz\n")); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Errorf("bad CapEff: %v", err)
	}
}

func TestCheckKeyModeAndListen(t *testing.T) {
	if err := checkKeyMode("/etc/mcast/relay.key", 0o600); err != nil {
		t.Errorf("0600: %v", err)
	}
	if err := checkKeyMode("/etc/mcast/relay.key", 0o640); err == nil || !strings.Contains(err.Error(), "/etc/mcast/relay.key has mode -rw-r-----") {
		t.Errorf("0640: %v", err)
	}
	local := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("10.0.1.10")}
	for _, ok := range []string{"10.0.1.10:7474", "0.0.0.0:7474", "[::]:7474"} {
		if err := checkListen(netip.MustParseAddrPort(ok), local); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	if err := checkListen(netip.MustParseAddrPort("10.0.9.10:7474"), local); err == nil || !strings.Contains(err.Error(), "10.0.9.10 is not an address of this host") {
		t.Errorf("foreign address: %v", err)
	}
}
