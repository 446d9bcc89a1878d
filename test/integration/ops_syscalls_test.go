package integration_test

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay"
)

// syscallSets reads the named system call sets of `systemd-analyze
// syscall-filter` and returns each one's calls, nested sets expanded.
func syscallSets(t *testing.T, sa string) map[string]map[string]bool {
	t.Helper()
	out, err := exec.Command(sa, "syscall-filter", "--no-pager").Output()
	if err != nil {
		t.Fatalf("systemd-analyze syscall-filter: %v", err)
	}
	direct := map[string][]string{}
	cur := ""
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		switch {
		case len(f) == 0 || strings.HasPrefix(f[0], "#"):
		case strings.HasPrefix(line, "@"):
			cur = f[0]
		case cur != "":
			direct[cur] = append(direct[cur], f[0])
		}
	}
	sets := map[string]map[string]bool{}
	var expand func(string) map[string]bool
	expand = func(name string) map[string]bool {
		if s, ok := sets[name]; ok {
			return s
		}
		s := map[string]bool{}
		sets[name] = s
		for _, m := range direct[name] {
			if strings.HasPrefix(m, "@") {
				for c := range expand(m) {
					s[c] = true
				}
			} else {
				s[m] = true
			}
		}
		return s
	}
	for name := range direct {
		expand(name)
	}
	return sets
}

// unitFilter is what the unit's SystemCallFilter= lines allow: the union
// of the allow lines, less the calls of the deny (~) lines.
func unitFilter(t *testing.T, unit string, sets map[string]map[string]bool) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	allow, deny := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		v, ok := strings.CutPrefix(line, "SystemCallFilter=")
		if !ok {
			continue
		}
		to := allow
		if v, ok = strings.CutPrefix(v, "~"); ok {
			to = deny
		}
		for _, name := range strings.Fields(v) {
			if s, ok := sets[name]; ok {
				for c := range s {
					to[c] = true
				}
			} else if strings.HasPrefix(name, "@") {
				t.Fatalf("%s: unknown system call set %s", unit, name)
			} else {
				to[name] = true
			}
		}
	}
	if len(allow) == 0 {
		t.Fatalf("%s has no SystemCallFilter allow list", unit)
	}
	for c := range deny {
		delete(allow, c)
	}
	return allow
}

var straceCall = regexp.MustCompile(`^\d+\s+([a-z0-9_]+)\(`)

// TestRelaySyscallsWithinUnitFilter: every system call a relay makes while
// it starts, carries a stream, answers status and metrics, reloads and
// stops (traced with strace in a lab) is one the relay unit's
// SystemCallFilter allows.
func TestRelaySyscallsWithinUnitFilter(t *testing.T) {
	sa := needTool(t, "systemd-analyze", "systemd")
	strace := needTool(t, "strace", "strace")
	needTool(t, "python3", "python3")
	allowed := unitFilter(t, repoFile("dist", "systemd", "mcast-relay.service"), syscallSets(t, sa))

	rl := upRelayLab(t, 2)
	trace := filepath.Join(rl.dir, "strace.txt")
	rl.start("vm1", "group 239.1.1.1")
	conf := rl.writeConf("vm2", "group 239.1.1.1", "metrics 127.0.0.1:9474")
	proc := rl.Start("vm2", strace, "-f", "-qq", "-o", trace, rl.Bin, "relay", "--config", conf)
	rl.waitStatus("vm1", "vm2 up", func(st relay.Status) bool { return peerWants(st, "vm2") })
	const n = 50
	r2 := rl.StartMcast("vm2", recvArgs(n, "3s", "239.1.1.1")...)
	rl.waitStatus("vm1", "vm2 wanting 239.1.1.1", func(st relay.Status) bool { return peerWants(st, "vm2", "239.1.1.1") })
	if r := rl.Mcast("vm1", "send", "--iface", "eth0", "--count", strconv.Itoa(n), "--interval", "5ms", "239.1.1.1"); r.Code != 0 {
		t.Fatalf("sender: %s", r)
	}
	exactlyOnceJSON(t, "vm2 239.1.1.1", r2.Wait(), n, "10.0.1.10")
	scrapeMetrics(t, rl.Lab, "vm2", "127.0.0.1:9474")
	hup(t, rl.Name+"-vm2")
	rl.waitStatus("vm2", "the reload", func(st relay.Status) bool { return st.Reloads == 1 })
	// The relay itself ends (strace then ends with it): SIGTERM to the
	// traced relay, found among the namespace's processes.
	signalRelay(t, rl.Name+"-vm2", syscall.SIGTERM)
	select {
	case <-proc.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the traced relay did not stop")
	}

	b, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := straceCall.FindStringSubmatch(line); m != nil {
			used[m[1]] = true
		}
	}
	if len(used) < 20 {
		t.Fatalf("strace saw only %d system calls: %v", len(used), used)
	}
	var outside, all []string
	for c := range used {
		all = append(all, c)
		if !allowed[c] {
			outside = append(outside, c)
		}
	}
	sort.Strings(outside)
	sort.Strings(all)
	t.Logf("the relay made %d different system calls: %s", len(all), strings.Join(all, " "))
	if len(outside) > 0 {
		t.Errorf("the relay made system calls its unit's SystemCallFilter refuses: %s", strings.Join(outside, " "))
	}
}

// signalRelay sends sig to the relay running in namespace ns (started by
// this test).
func signalRelay(t *testing.T, ns string, sig syscall.Signal) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		t.Fatalf("ip netns pids %s: %v", ns, err)
	}
	for _, f := range strings.Fields(string(out)) {
		cmd, _ := os.ReadFile("/proc/" + f + "/cmdline")
		if strings.HasPrefix(filepath.Base(strings.Split(string(cmd), "\x00")[0]), "mcast") && strings.Contains(string(cmd), "relay\x00--config") {
			pid, _ := strconv.Atoi(f)
			if syscall.Kill(pid, sig) == nil {
				return
			}
		}
	}
	t.Fatalf("no relay running in %s", ns)
}
