package integration_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/contract/schematest"
	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
)

// validJSON checks every record of a command's --json output against the
// schemas in docs/schema and returns their types.
func validJSON(t *testing.T, set *schematest.Set, what string, r labtest.Result) []string {
	t.Helper()
	if _, err := set.ValidateStream([]byte(r.Stdout)); err != nil {
		t.Errorf("%s: %v\n%s", what, err, r)
		return nil
	}
	var types []string
	for _, line := range strings.Split(r.Stdout, "\n") {
		if i := strings.Index(line, `"type":"`); i >= 0 {
			typ, _, _ := strings.Cut(line[i+8:], `"`)
			types = append(types, typ)
		}
	}
	return types
}

// TestJSONContract runs every subcommand that reports with --json in a lab
// and validates each record against its schema: recv (with datagram
// events), send (interval and rate), watch, ping, relay status, tunnel
// plan/up/status/down, lab, doctor, groups, mac and version.
func TestJSONContract(t *testing.T) {
	set, err := schematest.Load(filepath.Join("..", "..", "docs", "schema"))
	if err != nil {
		t.Fatal(err)
	}
	rl := upRelayLab(t, 2)
	l := rl.Lab

	// recv, send and watch on vm1's LAN (the receiver hears the looped-back copies).
	w := l.StartMcast("vm1", "watch", "--json", "--iface", "eth0", "--timeout", "6s", "--report-interval", "1s")
	w.WaitFor(`"type":"watch.start"`, 20*time.Second)
	rcv := startRecv(t, l, "vm1", "--json-events", "239.5.5.5:5000")
	send := l.Mcast("vm1", "send", "--json", "--iface", "eth0", "--count", "3", "--interval", "50ms", "239.5.5.5:5000")
	rate := l.Mcast("vm1", "send", "--json", "--iface", "eth0", "--rate", "500", "--count", "100", "239.5.5.5:5000")
	got := strings.Join(validJSON(t, set, "recv", rcv.Wait()), " ")
	for _, want := range []string{"recv.start", "recv.datagram", "recv.summary"} {
		if !strings.Contains(got, want) {
			t.Errorf("recv --json printed %s, no %s", got, want)
		}
	}
	if got := validJSON(t, set, "send", send); strings.Join(got, " ") != "send.start send.datagram send.datagram send.datagram send.summary" {
		t.Errorf("send --json records: %v", got)
	}
	if got := validJSON(t, set, "send --rate", rate); strings.Join(got, " ") != "send.start send.summary" {
		t.Errorf("send --rate --json records: %v", got)
	}
	got = strings.Join(validJSON(t, set, "watch", w.Wait()), " ")
	for _, want := range []string{"watch.start", "watch.data", "watch.rate", "watch.summary"} {
		if !strings.Contains(got, want) {
			t.Errorf("watch --json printed %s, no %s", got, want)
		}
	}

	// ping between the two VMs.
	hosts := []string{"10.0.1.10", "10.0.2.10"}
	p1 := l.StartMcast("vm1", append([]string{"ping", "--json", "--count", "3", "--interval", "100ms", "--wait", "1s"}, hosts...)...)
	p2 := l.StartMcast("vm2", append([]string{"ping", "--json", "--count", "3", "--interval", "100ms", "--wait", "1s"}, hosts...)...)
	validJSON(t, set, "ping vm1", p1.Wait())
	validJSON(t, set, "ping vm2", p2.Wait())

	// relay status.
	rl.start("vm1", "group 239.1.1.1")
	rl.start("vm2", "group 239.1.1.1")
	rl.waitStatus("vm1", "peer vm2 up", func(st relay.Status) bool { return len(st.Peers) == 1 && st.Peers[0].Up })
	validJSON(t, set, "relay status", l.Mcast("vm1", "relay", "status", "--admin", filepath.Join(rl.dir, "vm1.sock"), "--json"))
	rl.stop("vm1")
	rl.stop("vm2")

	// tunnel plan, up, status, down.
	cfg := tunnelConfig(t, "vxlan", 2, "")
	validJSON(t, set, "tunnel plan", l.Mcast("vm1", "tunnel", "plan", "--json", "--config", cfg))
	up := l.Mcast("vm1", "tunnel", "up", "--json", "--config", cfg)
	validJSON(t, set, "tunnel up", up)
	st := l.Mcast("vm1", "tunnel", "status", "--json", "--config", cfg, "--timeout", "500ms")
	validJSON(t, set, "tunnel status", st)
	if strings.Contains(st.Stdout, "null") {
		t.Errorf("tunnel status --json prints null:\n%s", st.Stdout)
	}
	validJSON(t, set, "tunnel down", l.Mcast("vm1", "tunnel", "down", "--json", "--config", cfg))

	// The rest, on a node.
	for _, args := range [][]string{
		{"doctor", "--json", "--iface", "eth0"},
		{"groups", "--json"},
		{"mac", "--json", "239.0.0.100"},
		{"mac", "--check", "--json"},
		{"version", "--json"},
		{"lab", "topologies", "--json"},
		{"lab", "plan", "--json", "lan"},
	} {
		validJSON(t, set, strings.Join(args, " "), l.Mcast("vm1", args...))
	}
}

// TestJSONContractLab: lab up, ls and down with --json.
func TestJSONContractLab(t *testing.T) {
	labtest.RequireRoot(t)
	set, err := schematest.Load(filepath.Join("..", "..", "docs", "schema"))
	if err != nil {
		t.Fatal(err)
	}
	bin := labtest.Binary(t)
	name := "jsonct"
	t.Cleanup(func() { runHost(bin, "lab", "down", "--name", name) })
	for _, args := range [][]string{
		{"lab", "up", "--json", "--name", name, "lan", "--nodes", "2"},
		{"lab", "ls", "--json"},
		{"lab", "down", "--json", "--name", name},
	} {
		out, err := runHost(bin, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if n, err := set.ValidateStream(out); err != nil || n != 1 {
			t.Errorf("%v: %d records: %v\n%s", args, n, err, out)
		}
	}
}

// runHost runs the binary on the host (for lab itself) and returns its
// standard output.
func runHost(bin string, args ...string) ([]byte, error) {
	return exec.Command(bin, args...).Output()
}
