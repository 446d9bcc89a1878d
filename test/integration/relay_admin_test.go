package integration_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"github.com/mcasttools/mcast/internal/relay"
)

// startAdmin starts node's relay with its admin socket at admin (a path or
// @name) and returns the configuration file's path.
func (rl *relayLab) startAdmin(node, admin string, extra ...string) string {
	rl.t.Helper()
	conf := rl.writeConf(node, extra...)
	b, err := os.ReadFile(conf)
	if err != nil {
		rl.t.Fatal(err)
	}
	old := "admin " + filepath.Join(rl.dir, node+".sock") + "\n"
	if err := os.WriteFile(conf, bytes.Replace(b, []byte(old), []byte("admin "+admin+"\n"), 1), 0o600); err != nil {
		rl.t.Fatal(err)
	}
	rl.procs[node] = rl.StartMcast(node, "relay", "--config", conf)
	return conf
}

// relayPID finds the relay process started with configuration conf.
func relayPID(t *testing.T, conf string) int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		dirs, _ := os.ReadDir("/proc")
		for _, d := range dirs {
			pid, err := strconv.Atoi(d.Name())
			if err != nil {
				continue
			}
			b, _ := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
			args := strings.Split(string(b), "\x00")
			if len(args) >= 4 && filepath.Base(args[0]) == "mcast" && args[1] == "relay" && args[2] == "--config" && args[3] == conf {
				return pid
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no relay process with config %s", conf)
	return 0
}

// procKB is a field of /proc/PID/status in kB (VmRSS, VmHWM).
func procKB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				t.Fatalf("/proc/%d/status: %q", pid, line)
			}
			return n
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// TestRelayAdminFlood: clients writing without end to the admin socket
// (no newline) are cut off after a few KiB, counted, and the relay's
// memory stays where it was (its peak RSS, from /proc/PID/status).
func TestRelayAdminFlood(t *testing.T) {
	rl := upRelayLab(t, 1)
	rl.start("vm1", "group 239.1.1.1")
	rl.waitStatus("vm1", "the relay up", func(relay.Status) bool { return true })
	pid := relayPID(t, filepath.Join(rl.dir, "vm1.conf"))
	before := procKB(t, pid, "VmRSS")
	const clients, each = 4, 32 << 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	written := 0
	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := net.Dial("unix", filepath.Join(rl.dir, "vm1.sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			chunk := bytes.Repeat([]byte("A"), 64<<10)
			c.SetWriteDeadline(time.Now().Add(4 * time.Second))
			for n := 0; n < each; n += len(chunk) {
				k, err := c.Write(chunk)
				mu.Lock()
				written += k
				mu.Unlock()
				if err != nil {
					break
				}
			}
		}()
	}
	wg.Wait()
	peak := procKB(t, pid, "VmHWM")
	t.Logf("wrote %d bytes to the admin socket; relay RSS %d kB before, peak %d kB", written, before, peak)
	if grew := peak - before; grew > 16<<10 {
		t.Errorf("the relay's peak RSS grew by %d kB under the flood, want under 16 MiB", grew)
	}
	for _, c := range conns {
		c.Close()
	}
	if n := adminRefused(t, rl, filepath.Join(rl.dir, "vm1.sock"), "too-long"); n != clients {
		t.Errorf("%d too-long refusals counted, want %d", n, clients)
	}
}

// adminRefused is the relay's count of admin connections refused for
// reason, from its status (JSON, read field by field so that the count
// reads as 0 from a relay that has none).
func adminRefused(t *testing.T, rl *relayLab, admin, reason string) uint64 {
	t.Helper()
	r := rl.Mcast("vm1", "relay", "status", "--admin", admin, "--json")
	var st struct {
		Node         string            `json:"node"`
		AdminRefused map[string]uint64 `json:"admin_refused"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &st); err != nil || st.Node != "vm1" {
		t.Fatalf("status: %v: %s", err, r)
	}
	return st.AdminRefused[reason]
}

// TestRelayAbstractAdminCredentials: on an abstract admin socket (no file
// permissions guard it), a client running as another user (uid 65534) is
// refused and counted; root is answered.
func TestRelayAbstractAdminCredentials(t *testing.T) {
	rl := upRelayLab(t, 1)
	name := fmt.Sprintf("@mcast-test-%d", os.Getpid())
	rl.startAdmin("vm1", name, "group 239.1.1.1")
	var r labtest.Result
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r = rl.Mcast("vm1", "relay", "status", "--admin", name); r.Code == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.Code != 0 {
		t.Fatalf("root's status request: %s\nrelay log:\n%s", r, rl.logs())
	}
	client := `import socket,sys
s=socket.socket(socket.AF_UNIX)
s.connect("\0` + strings.TrimPrefix(name, "@") + `")
s.sendall(b"status\n")
print(s.recv(65536).decode())`
	nobody := rl.Run("vm1", "setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/python3", "-c", client)
	if nobody.Code != 0 || !strings.Contains(nobody.Stdout, `"error"`) || strings.Contains(nobody.Stdout, `"node"`) {
		t.Errorf("uid 65534 was not refused: %s", nobody)
	}
	if n := adminRefused(t, rl, name, "credentials"); n != 1 {
		t.Errorf("%d credential refusals counted, want 1", n)
	}
}

// TestRelayAdminPathNotASocket: a regular file where the admin socket
// should go is left as it is, and the relay refuses to start, naming it.
func TestRelayAdminPathNotASocket(t *testing.T) {
	rl := upRelayLab(t, 1)
	path := filepath.Join(rl.dir, "precious")
	const content = "not a socket\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	rl.startAdmin("vm1", path, "group 239.1.1.1")
	select {
	case <-rl.procs["vm1"].Done():
	case <-time.After(10 * time.Second):
		t.Errorf("the relay started over the file at its admin path")
	}
	r := rl.procs["vm1"].Stop()
	if r.Code != 1 || !strings.Contains(r.Stderr, path) || !strings.Contains(r.Stderr, "not a socket") {
		t.Errorf("relay: %s; want exit 1 naming %s", r, path)
	}
	t.Logf("relay: %s", strings.TrimSpace(r.Stderr))
	if b, err := os.ReadFile(path); err != nil || string(b) != content {
		t.Errorf("the file at the admin path: %q, %v; want it untouched", b, err)
	}
}
