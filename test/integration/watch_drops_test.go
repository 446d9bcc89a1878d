package integration_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// A capture that cannot keep up says so: watch on n1 is stopped (SIGSTOP)
// while n2 sends more datagrams than its ring holds; resumed, it warns of
// the packets the kernel dropped for it, and its summary's datagrams plus
// the capture's drops account for every packet eth0 received.
func TestWatchReportsCaptureDrops(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "2")
	pidFile := filepath.Join(t.TempDir(), "watch.pid")
	w := l.Start("n1", "sh", "-c", "echo $$ >"+pidFile+"; exec "+l.Bin+" watch --iface eth0 --report-interval 0")
	w.WaitFor("watching eth0", 20*time.Second)
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	rx := func() int {
		n, _ := strconv.Atoi(strings.TrimSpace(l.MustRun("n1", "cat", "/sys/class/net/eth0/statistics/rx_packets").Stdout))
		return n
	}
	rx0 := rx()
	l.MustRun("n1", "kill", "-STOP", strconv.Itoa(pid))
	// 40,000 datagrams of 1,000 bytes: more than the 32 MiB ring holds.
	l.MustRun("n2", l.Bin, "send", "--iface", "eth0", "--rate", "max", "--no-gso", "--count", "40000", "--size", "1000", "239.7.7.7:5001")
	l.MustRun("n1", "kill", "-CONT", strconv.Itoa(pid))
	w.WaitFor("warning the capture dropped", 20*time.Second)
	delivered := rx() - rx0
	res := w.Stop()
	m := regexp.MustCompile(`(?m)^total 239\.7\.7\.7 on eth0: (\d+) datagrams`).FindStringSubmatch(res.Stdout)
	d := regexp.MustCompile(`(?m)^the capture dropped (\d+) packets the kernel could not queue for watch`).FindStringSubmatch(res.Stdout)
	if m == nil || d == nil {
		t.Fatalf("no total or capture drops in:\n%s", res.Stdout)
	}
	seen, _ := strconv.Atoi(m[1])
	dropped, _ := strconv.Atoi(d[1])
	// eth0 also received a few IGMP/MLD reports, which the capture counts
	// too.
	if dropped == 0 || seen+dropped > delivered+5 || seen+dropped < delivered-50 {
		t.Errorf("watch saw %d datagrams and its capture dropped %d, eth0 received %d:\n%s", seen, dropped, delivered, res.Stdout)
	}
	t.Logf("seen %d, dropped %d, delivered %d", seen, dropped, delivered)
}
