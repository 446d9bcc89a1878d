package integration_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/buildinfo"
)

// makeIn runs make with args in the repository root and fails the test
// unless it succeeds.
func makeIn(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("make", append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = repoFile()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// checkVersion runs `mcast version` and `mcast version --json` from bin.
func checkVersion(t *testing.T, bin string) {
	t.Helper()
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "mcast ") || !strings.Contains(string(out), "commit ") || !strings.Contains(string(out), "go1.") {
		t.Errorf("%s version: %v %q, want mcast VERSION (commit HASH, goVERSION)", bin, err, out)
	}
	out, err = exec.Command(bin, "version", "--json").Output()
	var bi buildinfo.Info
	if err != nil || json.Unmarshal(out, &bi) != nil || bi.Version == "" || bi.Version == "dev" || bi.Commit == "" || !strings.HasPrefix(bi.GoVersion, "go") {
		t.Errorf("%s version --json: %v %q", bin, err, out)
	}
}

// TestPackageDeb: make package builds a .deb and an .rpm; lintian finds
// no error in the .deb; unpacked into a throwaway root it holds the
// binary, which runs and tells its version, the units, the docs and the
// example configs, and sender and receiver only under /usr/lib/mcast.
func TestPackageDeb(t *testing.T) {
	needTool(t, "make", "make")
	lintian := needTool(t, "lintian", "lintian")
	needTool(t, "dpkg-deb", "dpkg")
	out := t.TempDir()
	makeIn(t, "package", "PKGOUT="+out)
	debs, _ := filepath.Glob(filepath.Join(out, "mcast_*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(out, "mcast-*.rpm"))
	if len(debs) != 1 || len(rpms) != 1 {
		t.Fatalf("make package made %d .deb and %d .rpm in %s, want one of each", len(debs), len(rpms), out)
	}
	lint, err := exec.Command(lintian, "--allow-root", debs[0]).CombinedOutput()
	t.Logf("lintian %s:\n%s", filepath.Base(debs[0]), lint)
	for _, line := range strings.Split(string(lint), "\n") {
		if strings.HasPrefix(line, "E: ") {
			t.Errorf("lintian error: %s", line)
		}
	}
	if err != nil && !t.Failed() {
		t.Errorf("lintian: %v", err)
	}

	root := t.TempDir()
	if b, err := exec.Command("dpkg-deb", "-x", debs[0], root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, b)
	}
	for _, f := range []string{
		"usr/bin/mcast", "lib/systemd/system/mcast-relay.service", "lib/systemd/system/mcast-tunnel@.service",
		"usr/lib/sysusers.d/mcast.conf", "usr/share/doc/mcast/copyright", "usr/share/doc/mcast/docs/relay.md",
		"usr/share/doc/mcast/examples/relay/relay.conf", "usr/share/doc/mcast/examples/tunnel/vxlan-mesh.yaml",
		"usr/share/mcast/grafana/mcast-relay.json", "usr/share/mcast/prometheus/mcast-relay.rules.yml",
		"usr/share/man/man1/mcast.1.gz", "usr/share/man/man1/mcast-tunnel-status.1.gz",
		"usr/share/bash-completion/completions/mcast", "usr/share/zsh/vendor-completions/_mcast",
		"usr/share/fish/vendor_completions.d/mcast.fish",
	} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("the .deb has no %s", f)
		}
	}
	for _, name := range []string{"sender", "receiver"} {
		if _, err := os.Lstat(filepath.Join(root, "usr/bin", name)); err == nil {
			t.Errorf("the .deb puts %s into /usr/bin", name)
		}
		if target, err := filepath.EvalSymlinks(filepath.Join(root, "usr/lib/mcast", name)); err != nil || target != filepath.Join(root, "usr/bin/mcast") {
			t.Errorf("/usr/lib/mcast/%s: %q %v, want a link to /usr/bin/mcast", name, target, err)
		}
	}
	checkVersion(t, filepath.Join(root, "usr/bin/mcast"))
	if b, err := exec.Command(filepath.Join(root, "usr/lib/mcast/sender"), "--help").CombinedOutput(); err != nil || !strings.Contains(string(b), "usage: mcast send") {
		t.Errorf("/usr/lib/mcast/sender --help: %v %q", err, b)
	}
}

// TestMakeInstall: make install puts mcast on PATH, sender and receiver
// under lib/mcast, and the units (running the installed binary), the
// docs, the examples, the man pages and the completions in place.
func TestMakeInstall(t *testing.T) {
	needTool(t, "make", "make")
	dest := t.TempDir()
	makeIn(t, "install", "DESTDIR="+dest, "PREFIX=/opt/mcast")
	for _, f := range []string{"bin/mcast", "lib/mcast/sender", "lib/mcast/receiver", "lib/systemd/system/mcast-relay.service",
		"lib/systemd/system/mcast-tunnel@.service", "lib/sysusers.d/mcast.conf", "share/doc/mcast/docs/relay.md",
		"share/doc/mcast/examples/relay/relay.conf", "share/mcast/grafana/mcast-relay.json",
		"share/man/man1/mcast.1", "share/man/man1/mcast-send.1", "share/bash-completion/completions/mcast",
		"share/zsh/site-functions/_mcast", "share/fish/vendor_completions.d/mcast.fish"} {
		if _, err := os.Lstat(filepath.Join(dest, "opt/mcast", f)); err != nil {
			t.Errorf("make install: no %s", f)
		}
	}
	for _, name := range []string{"sender", "receiver"} {
		if _, err := os.Lstat(filepath.Join(dest, "opt/mcast/bin", name)); err == nil {
			t.Errorf("make install puts %s into bin", name)
		}
	}
	unit, err := os.ReadFile(filepath.Join(dest, "opt/mcast/lib/systemd/system/mcast-relay.service"))
	if err != nil || !strings.Contains(string(unit), "ExecStart=/opt/mcast/bin/mcast relay") || strings.Contains(string(unit), "/usr/bin/mcast") {
		t.Errorf("installed relay unit does not run /opt/mcast/bin/mcast: %v\n%s", err, unit)
	}
	checkVersion(t, filepath.Join(dest, "opt/mcast/bin/mcast"))
}
