package progress

import (
	"bytes"
	"io"
	"math"
	"testing"
	"time"
)

// A steady 500/s stream reads 500/s; once it stops, the rate is 0 within
// one second, whatever the phase of the redraws.
func TestRateDecaysWithinASecond(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var m Meter
	var count uint64
	now := t0
	stop := t0.Add(5 * time.Second)
	for now.Before(stop) {
		now = now.Add(Tick)
		count += 125 // 500/s
		m.Observe(now, count, count*100)
	}
	pps, bps := m.Rate(now)
	if math.Abs(pps-500) > 1 || math.Abs(bps-500*100*8) > 800 {
		t.Fatalf("steady rate %.1f/s %.0f bit/s, want 500/s 400000 bit/s", pps, bps)
	}
	for now.Sub(stop) < 2*time.Second {
		now = now.Add(Tick)
		m.Observe(now, count, count*100)
		pps, _ := m.Rate(now)
		if now.Sub(stop) >= time.Second && pps != 0 {
			t.Fatalf("%v after the stream stopped: %.1f/s, want 0", now.Sub(stop), pps)
		}
	}
}

// Without a sample inside the window (redraws stalled) the rate is 0, not
// the last rate seen.
func TestRateWithoutRecentSamples(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var m Meter
	if pps, _ := m.Rate(t0); pps != 0 {
		t.Fatalf("empty meter: %v", pps)
	}
	m.Observe(t0, 0, 0)
	m.Observe(t0.Add(Tick), 100, 0)
	if pps, _ := m.Rate(t0.Add(Tick)); math.Abs(pps-400) > 0.01 {
		t.Fatalf("rate %v, want 400", pps)
	}
	if pps, _ := m.Rate(t0.Add(3 * time.Second)); pps != 0 {
		t.Fatalf("stale samples give %v, want 0", pps)
	}
}

// The ring wraps without losing the window.
func TestRateAcrossTheRing(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var m Meter
	for i := range 3 * maxSamples {
		m.Observe(t0.Add(time.Duration(i)*50*time.Millisecond), uint64(i*10), 0)
	}
	now := t0.Add(time.Duration(3*maxSamples-1) * 50 * time.Millisecond)
	if pps, _ := m.Rate(now); math.Abs(pps-200) > 0.01 {
		t.Fatalf("rate %v, want 200", pps)
	}
}

func TestLineRedrawsInPlace(t *testing.T) {
	var b bytes.Buffer
	l := NewLine(&b)
	l.Clear()
	l.Draw("a")
	l.Draw("b")
	l.Clear()
	l.Clear()
	if got := b.String(); got != "\r\x1b[Ka\r\x1b[Kb\r\x1b[K" {
		t.Fatalf("output %q", got)
	}
	if got := Format(12*time.Second, 500, 4e6, "sent", 6000); got != "12s  500 dgram/s  4.00 Mbit/s  sent 6000" {
		t.Fatalf("Format = %q", got)
	}
}

func TestAboveClearsTheLine(t *testing.T) {
	var b bytes.Buffer
	l := NewLine(&b)
	l.Draw("status")
	io.WriteString(l.Above(), "event\n")
	io.WriteString(l.Above(), "more\n")
	if got := b.String(); got != "\r\x1b[Kstatus\r\x1b[Kevent\nmore\n" || l.Shown() {
		t.Fatalf("output %q, shown %v", got, l.Shown())
	}
}
