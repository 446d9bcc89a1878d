package integration_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/labtest"
)

// udpInDatagrams reads Udp InDatagrams of node's namespace.
func udpInDatagrams(t *testing.T, l *labtest.Lab, node string) uint64 {
	t.Helper()
	r := l.MustRun(node, "cat", "/proc/net/snmp")
	var h []string
	for _, line := range strings.Split(r.Stdout, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "Udp:" {
			continue
		}
		if h == nil {
			h = f
			continue
		}
		for i := range h {
			if h[i] == "InDatagrams" && i < len(f) {
				n, err := strconv.ParseUint(f[i], 10, 64)
				if err != nil {
					t.Fatalf("InDatagrams %q: %v", f[i], err)
				}
				return n
			}
		}
	}
	t.Fatalf("no Udp InDatagrams in /proc/net/snmp: %s", r.Stdout)
	return 0
}

// A rate-mode sender's UDP_SEGMENT batches reach recv coalesced (UDP_GRO,
// recv's default): the kernel counts fewer socket datagrams than recv
// counts datagrams, and recv still accounts every datagram exactly once.
// With --gro=false the kernel hands over one datagram at a time.
func TestRecvGROSplitsBatches(t *testing.T) {
	l := labtest.Up(t, "lan", "--nodes", "2")
	const n = 20000
	for _, tt := range []struct {
		name      string
		flags     []string
		coalesced bool
	}{{"gro", nil, true}, {"no gro", []string{"--gro=false"}, false}} {
		t.Run(tt.name, func(t *testing.T) {
			before := udpInDatagrams(t, l, "n2")
			p := startRecv(t, l, "n2", append([]string{"239.1.1.1:5000"}, tt.flags...)...)
			l.MustRun("n1", l.Bin, "send", "239.1.1.1:5000", "--rate", "20000", "--count", strconv.Itoa(n), "--size", "64")
			rep := summaryOf(t, p.Wait())
			kernel := udpInDatagrams(t, l, "n2") - before
			if len(rep.Flows) != 1 {
				t.Fatalf("want 1 flow, got %+v", rep.Flows)
			}
			f := rep.Flows[0]
			if f.Expected != n || f.Received+f.Lost != n || f.Duplicates != 0 || f.Received < n*99/100 {
				t.Fatalf("received %d, lost %d of %d expected, %d duplicates: want all %d once (at most 1 %% lost on a loaded machine)",
					f.Received, f.Lost, f.Expected, f.Duplicates, n)
			}
			got := f.Received + 3 // and the end markers
			if tt.coalesced && kernel >= got {
				t.Errorf("kernel handed over %d socket datagrams for %d datagrams: no UDP_GRO coalescing", kernel, got)
			}
			if !tt.coalesced && kernel < got {
				t.Errorf("kernel handed over %d socket datagrams for %d datagrams without GRO", kernel, got)
			}
			t.Logf("%d datagrams received in %d socket datagrams", got, kernel)
		})
	}
}
