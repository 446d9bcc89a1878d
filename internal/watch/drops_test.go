package watch_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/watch"
	"github.com/mcasttools/mcast/internal/wire/packet"
)

// droppingSource is a live source whose kernel counts drops: it yields no
// frame until its test ends it, and its drop total grows with every read.
type droppingSource struct {
	mu    sync.Mutex
	drops []uint64 // totals returned one by one; the last repeats
}

func (s *droppingSource) Next(ctx context.Context) (packet.Frame, error) {
	<-ctx.Done()
	return packet.Frame{}, ctx.Err()
}

func (s *droppingSource) LinkType() uint32 { return 113 }

func (s *droppingSource) Drops() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.drops[0]
	if len(s.drops) > 1 {
		s.drops = s.drops[1:]
	}
	return n, nil
}

// A live capture that loses packets says so as it happens, once per
// growth of the kernel's count, and keeps the total for the summary.
func TestRunWarnsOfCaptureDrops(t *testing.T) {
	src := &droppingSource{drops: []uint64{0, 5, 5, 12}}
	st := watch.NewState(watch.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	var warned []int
	emit := func(e watch.Event) {
		if e.Warning == watch.WarnCaptureDrops {
			warned = append(warned, e.Packets)
			if len(warned) == 2 {
				cancel()
			}
		}
	}
	done := make(chan error)
	go func() {
		done <- watch.Run(ctx, src, st, watch.Options{Live: true, TickEvery: time.Millisecond, Emit: emit})
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("no end")
	}
	if len(warned) != 2 || warned[0] != 5 || warned[1] != 7 || st.CaptureDropped() != 12 {
		t.Errorf("warnings for %v dropped packets, %d in all; want [5 7], 12", warned, st.CaptureDropped())
	}
}
