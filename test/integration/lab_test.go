package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// A lab whose `up` was killed half-way is still removed whole by `down`.
func TestLabDownAfterInterruptedUp(t *testing.T) {
	labtest.RequireRoot(t)
	bin := labtest.Binary(t)
	name := fmt.Sprintf("k%d", os.Getpid()%100000)
	up := exec.Command(bin, "lab", "up", "lan", "--nodes", "12", "--name", name)
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command(bin, "lab", "down", "--name", name).Run() })
	// Kill it once it has made some namespaces but (almost surely) not all.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && countNamespaces(t, name) < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	up.Process.Kill()
	up.Wait()
	if n := countNamespaces(t, name); n == 0 {
		t.Fatal("no namespaces were made before the kill")
	}
	if out, err := exec.Command(bin, "lab", "down", "--name", name).CombinedOutput(); err != nil {
		t.Fatalf("lab down: %v\n%s", err, out)
	}
	if n := countNamespaces(t, name); n != 0 {
		t.Errorf("%d namespaces of lab %s left after down", n, name)
	}
	out, _ := exec.Command(bin, "lab", "ls").CombinedOutput()
	if strings.Contains(string(out), name+" ") {
		t.Errorf("lab ls still lists %s:\n%s", name, out)
	}
}

func countNamespaces(t *testing.T, lab string) int {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, lab+"-") {
			n++
		}
	}
	return n
}

// exec on a lab runs the command inside the node: it sees the node's
// interfaces, and its exit status comes back.
func TestLabExec(t *testing.T) {
	t.Parallel()
	l := labtest.Up(t, "lan", "--nodes", "2")
	r := l.Run("n2", "ip", "-br", "-4", "addr", "show", "dev", "eth0")
	if r.Code != 0 || !strings.Contains(r.Stdout, "10.0.0.2/24") {
		t.Errorf("ip addr on n2: %s", r)
	}
	if r := l.Run("n1", "sh", "-c", "exit 7"); r.Code != 7 {
		t.Errorf("exit status: %s", r)
	}
	if r := l.Run("n1", "ping", "-c", "1", "-W", "5", "10.0.0.2"); r.Code != 0 {
		t.Errorf("n1 cannot reach n2: %s", r)
	}
}
