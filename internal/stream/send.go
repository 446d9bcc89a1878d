package stream

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mcasttools/mcast/internal/wire/streamhdr"
)

// SendConfig says what to send and how fast.
type SendConfig struct {
	Count    int           // datagrams to send to each group; 0 sends until ctx ends or Duration passes
	Interval time.Duration // pause between datagrams when Rate is 0
	Duration time.Duration // stop after this long; 0: no limit
	Message  string        // template; every %d becomes the sequence number
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
	// Progress, when set, is kept at the datagrams and payload bytes sent
	// to each group so far, for a live view (updated once per batch).
	Progress *SendProgress
}

// SendProgress is what a send has done so far; another goroutine may read it.
type SendProgress struct {
	Sent  atomic.Uint64
	Bytes atomic.Uint64
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
	b := newRateBatch(&cfg)
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
		n := b.max
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
		bytes := b.fill(&cfg, n, seq, now.UnixNano())
		for _, s := range sinks {
			if err := b.send(s); err != nil {
				return finish(res, start, sinks), err
			}
		}
		seq += uint64(n)
		res.Sent = seq
		res.Bytes += bytes
		if cfg.Progress != nil {
			cfg.Progress.Sent.Store(res.Sent)
			cfg.Progress.Bytes.Store(res.Bytes)
		}
	}
	return finish(res, start, sinks), nil
}

// batchSink is a Sink that sends datagrams of different lengths at once (a
// *sock.Sender does).
type batchSink interface {
	SendBatch(ps [][]byte) (int, error)
}

// rateBatch is the buffer of one rate-mode batch. Datagrams of one length
// lie end to end in buf and go out as segments; with a %d template and no
// --size their lengths differ, and they go out as a batch of datagrams.
type rateBatch struct {
	max     int      // datagrams per batch
	seg     int      // bytes per datagram; 0 when lengths differ
	perSeq  bool     // the text holds %d: rebuilt for every datagram
	text    []byte   // the text, when it is the same in every datagram
	buf     []byte   // the datagrams end to end (seg > 0)
	slots   [][]byte // one buffer per datagram (seg == 0)
	cur     []byte   // what the next send sends (seg > 0)
	curList [][]byte // what the next send sends (seg == 0)
	scratch []byte   // the expanded text of one datagram
}

func newRateBatch(cfg *SendConfig) *rateBatch {
	const batch = 64
	b := &rateBatch{perSeq: strings.Contains(cfg.Message, "%d"), text: []byte(cfg.Message)}
	longest := cfg.Size
	if longest == 0 {
		// The longest text a sequence number makes: 20 digits per %d.
		longest = len(buildOne(nil, cfg, 0, []byte(expandSeq(nil, cfg.Message, math.MaxUint64)), 0))
		if !b.perSeq {
			cfg.Size = longest
		}
	}
	b.max = batch
	if longest*b.max > 65000 {
		b.max = max(1, 65000/longest)
	}
	if cfg.Size > 0 {
		b.seg = cfg.Size
		b.buf = make([]byte, b.max*b.seg)
		one := make([]byte, 0, b.seg)
		// Fill the payload part once; each batch rewrites only the headers
		// (and, with %d, the text).
		for i := range b.max {
			copy(b.buf[i*b.seg:(i+1)*b.seg], buildOne(one, cfg, 0, b.text, 0))
		}
		return b
	}
	b.slots = make([][]byte, b.max)
	for i := range b.slots {
		b.slots[i] = make([]byte, 0, longest)
	}
	b.curList = make([][]byte, 0, b.max)
	return b
}

// fill writes n datagrams numbered from seq and returns their bytes.
func (b *rateBatch) fill(cfg *SendConfig, n int, seq uint64, ns int64) uint64 {
	if b.seg > 0 {
		for i := range n {
			d := b.buf[i*b.seg : (i+1)*b.seg : (i+1)*b.seg]
			if b.perSeq {
				b.scratch = expandSeq(b.scratch[:0], cfg.Message, seq+uint64(i))
				copy(d, buildOne(d[:0], cfg, seq+uint64(i), b.scratch, ns))
			} else if !cfg.Raw {
				streamhdr.Put(d, streamhdr.Header{TTL: uint8(cfg.TTL), SenderID: cfg.SenderID, Seq: seq + uint64(i), SentNs: ns})
			}
		}
		b.cur = b.buf[:n*b.seg]
		return uint64(n * b.seg)
	}
	var bytes uint64
	b.curList = b.curList[:0]
	for i := range n {
		b.scratch = expandSeq(b.scratch[:0], cfg.Message, seq+uint64(i))
		b.slots[i] = buildOne(b.slots[i], cfg, seq+uint64(i), b.scratch, ns)
		b.curList = append(b.curList, b.slots[i])
		bytes += uint64(len(b.slots[i]))
	}
	return bytes
}

// send sends the filled batch to s.
func (b *rateBatch) send(s Sink) error {
	if b.seg > 0 {
		return s.SendSegments(b.cur, b.seg)
	}
	if bs, ok := s.(batchSink); ok {
		_, err := bs.SendBatch(b.curList)
		return err
	}
	for _, p := range b.curList {
		if err := s.Send(p); err != nil {
			return err
		}
	}
	return nil
}

// expandSeq appends template to dst with every %d replaced by seq, as
// Message does, without allocating once dst is large enough.
func expandSeq(dst []byte, template string, seq uint64) []byte {
	for {
		i := strings.Index(template, "%d")
		if i < 0 {
			return append(dst, template...)
		}
		dst = append(dst, template[:i]...)
		dst = strconv.AppendUint(dst, seq, 10)
		template = template[i+2:]
	}
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
