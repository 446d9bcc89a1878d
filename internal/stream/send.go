package stream

import (
	"context"
	"math"
	"time"

	"github.com/mcasttools/mcast/internal/wire/streamhdr"
)

// SendConfig says what to send and how fast.
type SendConfig struct {
	Count    int           // datagrams to send to each group; 0 sends until ctx ends or Duration passes
	Interval time.Duration // pause between datagrams when Rate is 0
	Duration time.Duration // stop after this long; 0: no limit
	Message  string        // template; %d is the sequence number (not expanded in rate mode)
	// Rate is datagrams per second per group; 0 uses Interval and prints
	// each datagram; +Inf sends as fast as the kernel takes them.
	Rate float64
	// Size is the UDP payload size in bytes; 0 sends the header and the text.
	Size int
	// Raw sends the text alone, without the mcast header (nor end markers).
	Raw bool
	// SenderID goes into every header; TTL is the TTL the sender set.
	SenderID uint32
	TTL      int
}

// Sink is where datagrams go (a *sock.Sender).
type Sink interface {
	Send([]byte) error
	SendSegments(buf []byte, seg int) error
}

// SendResult is what a send achieved.
type SendResult struct {
	Sent     uint64        // datagrams sent to each group
	Bytes    uint64        // payload bytes sent to each group
	Elapsed  time.Duration // from the first datagram to the last
	Segments bool          // UDP segmentation offload was used
}

// Rate is the achieved datagrams per second per group.
func (r SendResult) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// endMarkers is how many end-of-stream datagrams a sender sends, spaced out
// so that a lossy path still lets one through.
const endMarkers = EndMarkers

// EndMarkers is how many end-of-stream datagrams follow a stream with the
// mcast header, so that receivers learn the total even if some are lost.
const EndMarkers = 3

// buildOne encodes one datagram into b[:0].
func buildOne(b []byte, cfg *SendConfig, seq uint64, text []byte, now int64) []byte {
	b = b[:0]
	if !cfg.Raw {
		b = streamhdr.Append(b, streamhdr.Header{TTL: uint8(cfg.TTL), SenderID: cfg.SenderID, Seq: seq, SentNs: now})
	}
	b = append(b, text...)
	for len(b) < cfg.Size {
		b = append(b, 0)
	}
	if cfg.Size > 0 && len(b) > cfg.Size {
		b = b[:cfg.Size]
	}
	return b
}

// Send sends to every sink: in interval mode (Rate 0) one datagram per
// interval, calling sent after each; in rate mode batches paced to Rate.
// With the header on, it ends with end markers that tell receivers how many
// were sent. It returns when done or when ctx ends.
func Send(ctx context.Context, sinks []Sink, cfg SendConfig, sent func(seq int, text string)) (SendResult, error) {
	var res SendResult
	var err error
	if cfg.Rate > 0 {
		res, err = sendRate(ctx, sinks, cfg)
	} else {
		res, err = sendInterval(ctx, sinks, cfg, sent)
	}
	if err == nil && !cfg.Raw && res.Sent > 0 {
		err = sendEnd(ctx, sinks, &cfg, res.Sent)
	}
	return res, err
}

func sendEnd(ctx context.Context, sinks []Sink, cfg *SendConfig, total uint64) error {
	b := streamhdr.Append(nil, streamhdr.Header{Flags: streamhdr.FlagEnd, TTL: uint8(cfg.TTL), SenderID: cfg.SenderID, Seq: total, SentNs: time.Now().UnixNano()})
	for i := range endMarkers {
		if i > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		for _, s := range sinks {
			if err := s.Send(b); err != nil {
				return err
			}
		}
	}
	return nil
}

