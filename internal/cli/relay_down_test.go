package cli

import (
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay"
)

// TestRelayStatusInterfacesDown: the text status names the interfaces the
// relay waits for, whether one was never there (`interface NAME wait`) or
// one went, and those marked wait it does not serve while they are away.
func TestRelayStatusInterfacesDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   relay.Status
		want string
	}{
		{"waiting at start", relay.Status{Node: "h", Interface: "eth0", InterfacesDown: []string{"br-media"}},
			"\ninterface br-media is missing or down: carrying nothing until it is up\n"},
		{"gone", relay.Status{Node: "h", Interface: "eth0", InterfaceLost: 2, InterfacesDown: []string{"br-media", "br-x"}},
			"\ninterface br-media, br-x is gone: carrying nothing until it is back (lost 2 times)\n"},
		{"serving the others", relay.Status{Node: "h", Interface: "eth0", InterfaceUp: true, InterfacesDown: []string{"br-media"}},
			"\ninterface br-media is missing or down: not served until it is up\n"},
		{"gone, names unknown", relay.Status{Node: "h", Interface: "eth0", InterfaceLost: 1},
			"\ninterface eth0 is gone: carrying nothing until it is back (lost 1 times)\n"},
	} {
		var b strings.Builder
		writeRelayStatus(&b, tc.st)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("%s: status:\n%s\nwant a line %q", tc.name, b.String(), tc.want)
		}
	}
}
