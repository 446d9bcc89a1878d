package stream

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stats"
	"github.com/mcasttools/mcast/internal/wire/streamhdr"
)

// Source is where datagrams come from (a *sock.Listener).
type Source interface {
	ReadBatch(ctx context.Context, b *sock.Batch) ([]sock.Datagram, error)
}

// RecvConfig says how to read and when a receive ends.
type RecvConfig struct {
	Timeout   time.Duration // stop when nothing arrived for this long; 0 = never
	BatchSize int           // datagrams per read (recvmmsg); default 64
	BufSize   int           // bytes per datagram buffer; default 9216 (Session.Run: 65536 with GRO)
}

// Pender is a Source that tells whether datagrams wait in its buffer (a
// *sock.Listener does).
type Pender interface {
	Pending() bool
}

// Receive reads from every source at once, each in its own goroutine, and
// calls got with each batch while holding mu (the caller holds it too when
// it reports). It ends when ctx ends, got returns true, or nothing arrived
// for cfg.Timeout, returning nil in all three cases. Before it ends on the
// timeout it reads what still waits in a source's buffer (a Pender's): after
// a stall longer than the timeout (the process stopped, the machine busy)
// the timeout passes with the buffer full.
func Receive(ctx context.Context, srcs []Source, cfg RecvConfig, mu sync.Locker, got func([]sock.Datagram) (stop bool)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 64
	}
	if cfg.BufSize <= 0 {
		cfg.BufSize = 9216
	}
	errc := make(chan error, len(srcs))
	activity := make(chan struct{}, 1)
	stopc := make(chan struct{})
	var stopOnce sync.Once
	var wg sync.WaitGroup
	for _, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := sock.NewBatch(cfg.BatchSize, cfg.BufSize)
			for {
				ds, err := src.ReadBatch(ctx, b)
				if err != nil {
					if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
						errc <- err
					}
					return
				}
				mu.Lock()
				stop := ctx.Err() == nil && got(ds)
				mu.Unlock()
				if stop {
					stopOnce.Do(func() { close(stopc) })
					return
				}
				select {
				case activity <- struct{}{}:
				default:
				}
			}
		}()
	}
	defer func() { cancel(); wg.Wait() }()
	var idle <-chan time.Time
	var timer *time.Timer
	if cfg.Timeout > 0 {
		timer = time.NewTimer(cfg.Timeout)
		defer timer.Stop()
		idle = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stopc:
			return nil
		case <-idle:
			if pending(srcs) {
				timer.Reset(cfg.Timeout)
				continue
			}
			return nil
		case err := <-errc:
			return err
		case <-activity:
			if timer != nil {
				timer.Reset(cfg.Timeout)
			}
		}
	}
}

// pending reports whether a source has datagrams waiting.
func pending(srcs []Source) bool {
	for _, src := range srcs {
		if p, ok := src.(Pender); ok && p.Pending() {
			return true
		}
	}
	return false
}

// FlowKey names a flow: what one sender run sent to one group, as it arrived
// on one interface.
type FlowKey struct {
	IfIndex  int
	Group    netip.Addr
	Src      netip.Addr
	SenderID uint32
}

// Flow is a flow of datagrams with the mcast header.
type Flow struct {
	FlowKey
	Iface   string
	SrcPort uint16
	stats.Flow
}

// ForeignKey names datagrams without the mcast header from one source to
// one group on one interface.
type ForeignKey struct {
	IfIndex int
	Group   netip.Addr
	Src     netip.Addr
}

// Foreign counts datagrams without the mcast header (iperf2, socat, the
// plain sender and receiver programs), and measures the streams among them
// whose format carries sequence numbers (package foreign): Streams, once
// ConfirmRun datagrams in a row agree.
type Foreign struct {
	ForeignKey
	Iface     string
	Datagrams uint64
	Bytes     uint64
	Malformed uint64 // had the magic but a truncated or inconsistent header
	foreignTrack
}

// Kind says what the Receiver made of a datagram.
type Kind string

// Kinds of datagram.
const (
	KindInOrder   Kind = "in_order"
	KindReordered Kind = "reordered"
	KindDuplicate Kind = "duplicate"
	KindTooLate   Kind = "too_late"
	KindEnd       Kind = "end"
	KindForeign   Kind = "foreign"
	KindMalformed Kind = "malformed"
)

// Event is one datagram as the Receiver classified it.
type Event struct {
	sock.Datagram
	Kind   Kind
	Header streamhdr.Header // when Kind is not foreign or malformed
	Text   []byte           // what follows the header (or the whole payload)
	Flow   *Flow            // for datagrams with a header
	Err    error            // for malformed datagrams
}

// Receiver accounts every datagram into flows. It is not safe for
// concurrent use: Receive's lock serialises it.
type Receiver struct {
	// IfName names an interface index for reports.
	IfName func(index int) string

	flows   map[FlowKey]*Flow
	order   []*Flow
	foreign map[ForeignKey]*Foreign
	forder  []*Foreign
	start   time.Time
	last    *Flow // the flow of the previous datagram: most batches are one flow

	nForeignStreams int // foreign streams recognised, up to MaxForeignStreams
	nRecognising    int // foreign sources with recognition state, up to MaxRecognising
}

