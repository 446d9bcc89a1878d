package doctor

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mcasttools/mcast/internal/sock"
)

// liveProbe joins the group on each listening interface, sends spec.Count
// datagrams and collects those of this probe that come back.
func liveProbe(ctx context.Context, spec ProbeSpec) (ProbeOutcome, error) {
	var ls []*sock.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, idx := range spec.ListenIfs {
		l, err := sock.Listen(ctx, spec.Group, spec.Port, idx)
		if err != nil {
			return ProbeOutcome{}, fmt.Errorf("probe: %w", err)
		}
		ls = append(ls, l)
	}
	s, err := sock.Dial(spec.Group, spec.Port, sock.SendOptions{IfIndex: spec.SendIf, Source: spec.Source, TTL: 1})
	if err != nil {
		return ProbeOutcome{}, fmt.Errorf("probe: %w", err)
	}
	defer s.Close()

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	var out ProbeOutcome
	var wg sync.WaitGroup
	prefix := "mcast-doctor probe " + spec.Nonce + " "
	for _, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 2048)
			for {
				d, err := l.Read(rctx, buf)
				if err != nil {
					return
				}
				text := string(d.Payload)
				if !strings.HasPrefix(text, prefix) {
					continue
				}
				seq, _ := strconv.Atoi(strings.TrimPrefix(text, prefix))
				mu.Lock()
				out.Hits = append(out.Hits, ProbeHit{IfIndex: d.IfIndex, Src: d.Src.Addr(), Seq: seq})
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < spec.Count; i++ {
		if err := s.Send([]byte(prefix + strconv.Itoa(i))); err != nil {
			out.SendErr = err.Error()
			break
		}
		out.Sent++
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-time.After(spec.Wait):
	case <-ctx.Done():
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return out, nil
}
