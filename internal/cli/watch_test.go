package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad input to mac, groups and watch: one line, the right status, and no
// socket opened.
func TestWatchMacGroupsBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pcap")
	os.WriteFile(garbage, []byte("GARBAGE GARBAGE GARBAGE GARBAGE"), 0o644)
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"mcast", "mac"}, 2, "give a multicast group or MAC address"},
		{[]string{"mcast", "mac", "10.0.0.1"}, 2, "mcast mac: 10.0.0.1 is not a multicast address"},
		{[]string{"mcast", "mac", "fe80::1"}, 2, "fe80::1 is not a multicast address"},
		{[]string{"mcast", "mac", "01:00:5e:zz:00:01"}, 2, `"01:00:5e:zz:00:01" is neither an IP address nor a MAC address`},
		{[]string{"mcast", "mac", "01:00:5e:80:00:01"}, 2, "01:00:5e:80:00:01 is not an IP multicast MAC"},
		{[]string{"mcast", "mac", "--check", "239.1.1.1", "10.1.1.1"}, 2, "10.1.1.1 is not a multicast address"},
		{[]string{"mcast", "groups", "--iface", "nosuch0"}, 2, `unknown interface "nosuch0"`},
		{[]string{"mcast", "groups", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"mcast", "watch", "--group", "10.1.1.1"}, 2, `invalid group "10.1.1.1"`},
		{[]string{"mcast", "watch", "--iface", "nosuch0"}, 2, `unknown interface "nosuch0"`},
		{[]string{"mcast", "watch", "--query-interval", "0s"}, 2, "invalid --query-interval 0s"},
		{[]string{"mcast", "watch", "--report-interval", "-1s"}, 2, "invalid --report-interval -1s: must not be negative"},
		{[]string{"mcast", "watch", "--read", "a.pcap", "--write", "b.pcap"}, 2, "--read and --write do not go together"},
		{[]string{"mcast", "watch", "239.1.1.1"}, 2, `unexpected argument "239.1.1.1"`},
		{[]string{"mcast", "watch", "--read", garbage}, 1, "mcast watch: reading " + garbage + ": reading pcap header: magic number"},
		{[]string{"mcast", "watch", "--read", filepath.Join(dir, "none.pcap")}, 1, "no such file"},
	}
	for _, tt := range tests {
		code, _, stderr := run(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.err) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with %q on one line", tt.args, code, stderr, tt.code, tt.err)
		}
	}
}

func TestWatchReadAndMac(t *testing.T) {
	// Times print in local time, so only the rest of the line is compared.
	code, out, stderr := run(t, nil, "mcast", "watch", "--read", "../watch/testdata/lab-v2-fallback-querier.pcap", "--group", "239.9.9.9")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// General queries and warnings show despite --group.
	// The rate line falls at a report boundary (5 s steps of capture time
	// from the first packet), over the 6.9 s since the group's first datagram.
	if code != 0 || len(lines) != 9 || !strings.HasSuffix(lines[0], ".153 data   239.9.9.9:5000 from 10.0.0.2:45170 (first datagram, 9 bytes)") ||
		!strings.Contains(lines[2], " query  general from 0.0.0.0 IGMPv3") ||
		!strings.HasSuffix(lines[6], ".080 rate   239.9.9.9 0.4 datagrams/s, 31 bit/s payload over 6.9s from 10.0.0.2:45170 (3)") ||
		lines[8] != "total 239.9.9.9: 3 datagrams, 27 payload bytes, 5.0 datagrams/s from 10.0.0.2:45170 (3)" {
		t.Errorf("watch --read: %d %q %q", code, out, stderr)
	}
	code, out, _ = run(t, nil, "mcast", "mac", "--json", "239.0.0.100")
	if code != 0 || !strings.Contains(out, `"mac": "01:00:5e:00:00:64"`) {
		t.Errorf("mac --json: %d %s", code, out)
	}
}
