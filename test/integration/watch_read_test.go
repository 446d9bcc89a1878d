package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// Captures written by tshark (pcapng, its default) and by tcpdump with a
// 60-byte snap length, on n1 while n2 sends a stream, read back with
// watch --read: every datagram tcpdump -r lists in each file is counted, with its
// length on the wire, and none is dropped as truncated.
func TestWatchReadsToolCaptures(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "2")
	dir := t.TempDir()
	ng, short := filepath.Join(dir, "tshark.pcapng"), filepath.Join(dir, "tcpdump-s60.pcap")
	ts := l.Start("n1", "sh", "-c", "exec tshark -i eth0 -F pcapng -w "+ng+" udp 2>&1")
	td := l.Start("n1", "sh", "-c", "exec tcpdump -U -i eth0 -Z root -s 60 -w "+short+" udp 2>&1")
	ts.WaitFor("Capturing on", 20*time.Second)
	td.WaitFor("listening on", 20*time.Second)
	l.MustRun("n2", l.Bin, "send", "--iface", "eth0", "--count", "20", "--rate", "200", "--size", "200", "239.1.2.3:5001")
	// tcpdump -U writes each packet as it comes: stop when its file stops
	// growing. (On a loaded machine a datagram may be lost on the way; the
	// files are compared with what tcpdump -r lists in them.)
	deadline := time.Now().Add(10 * time.Second)
	for n, last := 0, -1; n == 0 || n != last; n, last = udpCount(t, short), n {
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump's capture holds %d datagrams", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ts.Stop()
	td.Stop()
	for _, tt := range []struct{ file, where string }{{ng, " on eth0"}, {short, ""}} {
		n, bytes := udpIn(t, tt.file)
		if n == 0 {
			t.Fatalf("tcpdump -r lists %d datagrams in %s", n, tt.file)
		}
		res := l.Mcast("n1", "watch", "--read", tt.file)
		if res.Code != 0 {
			t.Fatalf("watch --read %s: %s", tt.file, res)
		}
		mustMatch(t, res.Stdout, fmt.Sprintf(`^total 239\.1\.2\.3%s: %d datagrams, %d payload bytes, `, tt.where, n, bytes))
		if countLines(res.Stdout, "truncated") != 0 {
			t.Errorf("watch --read %s drops datagrams:\n%s", tt.file, res.Stdout)
		}
	}
}

// udpIn counts the datagrams to 239.1.2.3.5001 tcpdump -r lists in file,
// and their UDP payload bytes (0 while the file does not exist yet).
func udpIn(t *testing.T, file string) (n, bytes int) {
	t.Helper()
	if _, err := os.Stat(file); err != nil {
		return 0, 0
	}
	out, _ := exec.Command("tcpdump", "-n", "-r", file).Output()
	for _, m := range regexp.MustCompile(` > 239\.1\.2\.3\.5001: UDP, length (\d+)`).FindAllStringSubmatch(string(out), -1) {
		l, _ := strconv.Atoi(m[1])
		n, bytes = n+1, bytes+l
	}
	return n, bytes
}

func udpCount(t *testing.T, file string) int {
	n, _ := udpIn(t, file)
	return n
}
