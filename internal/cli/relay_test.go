package cli

import (
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/relay"
)

// TestRelayStatusAdminRefused: the text status names admin connections the
// relay refused, and says nothing of them when there were none.
func TestRelayStatusAdminRefused(t *testing.T) {
	st := relay.Status{Node: "vm1", InterfaceUp: true, AdminRefused: map[string]uint64{relay.AdminTooLong: 2, relay.AdminBusy: 0, relay.AdminCredentials: 1}}
	var b strings.Builder
	writeRelayStatus(&b, st)
	if !strings.HasSuffix(b.String(), "\nadmin socket refused: credentials=1 too-long=2\n") {
		t.Errorf("status with refusals:\n%s", b.String())
	}
	b.Reset()
	st.AdminRefused = map[string]uint64{relay.AdminTooLong: 0}
	writeRelayStatus(&b, st)
	if strings.Contains(b.String(), "admin") {
		t.Errorf("status without refusals mentions them:\n%s", b.String())
	}
}
