// Package doctor names the common reasons IP multicast and broadcast fail on
// a Linux host. Each reason is a Check in a file of its own; Run runs a set of
// checks concurrently and returns one Report per check, in catalog order.
//
// A check reads the machine through a Host (netlink, /proc and /sys below a
// root, firewall rulesets as text), so its logic runs on recorded inputs in
// tests and on the live system in `mcast doctor`.
package doctor

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"
)

// Status is the verdict of one check.
type Status int

// The verdicts, from best to worst; Skip means the check could not run.
const (
	OK Status = iota
	Warn
	Fail
	Skip
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	case Fail:
		return "fail"
	case Skip:
		return "skip"
	}
	return "unknown"
}

// MarshalText renders the status as "ok", "warn", "fail" or "skip".
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Result is what a check found.
type Result struct {
	Status   Status   `json:"status"`
	Summary  string   `json:"summary"`            // one line: what is wrong or why it is fine
	Evidence []string `json:"evidence,omitempty"` // what was seen: routes, sysctls, rules
	Fix      []string `json:"fix,omitempty"`      // commands that fix it, or what to do
}

// Check is one entry of the catalog.
type Check interface {
	// Name is the check's short name, such as "route".
	Name() string
	// Run inspects the host and says what it found. It never panics on
	// bad input: what it cannot read it reports with Skipf.
	Run(ctx context.Context) Result
}

// Skipf is the result of a check that could not look: "could not check: why".
func Skipf(format string, a ...any) Result {
	return Result{Status: Skip, Summary: "could not check: " + fmt.Sprintf(format, a...)}
}

// Target is what the user asked about: all fields are optional.
type Target struct {
	Iface  string     // --iface: an interface name or one of its addresses
	Group  netip.Addr // --group, zero when not given
	Port   uint16     // --group's port, 0 when not given
	Source netip.Addr // --source: the sender's address (this host's or another's)
	TTL    int        // the TTL senders use (mcast send's default is 1)
	// Listen is how long to listen for IGMP/MLD queries on the wire
	// (--listen, root only); 0 does not listen.
	Listen time.Duration
}

// HasGroup reports whether a usable group was given.
func (t Target) HasGroup() bool { return t.Group.IsValid() }

// Report is the result of one named check.
type Report struct {
	Check string `json:"check"`
	Result
	Took time.Duration `json:"-"`
}

// Active is implemented by checks that change what the others read (the
// probe joins a group and sends): they run after the passive checks.
type Active interface {
	Active() bool
}

// Run runs checks concurrently, each with at most timeout, and returns their
// reports in the order given. Passive checks run first, all at once, then the
// active ones. A check that panics or overruns its time is reported as
// skipped; the others are not affected.
func Run(ctx context.Context, checks []Check, timeout time.Duration) []Report {
	out := make([]Report, len(checks))
	for _, active := range []bool{false, true} {
		var wg sync.WaitGroup
		for i, c := range checks {
			a, ok := c.(Active)
			if (ok && a.Active()) != active {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				out[i] = runOne(ctx, c, timeout)
			}()
		}
		wg.Wait()
	}
	return out
}

func runOne(ctx context.Context, c Check, timeout time.Duration) Report {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	done := make(chan Result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- Skipf("internal error: %v", p)
			}
		}()
		done <- c.Run(ctx)
	}()
	var r Result
	select {
	case r = <-done:
	case <-ctx.Done():
		r = Skipf("no answer within %s", timeout)
	}
	return Report{Check: c.Name(), Result: r, Took: time.Since(start)}
}

// Failed reports whether any report failed.
func Failed(rs []Report) bool {
	for _, r := range rs {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Count returns how many reports have each status.
func Count(rs []Report) map[Status]int {
	m := map[Status]int{}
	for _, r := range rs {
		m[r.Status]++
	}
	return m
}
