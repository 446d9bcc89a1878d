package integration_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// iperfLost matches the loss column of iperf2's server report:
// "0.007 ms 6/67 (9%)".
var iperfLost = regexp.MustCompile(`ms\s+(\d+)/\s*(\d+)\s+\(`)

// TestForeignIperf2LossMatchesIperf sends an iperf2 stream to a group while
// the receiver's firewall drops about one datagram in ten, and runs mcast
// recv beside iperf2's own server on the receiver: both see the same
// datagrams, and mcast's loss figure for the iperf2 stream, read from
// iperf2's own sequence numbers, agrees with the server's.
func TestForeignIperf2LossMatchesIperf(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	l.MustRun("n2", "nft", "add", "table", "inet", "t")
	l.MustRun("n2", "nft", "add", "chain", "inet", "t", "in", "{ type filter hook input priority 0; }")
	// iperf2's last datagram (negative id: the top bit of the payload's
	// first word) passes, or its server would never print its report.
	l.MustRun("n2", "nft", "add", "rule", "inet", "t", "in", "udp", "dport", "5001", "@th,64,1", "1", "accept")
	l.MustRun("n2", "nft", "add", "rule", "inet", "t", "in", "udp", "dport", "5001", "numgen", "random", "mod", "10", "<", "1", "drop")
	srv := l.Start("n2", "iperf", "-s", "-u", "-B", "239.1.1.1", "-p", "5001")
	srv.WaitFor("Server listening", 10*time.Second)
	p := startRecv(t, l, "n2", "239.1.1.1:5001")
	l.MustRun("n1", "iperf", "-c", "239.1.1.1", "-p", "5001", "-u", "-T", "1", "-t", "2", "-l", "100", "-b", "800K")
	srv.WaitFor("Datagrams", 10*time.Second)
	srv.WaitFor("%)", 10*time.Second)
	rep := summaryOf(t, p.Wait())
	out := srv.Stop().Stdout
	m := iperfLost.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no loss figure in iperf's server report:\n%s", out)
	}
	iLost, _ := strconv.ParseUint(m[1], 10, 64)
	iTotal, _ := strconv.ParseUint(m[2], 10, 64)
	if len(rep.Foreign) != 1 || len(rep.Foreign[0].Streams) != 1 {
		t.Fatalf("want one foreign source with one recognised stream: %+v", rep.Foreign)
	}
	s := rep.Foreign[0].Streams[0]
	t.Logf("iperf2 server: %d lost of %d; mcast recv: %d lost of %d (%.2f%%), format %s", iLost, iTotal, s.Lost, s.Expected, s.LossPct, s.Format)
	if s.Format != "iperf2" || !s.SenderEnd {
		t.Errorf("stream %+v: want format iperf2 with the sender's last datagram", s)
	}
	// Both count from iperf2's ids, and its last datagram's id is the total
	// for both: they agree to the datagram. Allow one, for a datagram
	// that one socket got and the other did not (a full receive buffer).
	diff := max(s.Lost, iLost) - min(s.Lost, iLost)
	if iLost < 50 || diff > 1 || s.Expected != iTotal || s.Received+s.Lost != s.Expected {
		t.Errorf("mcast: %d lost of %d, iperf2: %d lost of %d: want the same (about 10%% lost)", s.Lost, s.Expected, iLost, iTotal)
	}
}
