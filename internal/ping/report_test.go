package ping_test

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/ping"
)

// An ssmping run measures one direction only: the client hears the server.
// The matrix has the client's row and no row for the server, which never
// reports what it hears.
func TestSSMPingMatrixHasNoServerRow(t *testing.T) {
	c := ping.NewSSMClient(ping.SSMClientConfig{Local: netip.MustParseAddr("10.0.0.1"),
		Server: ping.Peer{Name: "10.0.0.3", Addr: netip.MustParseAddr("10.0.0.3")}, Port: 4321,
		Mode: ping.ModeSSM, Count: 2, Interval: time.Second, PID: 7})
	now := time.Unix(1700000000, 0)
	c.Start(now)
	for i := 0; i < 3; i++ {
		c.Tick(now)
		now = now.Add(time.Second)
	}
	r := c.Report(now)
	var b bytes.Buffer
	r.WriteMatrix(&b)
	var rows []string
	for _, line := range strings.Split(b.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], "10.0.0.") {
			rows = append(rows, line)
		}
	}
	if len(rows) != 1 || !strings.HasPrefix(rows[0], "10.0.0.1 ") || !strings.Contains(rows[0], "100%/100%*") {
		t.Errorf("want one row, the client's, with its loss; got %q in\n%s", rows, b.String())
	}
}
