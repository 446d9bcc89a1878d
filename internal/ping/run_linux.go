package ping

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/mcasttools/mcast/internal/sock"
)

// open opens the run's one UDP socket, IPv4 or IPv6 as o.Bind is.
func open(ctx context.Context, o RunOptions) (*sock.Duplex, error) {
	cfg := sock.DuplexConfig{Bind: o.Bind, IfIndex: o.IfIndex, TTL: o.TTL, Broadcast: o.Broadcast}
	for _, j := range o.Joins {
		cfg.Joins = append(cfg.Joins, sock.DuplexJoin{Group: j.Group, Source: j.Source})
	}
	d, err := cfg.Open(ctx)
	if errors.Is(err, syscall.EADDRINUSE) {
		// errors.Unwrap: the bind error without sock's "binding UDP ADDR".
		return nil, fmt.Errorf("binding UDP port %d: in use (is omping or ssmpingd running on this host? pick another --port): %w", o.Bind.Port(), errors.Unwrap(err))
	}
	return d, err
}

// read reads the next datagram into buf and returns it as a Packet of its
// own bytes.
func read(d *sock.Duplex, buf []byte) (Packet, error) {
	dg, err := d.Read(buf)
	if err != nil {
		return Packet{}, err
	}
	return Packet{At: dg.At, Data: append([]byte(nil), dg.Payload...), Peer: dg.Src, Dst: dg.Dst, TTL: dg.TTL}, nil
}

// Run drives m on one socket until m is done (and peers have been quiet
// for o.Wait), o.Timeout passes, or ctx ends. Every event goes to onEvent.
// Send errors (a firewall dropping output, no route) are counted in the
// report, not fatal.
func Run(ctx context.Context, m Machine, o RunOptions, onEvent func(Event)) (Report, error) {
	k, err := open(ctx, o)
	if err != nil {
		return Report{}, err
	}
	defer k.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { k.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	pkts := make(chan Packet, 256)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 65536)
		for {
			pk, err := read(k, buf)
			if err != nil {
				if ctx.Err() == nil {
					readErr <- err
				}
				close(pkts)
				return
			}
			pk.Multicast = pk.Dst.IsMulticast() || pk.Dst == netip.AddrFrom4([4]byte{255, 255, 255, 255}) ||
				(o.BcastAddr.IsValid() && pk.Dst == o.BcastAddr)
			select {
			case pkts <- pk:
			case <-ctx.Done():
				close(pkts)
				return
			}
		}
	}()

	var sendErrs uint64
	var lastSendErr error
	emit := func(out []Packet, ev []Event) {
		for _, e := range ev {
			if o.Monitor != nil {
				o.Monitor.event(e)
			}
			onEvent(e)
		}
		for _, p := range out {
			if err := k.WriteTo(p.Data, p.Src, p.Peer); err != nil {
				sendErrs++
				lastSendErr = err
			}
		}
	}
	start := time.Now()
	m.Start(start)
	var deadline <-chan time.Time
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	var doneAt time.Time
	var runErr error
	scrapes := monitorRequests(o.Monitor)
loop:
	for {
		now := time.Now()
		emit(m.Tick(now))
		next := m.NextTick(now)
		if m.Done() {
			if doneAt.IsZero() {
				doneAt = now
			}
			if waitOver(m, doneAt, now, o.Wait) {
				break
			}
			last := m.LastHeard()
			if doneAt.After(last) {
				last = doneAt
			}
			next = last.Add(o.Wait)
		}
		timer.Reset(max(time.Until(next), 0))
		select {
		case <-ctx.Done():
			break loop
		case <-deadline:
			break loop
		case err := <-readErr:
			runErr = fmt.Errorf("receiving: %w", err)
			break loop
		case pk, ok := <-pkts:
			if !ok {
				break loop
			}
			emit(m.Handle(pk))
		case reply := <-scrapes:
			o.Monitor.serve(reply, m, time.Now())
		case <-timer.C:
		}
	}
	r := m.Report(time.Now())
	r.SendErrors = sendErrs
	if lastSendErr != nil {
		r.LastSendError = lastSendErr.Error()
	}
	return r, runErr
}
