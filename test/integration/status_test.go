package integration_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// onTerminal runs the mcast binary with args on node under script(1), so
// that its standard output is a pseudo-terminal.
func onTerminal(l *labtest.Lab, node string, args ...string) *labtest.Proc {
	return l.Start(node, "script", "-qefc", l.Bin+" "+strings.Join(args, " "), "/dev/null")
}

var statusRate = regexp.MustCompile(`(\d+) dgram/s`)

// statusRates returns the rate of every status line drawn in out (each
// drawn after "\r\x1b[K").
func statusRates(out string) []int {
	var rates []int
	for _, seg := range strings.Split(out, "\r\x1b[K") {
		if m := statusRate.FindStringSubmatch(seg); m != nil && !strings.Contains(seg, "\n") {
			n, _ := strconv.Atoi(m[1])
			rates = append(rates, n)
		}
	}
	return rates
}

// TestLiveStatusOnTerminal: on a terminal, recv and watch redraw a status
// line whose rate shows the stream and falls to 0 within a second of the sender
// stopping; send --rate --count 0 draws one too; with --json neither does.
func TestLiveStatusOnTerminal(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	rcv := onTerminal(l, "n2", "recv", "--timeout", "5s", "239.7.7.7:5000")
	rcv.WaitFor("use interface", 30*time.Second)
	w := onTerminal(l, "n2", "watch", "--iface", "eth0", "--timeout", "5s")
	w.WaitFor("watching", 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	snd := onTerminal(l, "n1", "send", "--rate", "500", "--count", "0", "--duration", "2s", "239.7.7.7:5000")
	res := snd.Wait()
	stopped := time.Now()
	if res.Code != 0 {
		t.Fatalf("send: %s", res)
	}
	sendRates := statusRates(res.Stdout)
	if len(sendRates) == 0 || !strings.Contains(res.Stdout, " sent ") || slicesMax(sendRates) < 250 {
		t.Errorf("send --rate on a terminal: status rates %v, want a line showing about 500/s:\n%q", sendRates, res.Stdout)
	}
	time.Sleep(time.Second + 300*time.Millisecond - time.Since(stopped))
	out, wout := rcv.Stdout(), w.Stdout()
	rates := statusRates(out)
	if len(rates) < 4 || slicesMax(rates) < 250 {
		t.Fatalf("recv on a terminal: status rates %v, want some about 500/s:\n%q", rates, out)
	}
	if last := rates[len(rates)-1]; last != 0 {
		t.Errorf("recv's rate %d/s over a second after the sender stopped, want 0 (rates %v)", last, rates)
	}
	wrates := statusRates(wout)
	if len(wrates) < 4 || slicesMax(wrates) < 250 || wrates[len(wrates)-1] != 0 || !strings.Contains(wout, " datagrams ") {
		t.Errorf("watch on a terminal: status rates %v, want some about 500/s and 0 a second after the sender stopped:\n%q", wrates, wout)
	}
	t.Logf("send status rates %v; recv status rates %v; watch status rates %v", sendRates, rates, wrates)
	rcv.Wait()

	js := onTerminal(l, "n1", "send", "--json", "--rate", "500", "--count", "100", "239.7.7.7:5000").Wait()
	if strings.Contains(js.Stdout, "\x1b[K") || strings.Contains(js.Stdout, "dgram/s") {
		t.Errorf("send --json on a terminal draws a status line:\n%q", js.Stdout)
	}
}

func slicesMax(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
