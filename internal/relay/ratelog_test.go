package relay

import (
	"testing"
	"time"
)

// TestLogLimiter: one line per kind per interval, the next one carrying
// the count held back; the table never grows past maxLogKeys however many
// kinds come, and forgets quiet ones.
func TestLogLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var l logLimiter
	k := logKey{"auth", 7}
	if held, ok := l.allow(k, t0); !ok || held != 0 {
		t.Fatalf("first line: %v held %d, want written", ok, held)
	}
	for i := 1; i <= 100; i++ {
		if _, ok := l.allow(k, t0.Add(time.Duration(i)*10*time.Millisecond)); ok {
			t.Fatalf("line %d within the interval was written", i)
		}
	}
	if _, ok := l.allow(logKey{"auth", 8}, t0.Add(time.Second)); !ok {
		t.Fatal("another peer's first line was held back")
	}
	if held, ok := l.allow(k, t0.Add(logEvery)); !ok || held != 100 {
		t.Fatalf("after the interval: %v held %d, want written with 100 held", ok, held)
	}
	l.allow(k, t0.Add(logEvery+time.Second))
	due := l.due(t0.Add(2 * logEvery))
	if len(due) != 1 || due[k] != 1 {
		t.Fatalf("due %v, want %v: 1", due, k)
	}
	if len(l.due(t0.Add(4*logEvery))) != 0 || len(l.keys) != 0 {
		t.Fatalf("quiet kinds not forgotten: %d left", len(l.keys))
	}

	// A flood naming ever new peers: the table stays bounded.
	written := 0
	for i := range 100000 {
		if _, ok := l.allow(logKey{"unknown", uint32(i + 1)}, t0); ok {
			written++
		}
	}
	if len(l.keys) > maxLogKeys || written > maxLogKeys {
		t.Fatalf("%d kinds tracked, %d lines written, want at most %d", len(l.keys), written, maxLogKeys)
	}
}

func TestLogLimiterAllocs(t *testing.T) {
	var l logLimiter
	now := time.Unix(1000, 0)
	l.allow(logKey{"auth", 1}, now)
	if n := testing.AllocsPerRun(1000, func() { l.allow(logKey{"auth", 1}, now) }); n != 0 {
		t.Fatalf("a held-back line allocates %.1f times, want 0", n)
	}
}
