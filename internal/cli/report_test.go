package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mcast report draws saved JSON; it needs no root and opens no socket.
func TestReportCommand(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "run.json")
	recs := `{"type":"recv.start","time":"2026-12-06T12:00:00Z","interfaces":["eth0"]}
{"type":"recv.summary","time":"2026-12-06T12:00:03Z","elapsed_seconds":3,"flows":[{"iface":"eth0","group":"239.1.1.1","source":"10.0.0.1","source_port":4000,"sender_id":"0000abcd","received":42,"expected":42,"latency_ms":{"p50":0.1,"p99":0.2},"latency_histogram":[{"lo_ms":0.1,"hi_ms":0.11,"count":42}]}],"foreign":[],"totals":{"received":42,"expected":42}}
`
	if err := os.WriteFile(in, []byte(recs), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, nil, "mcast", "report", in)
	if code != 0 || !strings.Contains(out, "wrote "+filepath.Join(dir, "run.html")) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	page, err := os.ReadFile(filepath.Join(dir, "run.html"))
	if err != nil || !strings.Contains(string(page), `data-k="totals.received">42<`) || !strings.Contains(string(page), "mcast report of run.json") {
		t.Fatalf("page: %v\n%.400s", err, page)
	}
	for _, c := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"mcast", "report"}, 2, "name at least one FILE.json"},
		{[]string{"mcast", "report", filepath.Join(dir, "nope.json")}, 1, "nope.json: no such file"},
	} {
		if code, _, errOut := run(t, nil, c.args...); code != c.code || !strings.Contains(errOut, c.err) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.err)
		}
	}
}
