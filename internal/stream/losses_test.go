package stream_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stream"
)

// stalled is a Source whose datagrams wait in its buffer while the reader
// is stopped (SIGSTOP, a stall) for longer than the idle timeout.
type stalled struct {
	mu      sync.Mutex
	queued  []sock.Datagram
	release chan struct{}
}

func (s *stalled) ReadBatch(ctx context.Context, _ *sock.Batch) ([]sock.Datagram, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	ds := s.queued
	s.queued = nil
	s.mu.Unlock()
	if len(ds) == 0 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return ds, nil
}

func (s *stalled) Pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queued) > 0
}

// A receive whose idle timeout passes while datagrams wait in the socket's
// buffer reads them before it ends.
func TestReceiveDrainsBeforeIdleEnd(t *testing.T) {
	src := &stalled{queued: batch(5, 0, 64), release: make(chan struct{})}
	time.AfterFunc(300*time.Millisecond, func() { close(src.release) }) // the stall ends after the timeout
	var mu sync.Mutex
	got := 0
	err := stream.Receive(context.Background(), []stream.Source{src}, stream.RecvConfig{Timeout: 100 * time.Millisecond}, &mu,
		func(ds []sock.Datagram) bool { got += len(ds); return false })
	if err != nil || got != 5 {
		t.Fatalf("read %d of the 5 waiting datagrams (%v)", got, err)
	}
}

// An interface deleted or taken down mid-stream is noticed and told in the
// summary, with when and after how many datagrams; the receive can end once
// every interface is gone. Datagrams the kernel dropped are told too.
func TestSessionLinksAndDrops(t *testing.T) {
	s := newSession(t, stream.SessionConfig{All: []iface.Interface{eth0}, Show: stream.ShowNone})
	start := time.Now()
	s.Begin(start)
	s.Handle(from("10.0.0.1", 2, 64, 0))
	if s.CheckLinks([]iface.Interface{eth0}, start.Add(time.Second)) {
		t.Fatal("gone while eth0 is there")
	}
	down := eth0
	down.Up = false
	if s.CheckLinks([]iface.Interface{down}, start.Add(1500*time.Millisecond)) {
		t.Fatal("gone while eth0 is only down")
	}
	if !s.CheckLinks(nil, start.Add(2*time.Second)) {
		t.Fatal("not gone once eth0 was deleted")
	}
	s.NICs()[0].Drops = 9559
	var b bytes.Buffer
	stream.WriteSummary(&b, s.NICs())
	for _, want := range []string{
		"eth0 went down 1.50s into the receive, after 64 datagrams",
		"eth0 was deleted 2.00s into the receive, after 64 datagrams: nothing more could arrive on it",
		"the kernel dropped 9559 datagrams for eth0 before recv read them: the socket's receive buffer was full",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if notes := s.Notes(); len(notes) != 3 {
		t.Errorf("notes: %q", notes)
	}
}
