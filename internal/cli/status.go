package cli

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mcasttools/mcast/internal/progress"
)

// liveStatus is a terminal's status line redrawn every progress.Tick from
// running totals, until Stop. Output meant to stay goes through Above.
type liveStatus struct {
	mu       sync.Mutex
	line     *progress.Line
	done     chan struct{}
	finished chan struct{}
}

// startStatus draws on w the line text makes from the elapsed time, the
// current rates and the count that totals returns (datagrams, payload bytes).
func startStatus(w io.Writer, totals func() (count, nbytes uint64), text func(elapsed time.Duration, pps, bps float64, count uint64) string) *liveStatus {
	s := &liveStatus{line: progress.NewLine(w), done: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(s.finished)
		var meter progress.Meter
		start := time.Now()
		t := time.NewTicker(progress.Tick)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case now := <-t.C:
				count, nbytes := totals()
				meter.Observe(now, count, nbytes)
				pps, bps := meter.Rate(now)
				s.mu.Lock()
				s.line.Draw(text(now.Sub(start), pps, bps, count))
				s.mu.Unlock()
			}
		}
	}()
	return s
}

// Above returns a writer for lines printed while the status shows: each
// write removes the status line first.
func (s *liveStatus) Above() io.Writer { return s.AboveTo(nil) }

// AboveTo is Above for output to dst, another stream on the same terminal
// (standard error): each write removes the status line first.
func (s *liveStatus) AboveTo(dst io.Writer) io.Writer { return lockedWriter{s, dst} }

type lockedWriter struct {
	s   *liveStatus
	dst io.Writer // nil: the status line's own writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.s.mu.Lock()
	defer l.s.mu.Unlock()
	if l.dst == nil {
		return l.s.line.Above().Write(p)
	}
	l.s.line.Clear()
	return l.dst.Write(p)
}

// Stop ends the redraws and removes the line.
func (s *liveStatus) Stop() {
	close(s.done)
	<-s.finished
	s.line.Clear()
}

// pingStatusText is ping's status line: answers per second and in all.
func pingStatusText(elapsed time.Duration, pps, _ float64, answers uint64) string {
	return fmt.Sprintf("%.0fs  %.0f answers/s  %d answers", elapsed.Seconds(), pps, answers)
}
