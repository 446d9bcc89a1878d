package stream

import (
	"context"
	"errors"
	"time"

	"github.com/mcasttools/mcast/internal/sock"
)

// SendConfig says what to send and how fast.
type SendConfig struct {
	Count    int           // datagrams to send; 0 sends until ctx ends
	Interval time.Duration // pause between datagrams
	Message  string        // template; %d is the sequence number
}

// Sink is where datagrams go (a *sock.Sender).
type Sink interface{ Send([]byte) error }

// Send sends cfg.Count datagrams, calling sent after each. It returns nil
// when done or when ctx ends.
func Send(ctx context.Context, s Sink, cfg SendConfig, sent func(seq int, text string)) error {
	t := time.NewTicker(max(cfg.Interval, time.Microsecond))
	defer t.Stop()
	for seq := 0; cfg.Count == 0 || seq < cfg.Count; seq++ {
		if seq > 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
		text := Message(cfg.Message, seq)
		if err := s.Send([]byte(text)); err != nil {
			return err
		}
		sent(seq, text)
	}
	return nil
}

// Source is where datagrams come from (a *sock.Listener).
type Source interface {
	Read(ctx context.Context, buf []byte) (sock.Datagram, error)
}

// RecvConfig says when a receive ends.
type RecvConfig struct {
	Count   int           // stop after this many datagrams; 0 = no limit
	Timeout time.Duration // stop when nothing arrived for this long; 0 = never
}

// Receive reads from every source at once and calls got for each datagram,
// one at a time, until ctx ends, cfg.Count datagrams arrived, or nothing
// arrived for cfg.Timeout. It returns nil in all three cases.
func Receive(ctx context.Context, srcs []Source, cfg RecvConfig, got func(sock.Datagram)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		d   sock.Datagram
		err error
	}
	ch := make(chan result)
	for _, src := range srcs {
		go func() {
			buf := make([]byte, 65536)
			for {
				d, err := src.Read(ctx, buf)
				if err == nil {
					d.Payload = append([]byte(nil), d.Payload...)
				}
				select {
				case ch <- result{d, err}:
				case <-ctx.Done():
					return
				}
				if err != nil {
					return
				}
			}
		}()
	}
	var idle <-chan time.Time
	var timer *time.Timer
	if cfg.Timeout > 0 {
		timer = time.NewTimer(cfg.Timeout)
		defer timer.Stop()
		idle = timer.C
	}
	n := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-idle:
			return nil
		case r := <-ch:
			if r.err != nil {
				if errors.Is(r.err, context.Canceled) || ctx.Err() != nil {
					return nil
				}
				return r.err
			}
			got(r.d)
			n++
			if cfg.Count > 0 && n >= cfg.Count {
				return nil
			}
			if timer != nil {
				timer.Reset(cfg.Timeout)
			}
		}
	}
}
