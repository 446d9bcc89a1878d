package doctor

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcasttools/mcast/internal/hostfs"
)

var netipZero netip.Addr

// joinAnd joins "a", "a and b", "a, b and c".
func joinAnd(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// readFile reads a file below the FS root, trimmed of blanks.
func readFile(fs hostfs.FS, rel string) (string, error) {
	b, err := os.ReadFile(filepath.Join(fs.Root, rel))
	return strings.TrimSpace(string(b)), err
}

// exists reports whether a file exists below the FS root.
func exists(fs hostfs.FS, rel string) bool {
	_, err := os.Stat(filepath.Join(fs.Root, rel))
	return err == nil
}

// worst returns the worse of two statuses (Skip counts as better than Warn).
func worst(a, b Status) Status {
	rank := map[Status]int{OK: 0, Skip: 1, Warn: 2, Fail: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// isLinkLocalGroup reports whether g is never routed (224.0.0.0/24, ff02::/16).
func isLinkLocalGroup(g netip.Addr) bool {
	if g.Is4() {
		return netip.MustParsePrefix("224.0.0.0/24").Contains(g)
	}
	return g.IsLinkLocalMulticast() || g.IsInterfaceLocalMulticast()
}