func sendInterval(ctx context.Context, sinks []Sink, cfg SendConfig, sent func(int, string)) (SendResult, error) {
	var res SendResult
	t := time.NewTicker(max(cfg.Interval, time.Microsecond))
	defer t.Stop()
	var deadline <-chan time.Time
	if cfg.Duration > 0 {
		dt := time.NewTimer(cfg.Duration)
		defer dt.Stop()
		deadline = dt.C
	}
	start := time.Now()
	var buf []byte
	for seq := 0; cfg.Count == 0 || seq < cfg.Count; seq++ {
		if seq > 0 {
			select {
			case <-ctx.Done():
				return res, nil
			case <-deadline:
				return res, nil
			case <-t.C:
			}
		}
		text := Message(cfg.Message, seq)
		buf = buildOne(buf, &cfg, uint64(seq), []byte(text), time.Now().UnixNano())
		for _, s := range sinks {
			if err := s.Send(buf); err != nil {
				return res, err
			}
		}
		res.Sent++
		res.Bytes += uint64(len(buf))
		res.Elapsed = time.Since(start)
		if sent != nil {
			sent(seq, text)
		}
	}
	return res, nil
}

// sendRate paces batches to cfg.Rate with a token bucket: at any moment it
// may have sent Rate × elapsed datagrams, at most MaxSegments at once.
func sendRate(ctx context.Context, sinks []Sink, cfg SendConfig) (SendResult, error) {
	const batch = 64
	size := cfg.Size
	text := []byte(cfg.Message)
	if size == 0 {
		size = len(buildOne(nil, &cfg, 0, text, 0))
	}
	cfg.Size = size
	seg := size
	maxBatch := batch
	if seg*maxBatch > 65000 {
		maxBatch = max(1, 65000/seg)
	}
	buf := make([]byte, maxBatch*seg)
	one := make([]byte, 0, seg)
	// Fill the payload part once; each batch rewrites only the headers.
	for i := range maxBatch {
		copy(buf[i*seg:(i+1)*seg], buildOne(one, &cfg, 0, text, 0))
	}
	unlimited := math.IsInf(cfg.Rate, 1)
	var res SendResult
	start := time.Now()
	var stopAt time.Time
	if cfg.Duration > 0 {
		stopAt = start.Add(cfg.Duration)
	}
	done := ctx.Done()
	var seq uint64
	for iter := 0; ; iter++ {
		if iter&15 == 0 {
			select {
			case <-done:
				return finish(res, start, sinks), nil
			default:
			}
		}
		now := time.Now()
		if !stopAt.IsZero() && !now.Before(stopAt) {
			break
		}
		n := maxBatch
		if !unlimited {
			due := int64(cfg.Rate*now.Sub(start).Seconds()) + 1 - int64(seq)
			if due <= 0 {
				next := start.Add(time.Duration(float64(seq) / cfg.Rate * 1e9))
				if !stopAt.IsZero() && next.After(stopAt) {
					next = stopAt
				}
				t := time.NewTimer(time.Until(next))
				select {
				case <-done:
					t.Stop()
					return finish(res, start, sinks), nil
				case <-t.C:
				}
				continue
			}
			n = int(min(int64(n), due))
		}
		if cfg.Count > 0 {
			n = min(n, cfg.Count-int(seq))
		}
		if n <= 0 {
			break
		}
		if !cfg.Raw {
			ns := now.UnixNano()
			for i := range n {
				streamhdr.Put(buf[i*seg:], streamhdr.Header{TTL: uint8(cfg.TTL), SenderID: cfg.SenderID, Seq: seq + uint64(i), SentNs: ns})
			}
		}
		for _, s := range sinks {
			if err := s.SendSegments(buf[:n*seg], seg); err != nil {
				return finish(res, start, sinks), err
			}
		}
		seq += uint64(n)
		res.Sent = seq
		res.Bytes = seq * uint64(seg)
	}
	return finish(res, start, sinks), nil
}

func finish(res SendResult, start time.Time, sinks []Sink) SendResult {
	res.Elapsed = time.Since(start)
	if len(sinks) > 0 {
		if s, ok := sinks[0].(interface{ Segmentation() bool }); ok {
			res.Segments = s.Segmentation()
		}
	}
	return res
}
