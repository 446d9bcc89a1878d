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

// Run alone, mcast ping waits for answers that cannot come: after a few
// seconds it says once why, and at the end the report names the peers that
// never answered.
func TestPingAloneSaysWhy(t *testing.T) {
	local, peer := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	e := ping.New(ping.Config{Local: local, Peers: []ping.Peer{{Name: "n2", Addr: peer}}, Group: netip.MustParseAddr("232.43.211.234"),
		Port: 4321, Mode: ping.ModeSSM, Count: 3, Interval: time.Second, TTL: 64})
	now := time.Unix(1700000000, 0)
	e.Start(now)
	var hints []string
	for i := 0; i < 60; i++ {
		_, ev := e.Tick(now)
		for _, x := range ev {
			if strings.Contains(x.Text, "at the same time") {
				hints = append(hints, x.Text)
			}
		}
		now = now.Add(200 * time.Millisecond)
	}
	if len(hints) != 1 || !strings.Contains(hints[0], "mcast ping (or omping)") {
		t.Errorf("hints %q, want one saying every listed host must run mcast ping or omping at the same time", hints)
	}
	r := e.Report(now)
	if got := r.Unanswered(); len(got) != 1 || got[0] != "n2" {
		t.Errorf("unanswered %q, want [n2]", got)
	}
}