// NewReceiver makes an empty Receiver; start is when receiving began.
func NewReceiver(start time.Time, ifName func(int) string) *Receiver {
	return &Receiver{IfName: ifName, flows: map[FlowKey]*Flow{}, foreign: map[ForeignKey]*Foreign{}, start: start}
}

// Add accounts one datagram and returns how it was classified.
func (r *Receiver) Add(d sock.Datagram) Event {
	var ev Event
	r.AddTo(&ev, &d)
	return ev
}

// AddTo accounts one datagram and writes how it was classified into ev, for
// a receive loop that reuses one Event: the hot path copies no datagram and
// allocates nothing once the flow exists.
func (r *Receiver) AddTo(ev *Event, d *sock.Datagram) {
	ev.Datagram, ev.Text, ev.Flow, ev.Err, ev.Header = *d, d.Payload, nil, nil, streamhdr.Header{}
	h, rest, err := streamhdr.Decode(d.Payload)
	if err != nil {
		fk := ForeignKey{d.IfIndex, d.Dst, d.Src.Addr()}
		f := r.foreign[fk]
		if f == nil {
			f = &Foreign{ForeignKey: fk, Iface: r.IfName(d.IfIndex)}
			r.foreign[fk] = f
			r.forder = append(r.forder, f)
		}
		if errors.Is(err, streamhdr.ErrMalformed) {
			f.Malformed++
			ev.Kind, ev.Err = KindMalformed, err
			return
		}
		f.Datagrams++
		f.Bytes += uint64(len(d.Payload))
		r.trackForeign(f, d)
		ev.Kind = KindForeign
		return
	}
	ev.Header, ev.Text = h, rest
	fl := r.last
	// Most datagrams belong to the flow of the one before: compare the
	// cheap fields first, and look the map up only when the flow changes.
	if fl == nil || fl.SenderID != h.SenderID || fl.IfIndex != d.IfIndex || fl.Src != d.Src.Addr() || fl.Group != d.Dst {
		k := FlowKey{d.IfIndex, d.Dst, d.Src.Addr(), h.SenderID}
		fl = r.flows[k]
		if fl == nil {
			fl = &Flow{FlowKey: k, Iface: r.IfName(d.IfIndex), SrcPort: d.Src.Port()}
			r.flows[k] = fl
			r.order = append(r.order, fl)
		}
		r.last = fl
	}
	ev.Flow = fl
	if h.End() {
		fl.Seq.End(h.Seq)
		ev.Kind = KindEnd
		return
	}
	kind := fl.Add(stats.Sample{Seq: h.Seq, SentNs: h.SentNs, ArrivedNs: d.At.UnixNano(), Bytes: len(d.Payload), TTL: d.TTL, SenderTTL: int(h.TTL)})
	switch kind {
	case stats.InOrder:
		ev.Kind = KindInOrder
	case stats.Reordered:
		ev.Kind = KindReordered
	case stats.Duplicate:
		ev.Kind = KindDuplicate
	default:
		ev.Kind = KindTooLate
	}
}

// Flows returns the flows in the order they started.
func (r *Receiver) Flows() []*Flow { return r.order }

// Foreigners returns the foreign sources in the order they appeared.
func (r *Receiver) Foreigners() []*Foreign { return r.forder }

// Totals sums every flow.
func (r *Receiver) Totals() Totals {
	var t Totals
	t.Flows = len(r.order)
	for _, f := range r.order {
		if _, ok := f.Seq.EndKnown(); !ok {
			t.LossUnknown++
		}
		t.Received += f.Seq.Received()
		t.Expected += f.Seq.Expected()
		t.Lost += f.Seq.Lost()
		t.Duplicates += f.Seq.Duplicates()
		t.Reordered += f.Seq.Reordered()
	}
	for _, f := range r.forder {
		t.Foreign += f.Datagrams
		t.Malformed += f.Malformed
	}
	if t.Expected > 0 {
		t.LossPct = 100 * float64(t.Lost) / float64(t.Expected)
	}
	return t
}

// Totals are the sums over every flow.
type Totals struct {
	Received uint64 `json:"received"`
	Expected uint64 `json:"expected"`
	// Lost is what is known to be lost. Of a flow whose end marker did not
	// arrive it counts the gaps up to the highest sequence number seen: the
	// sender's total, and so the loss after it, is unknown.
	Lost uint64 `json:"lost"`
	// Flows is how many flows with the mcast header arrived; LossUnknown
	// how many of them ended without an end marker.
	Flows       int     `json:"flows"`
	LossUnknown int     `json:"loss_unknown_flows"`
	LossPct     float64 `json:"loss_pct"`
	Duplicates  uint64  `json:"duplicates"`
	Reordered   uint64  `json:"reordered"`
	Foreign     uint64  `json:"foreign"`
	Malformed   uint64  `json:"malformed"`
}
