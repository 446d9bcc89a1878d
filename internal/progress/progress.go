// Package progress draws the live status line long-running subcommands show
// on a terminal, and measures the current rate it shows.
//
// A Meter takes the running totals at each redraw (never per datagram) and
// gives the rate over the last Window: once traffic stops, every sample in
// the window holds the same total and the rate is 0 within Window plus one
// redraw interval.
package progress

import (
	"fmt"
	"io"
	"time"

	"github.com/mcasttools/mcast/internal/stats"
)

// Window is how far back a Meter's rate looks, and Tick how often a status
// line is redrawn: a rate decays to 0 within Window+Tick (one second) of
// traffic stopping.
const (
	Window = 750 * time.Millisecond
	Tick   = 250 * time.Millisecond
)

// maxSamples bounds a Meter's samples: Window/Tick of them are in use, the
// rest absorb redraws that come early.
const maxSamples = 16

type sample struct {
	at            time.Time
	count, nbytes uint64
}

// Meter is a windowed rate of running totals. The zero value is ready; it
// is not safe for concurrent use.
type Meter struct {
	ring [maxSamples]sample
	n    int // samples held
	next int // where the next one goes
}

// Observe records the totals at now: datagrams and payload bytes so far.
func (m *Meter) Observe(now time.Time, count, nbytes uint64) {
	m.ring[m.next] = sample{at: now, count: count, nbytes: nbytes}
	m.next = (m.next + 1) % maxSamples
	m.n = min(m.n+1, maxSamples)
}

// Rate returns datagrams and bits per second over the samples of the last
// Window before now; 0 when fewer than two samples fall in it.
func (m *Meter) Rate(now time.Time) (pps, bps float64) {
	var first, last *sample
	for i := range m.n {
		s := &m.ring[(m.next-m.n+i+maxSamples)%maxSamples]
		if now.Sub(s.at) > Window || s.at.After(now) {
			continue
		}
		if first == nil {
			first = s
		}
		last = s
	}
	if first == nil || last == first {
		return 0, 0
	}
	d := last.at.Sub(first.at).Seconds()
	if d <= 0 || last.count < first.count {
		return 0, 0
	}
	return float64(last.count-first.count) / d, float64(last.nbytes-first.nbytes) * 8 / d
}

// Line is a status line redrawn in place on a terminal: each Draw replaces
// the previous one, and Clear removes it before other output.
type Line struct {
	w     io.Writer
	shown bool
}

// NewLine returns a status line written to w.
func NewLine(w io.Writer) *Line { return &Line{w: w} }

// Draw replaces the line with text.
func (l *Line) Draw(text string) {
	fmt.Fprint(l.w, "\r\x1b[K"+text)
	l.shown = true
}

// Clear removes the line, if one is shown.
func (l *Line) Clear() {
	if l.shown {
		fmt.Fprint(l.w, "\r\x1b[K")
		l.shown = false
	}
}

// Shown reports whether a line is on the terminal.
func (l *Line) Shown() bool { return l.shown }

// Format renders the common part of a status line: elapsed time, the
// current rates and the totals, as "12s  500 dgram/s  4.00 Mbit/s  sent 6000".
func Format(elapsed time.Duration, pps, bps float64, verb string, total uint64) string {
	return fmt.Sprintf("%.0fs  %.0f dgram/s  %s  %s %d", elapsed.Seconds(), pps, stats.HumanBitRate(bps), verb, total)
}

// Above returns a writer for output that goes above the status line: each
// write removes the line first (the next Draw puts it back).
func (l *Line) Above() io.Writer { return aboveWriter{l} }

type aboveWriter struct{ l *Line }

func (a aboveWriter) Write(p []byte) (int, error) {
	a.l.Clear()
	return a.l.w.Write(p)
}
