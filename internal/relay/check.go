package relay

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"net/netip"
	"strconv"
	"strings"
)

// Capabilities the relay needs: raw and packet sockets (capture,
// source-preserving re-emission) and SO_MARK and group joins.
const (
	capNetAdmin = 12
	capNetRaw   = 13
)

// parseCapEff reads the effective capability set from the text of
// /proc/self/status.
func parseCapEff(status []byte) (uint64, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("reading CapEff %q: %w", strings.TrimSpace(v), err)
			}
			return caps, nil
		}
	}
	return 0, fmt.Errorf("reading the process status: no CapEff line")
}

// checkCaps names the capabilities the relay needs that the effective set
// caps lacks, in one line, or returns nil.
func checkCaps(caps uint64) error {
	var missing []string
	for _, c := range []struct {
		bit  uint
		name string
	}{{capNetRaw, "CAP_NET_RAW"}, {capNetAdmin, "CAP_NET_ADMIN"}} {
		if caps&(1<<c.bit) == 0 {
			missing = append(missing, c.name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("missing capability %s: run as root or grant it (systemd: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN)",
		strings.Join(missing, " and "))
}

// checkKeyMode fails when the key file at path, of mode, can be read or
// written by others than its owner.
func checkKeyMode(path string, mode fs.FileMode) error {
	if mode.Perm()&0o077 != 0 {
		return fmt.Errorf("key file %s has mode %s: others may read it; chmod 600 it", path, mode.Perm())
	}
	return nil
}

// checkListen fails when the listen address is neither unspecified nor
// one of the host's addresses local.
func checkListen(listen netip.AddrPort, local []netip.Addr) error {
	a := listen.Addr().Unmap()
	if a.IsUnspecified() {
		return nil
	}
	for _, l := range local {
		if l.Unmap().WithZone("") == a.WithZone("") {
			return nil
		}
	}
	return fmt.Errorf("listen %s: %s is not an address of this host", listen, a)
}
