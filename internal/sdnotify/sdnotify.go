// Package sdnotify tells systemd how a Type=notify service is doing: ready,
// reloading, alive (the watchdog). The protocol is one datagram of
// newline-separated VAR=value lines to the unix datagram socket named by
// $NOTIFY_SOCKET (abstract when the name starts with @). Without
// $NOTIFY_SOCKET, as outside systemd, every call does nothing.
package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Notifier sends states to one notify socket.
type Notifier struct {
	socket string // "" when not run by systemd
	getenv func(string) string
}

// New reads $NOTIFY_SOCKET with getenv (os.Getenv when nil).
func New(getenv func(string) string) *Notifier {
	if getenv == nil {
		getenv = os.Getenv
	}
	return &Notifier{socket: getenv("NOTIFY_SOCKET"), getenv: getenv}
}

// Enabled reports whether a notify socket was given.
func (n *Notifier) Enabled() bool { return n.socket != "" }

// Notify sends state, such as "READY=1", in one datagram.
func (n *Notifier) Notify(state string) error {
	if n.socket == "" {
		return nil
	}
	addr := &net.UnixAddr{Name: n.socket, Net: "unixgram"}
	c, err := net.DialUnix("unixgram", nil, addr)
	if err != nil {
		return fmt.Errorf("notifying systemd at NOTIFY_SOCKET=%s: %w", n.socket, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return fmt.Errorf("notifying systemd at NOTIFY_SOCKET=%s: %w", n.socket, err)
	}
	return nil
}

// Ready says that the service is up (READY=1).
func (n *Notifier) Ready() error { return n.Notify("READY=1") }

// Reloading says that the service is re-reading its configuration
// (RELOADING=1, with the monotonic time that Type=notify-reload asks for);
// Ready ends the reload.
func (n *Notifier) Reloading() error {
	return n.Notify("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(monotonicUsec(), 10))
}

// Stopping says that the service is shutting down (STOPPING=1).
func (n *Notifier) Stopping() error { return n.Notify("STOPPING=1") }

// WatchdogInterval is how often the service must say WATCHDOG=1: half of
// $WATCHDOG_USEC, or 0 when no watchdog is set for this process
// ($WATCHDOG_PID, when set, names another one).
func (n *Notifier) WatchdogInterval() (time.Duration, error) {
	s := n.getenv("WATCHDOG_USEC")
	if s == "" || n.socket == "" {
		return 0, nil
	}
	if p := n.getenv("WATCHDOG_PID"); p != "" && p != strconv.Itoa(os.Getpid()) {
		return 0, nil
	}
	us, err := strconv.ParseUint(s, 10, 63)
	if err != nil || us == 0 {
		return 0, fmt.Errorf("reading WATCHDOG_USEC %q: want a positive number of microseconds", s)
	}
	return time.Duration(us) * time.Microsecond / 2, nil
}

// Watchdog says WATCHDOG=1 every interval until ctx ends. alive, when not
// nil, is asked first: a false answer skips that keep-alive, so that
// systemd restarts a service that is stuck.
func (n *Notifier) Watchdog(ctx context.Context, interval time.Duration, alive func() bool) {
	if interval <= 0 || n.socket == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if alive == nil || alive() {
				n.Notify("WATCHDOG=1")
			}
		}
	}
}
