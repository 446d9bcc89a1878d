package cli

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/buildinfo"
)

// TestVersionJSON: mcast version says version, commit and Go version, in
// text and in JSON, and takes no argument.
func TestVersionJSON(t *testing.T) {
	code, out, _ := run(t, nil, "mcast", "version")
	if code != 0 || !strings.Contains(out, "(commit ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("version: %d %q", code, out)
	}
	code, out, _ = run(t, nil, "mcast", "version", "--json")
	var bi buildinfo.Info
	if err := json.Unmarshal([]byte(out), &bi); code != 0 || err != nil || bi.Version == "" || bi.Commit == "" || bi.GoVersion != runtime.Version() {
		t.Errorf("version --json: %d %q %v", code, out, err)
	}
	if code, _, errb := run(t, nil, "mcast", "version", "extra"); code != 2 || !strings.Contains(errb, `unexpected argument "extra"`) {
		t.Errorf("version extra: %d %q", code, errb)
	}
}
