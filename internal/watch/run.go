package watch

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Options are what Run needs besides the source and the state.
type Options struct {
	// Emit receives every event, in order.
	Emit func(Event)
	// Write, when set, receives every captured frame (--write).
	Write *pcap.Writer
	// Live makes Run tick on the wall clock every TickEvery and refresh the
	// host's joined groups with Joined. Offline, Run ticks on the packets'
	// timestamps and does not check local joins.
	Live      bool
	TickEvery time.Duration
	Joined    func() (map[string]map[netip.Addr]bool, error)
	// Status, when set, is called live every StatusEvery from Run's
	// goroutine (so it may read st), for a terminal's status line.
	Status      func(now time.Time, st *State)
	StatusEvery time.Duration
	// Now is the live clock (time.Now when nil).
	Now func() time.Time
}

// Run feeds frames from src through st until the source ends (io.EOF, a
// nil return) or ctx is done (also nil), or the source fails. With
// Config.ReportInterval set it also emits the per-group data rates: live
// every interval on the wall clock, offline at interval boundaries of the
// packets' timestamps; and once more at the end for the last interval.
func Run(ctx context.Context, src Source, st *State, o Options) error {
	if o.Emit == nil {
		o.Emit = func(Event) {}
	}
	if !o.Live {
		var last time.Time
		for {
			f, err := src.Next(ctx)
			if errors.Is(err, io.EOF) || (err != nil && ctx.Err() != nil) {
				emitAll(o.Emit, st.Report(last))
				return nil
			}
			if err != nil {
				emitAll(o.Emit, st.Report(last))
				return err
			}
			last = f.Time
			emitAll(o.Emit, st.Tick(f.Time))
			emitAll(o.Emit, st.ReportsUntil(f.Time))
			if err := handle(f, st, o); err != nil {
				return err
			}
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.TickEvery <= 0 {
		o.TickEvery = time.Second
	}
	refresh := func() {
		if o.Joined == nil {
			return
		}
		if j, err := o.Joined(); err == nil {
			st.SetJoined(j)
		}
	}
	refresh()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Frames cross from the reading goroutine in batches (what a live
	// capture has ready at once), so that a fast stream costs one channel
	// send per batch, not per datagram.
	frames := make(chan []packet.Frame, 64)
	errc := make(chan error, 1)
	go func() {
		for {
			b, err := nextBatch(ctx, src)
			if err != nil {
				errc <- err
				return
			}
			select {
			case frames <- b:
			case <-ctx.Done():
				errc <- ctx.Err()
				return
			}
		}
	}()
	tick := time.NewTicker(o.TickEvery)
	defer tick.Stop()
	var statusC <-chan time.Time
	if o.Status != nil && o.StatusEvery > 0 {
		t := time.NewTicker(o.StatusEvery)
		defer t.Stop()
		statusC = t.C
	}
	var reportC <-chan time.Time
	if iv := st.cfg.ReportInterval; iv > 0 {
		st.BeginReports(o.Now())
		rt := time.NewTicker(iv)
		defer rt.Stop()
		reportC = rt.C
	}
	for {
		select {
		case b := <-frames:
			for _, f := range b {
				if err := handle(f, st, o); err != nil {
					return err
				}
			}
		case <-tick.C:
			refresh()
			emitAll(o.Emit, st.Tick(o.Now()))
			emitAll(o.Emit, captureDrops(src, st, o.Now()))
		case <-reportC:
			emitAll(o.Emit, st.Report(o.Now()))
		case <-statusC:
			o.Status(o.Now(), st)
		case err := <-errc:
			// Drain what was captured before the end.
			for len(frames) > 0 {
				for _, f := range <-frames {
					if herr := handle(f, st, o); herr != nil {
						return herr
					}
				}
			}
			emitAll(o.Emit, captureDrops(src, st, o.Now()))
			emitAll(o.Emit, st.Report(o.Now()))
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// maxBatch bounds the frames handed over at once.
const maxBatch = 1024

// nextBatch reads the next frames of src: all a BatchSource has ready (at
// least one), or one.
func nextBatch(ctx context.Context, src Source) ([]packet.Frame, error) {
	if bs, ok := src.(BatchSource); ok {
		return bs.NextBatch(ctx, maxBatch)
	}
	f, err := src.Next(ctx)
	if err != nil {
		return nil, err
	}
	return []packet.Frame{f}, nil
}

// captureDrops passes a live source's drop count to the state.
func captureDrops(src Source, st *State, now time.Time) []Event {
	dc, ok := src.(DropCounter)
	if !ok {
		return nil
	}
	n, err := dc.Drops()
	if err != nil {
		return nil
	}
	return st.CaptureDrops(n, now)
}

func handle(f packet.Frame, st *State, o Options) error {
	if o.Write != nil {
		if err := o.Write.Write(f.Time, f.Data, f.OrigLen); err != nil {
			return err
		}
	}
	p, err := igmp.DecodeFrame(f)
	if err != nil {
		if !errors.Is(err, packet.ErrNotIP) {
			st.Drop(err)
		}
		return nil
	}
	emitAll(o.Emit, st.Packet(Packet{Time: f.Time, Iface: f.Iface, Outgoing: f.Outgoing(), Packet: p}))
	return nil
}

func emitAll(emit func(Event), evs []Event) {
	for _, e := range evs {
		emit(e)
	}
}
