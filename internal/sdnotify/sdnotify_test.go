package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen makes a unixgram socket at path and returns what it receives.
func listen(t *testing.T, path string) <-chan string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			ch <- string(buf[:n])
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5 s")
		return ""
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestNotify(t *testing.T) {
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@mcast-sdnotify-test-" + strconv.FormatInt(time.Now().UnixNano(), 10)} {
		ch := listen(t, name)
		n := New(env(map[string]string{"NOTIFY_SOCKET": name}))
		if !n.Enabled() {
			t.Fatalf("%s: not enabled", name)
		}
		if err := n.Ready(); err != nil {
			t.Fatal(err)
		}
		if got := next(t, ch); got != "READY=1" {
			t.Errorf("%s: got %q, want READY=1", name, got)
		}
		if err := n.Reloading(); err != nil {
			t.Fatal(err)
		}
		if got := next(t, ch); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
			t.Errorf("%s: got %q, want RELOADING=1 and MONOTONIC_USEC", name, got)
		}
	}
}

func TestWithoutSocketNothingHappens(t *testing.T) {
	n := New(env(nil))
	if n.Enabled() || n.Ready() != nil {
		t.Error("without NOTIFY_SOCKET: enabled or an error")
	}
	if d, err := n.WatchdogInterval(); d != 0 || err != nil {
		t.Errorf("watchdog without socket: %v %v", d, err)
	}
}

func TestWatchdog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify")
	ch := listen(t, path)
	n := New(env(map[string]string{"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000"}))
	d, err := n.WatchdogInterval()
	if err != nil || d != 50*time.Millisecond {
		t.Fatalf("interval: %v %v, want 50ms", d, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { n.Watchdog(ctx, d, nil); close(done) }()
	if got := next(t, ch); got != "WATCHDOG=1" {
		t.Errorf("got %q, want WATCHDOG=1", got)
	}
	cancel()
	<-done

	other := New(env(map[string]string{"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"}))
	if d, _ := other.WatchdogInterval(); d != 0 {
		t.Errorf("watchdog for another PID: %v, want 0", d)
	}
	bad := New(env(map[string]string{"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "soon"}))
	if _, err := bad.WatchdogInterval(); err == nil || !strings.Contains(err.Error(), `"soon"`) {
		t.Errorf("bad WATCHDOG_USEC: %v", err)
	}
}
