package integration_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/labtest"
)

// completeBash drives the bash completion script's function as bash does
// on TAB after words, and returns the candidates.
func completeBash(t *testing.T, bin string, words ...string) []string {
	t.Helper()
	// An interactive shell has bash-completion's helpers loaded.
	const helpers = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(helpers); err != nil {
		t.Skipf("no %s (scripts/install-deps.sh installs bash-completion)", helpers)
	}
	script := `source ` + helpers + `
source <("$MCAST" completion bash) || exit 9
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
__start_mcast
printf '%s\n' "${COMPREPLY[@]}"`
	// The script runs the first word (mcast) to ask for candidates.
	dir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(dir, "mcast")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{"-c", script, "bash"}, words...)...)
	cmd.Env = append(os.Environ(), "MCAST="+bin, "PATH="+dir+":"+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash completion of %q: %v", words, err)
	}
	return strings.Fields(string(out))
}

// The completion scripts load in bash and zsh without a word on standard
// error, and bash's completes commands, subcommands and interface names.
func TestCLICompletionScripts(t *testing.T) {
	bin := labtest.Binary(t)
	for _, sh := range [][]string{
		{"bash", "-c", `source <("$MCAST" completion bash) && complete -p mcast`},
		{"zsh", "-c", `autoload -U compinit && compinit -u && source <("$MCAST" completion zsh) && whence -w _mcast`},
	} {
		if _, err := exec.LookPath(sh[0]); err != nil {
			t.Skipf("%s is not installed (scripts/install-deps.sh installs it)", sh[0])
		}
		cmd := exec.Command(sh[0], sh[1:]...)
		cmd.Env = append(os.Environ(), "MCAST="+bin, "HOME="+t.TempDir())
		var errb strings.Builder
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil || errb.Len() > 0 || !strings.Contains(string(out), "mcast") {
			t.Errorf("%s loading the completion script: %v, stdout %q, stderr %q", sh[0], err, out, errb.String())
		}
	}
	for _, tt := range []struct {
		words []string
		want  string
	}{
		{[]string{"mcast", "tun"}, "tunnel"},
		{[]string{"mcast", "tunnel", "st"}, "status"},
		{[]string{"mcast", "send", "--ttl"}, "--ttl"},
		{[]string{"mcast", "send", "-I", "l"}, "lo"},
		{[]string{"mcast", "recv", "--iface", "l"}, "lo"},
	} {
		if got := completeBash(t, bin, tt.words...); !strings.Contains(" "+strings.Join(got, " ")+" ", " "+tt.want+" ") {
			t.Errorf("completing %q: %q, want %q among them", tt.words, got, tt.want)
		}
	}
}

// make man's generator writes a page per command; man renders each, and
// the page names its command.
func TestCLIManPages(t *testing.T) {
	if _, err := exec.LookPath("man"); err != nil {
		t.Skip("man is not installed (scripts/install-deps.sh installs man-db)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("go", "run", "github.com/mcasttools/mcast/internal/cli/gendoc", dir).CombinedOutput(); err != nil {
		t.Fatalf("generating the man pages: %v\n%s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	if len(pages) < 20 {
		t.Fatalf("%d man pages: %v", len(pages), pages)
	}
	for _, p := range pages {
		name := strings.TrimSuffix(filepath.Base(p), ".1")
		cmd := exec.Command("man", "-l", p)
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=100", "LC_ALL=C.UTF-8")
		var errb strings.Builder
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil || errb.Len() > 0 || !strings.Contains(string(out), name) || !strings.Contains(string(out), "SYNOPSIS") {
			t.Errorf("man -l %s: %v, stderr %q, output:\n%s", p, err, errb.String(), out)
		}
	}
}
