package relay

import (
	"context"
	"errors"
	"github.com/mcasttools/mcast/internal/wire/packet"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/igmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Run opens the relay's sockets and carries datagrams until ctx ends.
// When the LAN interface vanishes (deleted, or replaced by another of its
// name), the relay closes its sockets, counts it, and opens them again once
// the interface is back; meanwhile it carries nothing and its peers see it
// down. An interface marked `wait` is served while it is up (wait.go): the
// relay starts without it, and when it appears or goes the relay opens its
// sockets again over the interfaces that are up.
func (r *Relay) Run(ctx context.Context) error {
	cfg := r.config()
	links, absent, err := openServed(ctx, cfg)
	if err != nil && !errors.Is(err, errNoneUp) {
		return err
	}
	// Before the admin socket answers: status tells what is missing at once.
	r.stats.downIfaces.Store(&absent)
	r.stats.interfaceDown.Store(links == nil)
	srv, err := startServers(ctx, r, cfg)
	if err != nil {
		closeAll(links)
		return err
	}
	defer srv.close()
	if f := r.fleet; f != nil {
		if err := f.start(ctx); err != nil {
			closeAll(links)
			return err
		}
		r.fleetP.Store(f)
		defer f.stop()
	}
	r.log.Info("relay started", "node", cfg.Node, "listen", cfg.Listen.String(), "interface", strings.Join(ifaceNames(cfg), ","),
		"peers", len(cfg.Peers), "source", string(cfg.Source), "admin", cfg.Admin, "metrics", cfg.Metrics)
	if r.ready != nil {
		r.ready()
	}
	r.warnOpen()
	if len(absent) > 0 {
		r.log.Warn("interface missing or down: not served until it is up", "interface", strings.Join(absent, ","))
	}
	for ctx.Err() == nil {
		r.stats.downIfaces.Store(&absent)
		if links == nil {
			r.stats.interfaceDown.Store(true)
			if links, absent = r.reopen(ctx); links == nil {
				break
			}
			r.stats.downIfaces.Store(&absent)
			r.stats.interfaceDown.Store(false)
			r.log.Info("interface back: carrying again", "interface", strings.Join(linkNames(links), ","), "index", links[0].ifi.Index)
		}
		served := linkNames(links)
		r.setIOOn(served, links[0], linkIOs(links[1:])...)
		why := r.carry(ctx, links)
		gone := goneIfaces(links)
		closeAll(links)
		if why == carryStopped {
			break
		}
		r.offline()
		links, absent, err = openServed(ctx, r.config()) // failing, reopen waits
		switch {
		case why == carryAppeared && err == nil:
			r.log.Info("interface up: serving it too", "serving", strings.Join(linkNames(links), ","))
		case why == carryAppeared:
			r.log.Warn("interface up, but opening the sockets failed: carrying nothing until they open", "err", err)
		case len(gone) == 0: // back already, under a new index
			r.stats.interfaceLost.Add(1)
			r.log.Warn("interface gone", "interface", strings.Join(served, ","))
		case links != nil:
			r.stats.interfaceLost.Add(1)
			r.log.Warn("interface gone: serving the others until it is back", "interface", strings.Join(gone, ","), "serving", strings.Join(linkNames(links), ","))
		default:
			r.stats.interfaceLost.Add(1)
			r.log.Warn("interface gone: carrying nothing until it is back", "interface", strings.Join(gone, ","))
		}
	}
	r.log.Info("relay stopped")
	return nil
}

// ifaceCheckEvery is how often a running relay checks that its LAN
// interface is still the one its sockets are bound to.
const ifaceCheckEvery = time.Second

// Why carry returned.
const (
	carryStopped  = iota // ctx ended
	carryLost            // an interface served vanished
	carryAppeared        // an interface marked wait, not served, is up
)

// carry runs the relay's loops on the sockets of its interfaces until ctx
// ends, one of the interfaces vanishes, or one marked wait appears.
func (r *Relay) carry(ctx context.Context, links []*osIO) (why int) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, o := range links {
		if o.ue4 != nil && r.config().Source == config.SourceRelay {
			r.log.Info("re-emitting from the relay's own address", "from", o.link.src4.String(), "udp_segment", o.link.emitGSO.Load())
		}
		loop := func(f func(context.Context, *osIO)) {
			wg.Add(1)
			go func() { defer wg.Done(); f(sctx, o) }()
		}
		if o.idx == 0 {
			loop(r.underlayLoop)
		}
		loop(r.membershipLoop)
		if o.capPkt != nil {
			loop(r.capture4Loop)
		} else {
			loop(r.capture4RawLoop)
		}
		switch {
		case o.capPkt6 != nil:
			loop(r.capture6PacketLoop)
		case o.cap6 != nil:
			loop(r.capture6Loop)
		}
	}
	r.tick(sctx, time.Now(), true)
	wg.Add(1)
	go func() { defer wg.Done(); r.tickLoop(sctx) }()

	t := time.NewTicker(ifaceCheckEvery)
	served := linkNames(links)
	for why == carryStopped && sctx.Err() == nil {
		select {
		case <-sctx.Done():
		case <-t.C:
			why = r.linksChanged(links, served)
		case <-r.ifaceCheck:
			why = r.linksChanged(links, served)
		}
	}
	t.Stop()
	cancel()
	// The blocking reads (underlay, packet capture) see the end within
	// sock.ReadTimeout.
	for _, o := range links {
		o.cap4.Unblock()
		if o.cap6 != nil {
			o.cap6.Unblock()
		}
	}
	wg.Wait()
	return why
}

// linksChanged says whether an interface of links is gone (carryLost), or
// one marked wait that links do not serve is up (carryAppeared).
func (r *Relay) linksChanged(links []*osIO, served []string) int {
	switch {
	case anyGone(links):
		return carryLost
	case appeared(r.config(), served, ifaceReady(r.config())):
		return carryAppeared
	}
	return carryStopped
}

// reopen opens the relay's sockets again once the interfaces are back
// (those not marked wait; at least one), trying every reopenEvery; nil when
// ctx ends first. absent names the interfaces marked wait left out.
func (r *Relay) reopen(ctx context.Context) (links []*osIO, absent []string) {
	t := time.NewTicker(reopenEvery)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return nil, nil
		case <-t.C:
		}
		links, absent, err := openServed(ctx, r.config())
		if err == nil {
			return links, absent
		}
		r.stats.downIfaces.Store(&absent)
		if msg := err.Error(); msg != last {
			last = msg
			r.log.Info("waiting for the interface", "err", msg)
		}
	}
}

// reopenEvery is how often a relay whose interface vanished tries to open
// its sockets again.
const reopenEvery = 500 * time.Millisecond

func (r *Relay) tickLoop(ctx context.Context) {
	const every = 200 * time.Millisecond
	t := time.NewTicker(every)
	defer t.Stop()
	lastHello := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			r.mu.Lock()
			ka := r.cfg.Keepalive
			r.mu.Unlock()
			due := now.Sub(lastHello) >= ka
			if due {
				lastHello = now
			}
			r.tick(ctx, now, due)
			r.flushLogs(now)
		case <-r.kick:
			r.tick(ctx, time.Now(), true)
			lastHello = time.Now()
		}
	}
}

// readErr logs a read error and pauses briefly so that a persistent error
// (an interface gone) does not spin.
func (r *Relay) readErr(ctx context.Context, what string, err error) {
	if ctx.Err() != nil {
		return
	}
	r.log.Warn("reading", "socket", what, "err", err)
	select { // the interface may be gone: check now
	case r.ifaceCheck <- struct{}{}:
	default:
	}
	select {
	case <-ctx.Done():
	case <-time.After(100 * time.Millisecond):
	}
}

// membershipLoop hears the IGMP and MLD messages of other hosts on the LAN.
func (r *Relay) membershipLoop(ctx context.Context, o *osIO) {
	buf := make([]byte, 1<<16)
	for ctx.Err() == nil {
		n, info, err := o.members.Read(ctx, buf)
		if err != nil {
			r.readErr(ctx, "membership", err)
			continue
		}
		if info.Outgoing() {
			continue // this host's own: its memberships are in /proc
		}
		p, err := igmp.DecodeIP(buf[:n])
		if err != nil || p.Msg == nil {
			if err != nil && !errors.Is(err, packet.ErrNotIP) {
				r.dropLogged(membershipDrop(err), 0, time.Now(), "an IGMP or MLD message on the LAN refused", netip.AddrPort{}, err)
			}
			continue
		}
		r.onMembership(o.idx, time.Now(), p.Src, p.Msg)
	}
}

// underlayLoop reads frames from peers and feeds them to the emit path.
func (r *Relay) underlayLoop(ctx context.Context, o *osIO) {
	u := o.under
	w := &recvWork{}
	for ctx.Err() == nil {
		n, err := u.ReadBatch()
		if err != nil {
			r.readErr(ctx, "underlay", err)
			continue
		}
		if n == 0 {
			continue
		}
		r.stats.underlayReads.Add(uint64(n))
		now := time.Now()
		for i := 0; i < n; i++ {
			b, from, gro := u.Datagram(i)
			if !from.IsValid() {
				continue
			}
			r.onDatagram(w, from, b, gro, now)
		}
		r.flushEmit(w)
	}
}

// capture4Loop reads IPv4 from the packet capture and feeds it to the
// forward path.
func (r *Relay) capture4Loop(ctx context.Context, o *osIO) {
	r.packetLoop(ctx, o, o.capPkt, "capture4", r.capturedFrame)
}

// capture6PacketLoop reads IPv6 from the packet capture and feeds it to
// the forward path.
func (r *Relay) capture6PacketLoop(ctx context.Context, o *osIO) {
	r.packetLoop(ctx, o, o.capPkt6, "capture6", r.capturedFrame6)
}

// packetLoop reads frames from the packet capture c of o's interface and
// hands each to frame, a batch at a time.
func (r *Relay) packetLoop(ctx context.Context, o *osIO, c *sock.PacketConn, what string, frame func(*sendWork, []byte, int, time.Time)) {
	w := newSendWork()
	w.from = o.idx
	for ctx.Err() == nil {
		n, err := c.ReadBatch()
		if err != nil {
			r.readErr(ctx, what, err)
			continue
		}
		if n == 0 {
			continue
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			frame(w, c.Frame(i), o.linkLen, now)
		}
		r.flush(w)
	}
}

// batchSize is how many datagrams one capture read moves.
const batchSize = 64

func newMsgs(n, size, oob int) []ipv4.Message {
	ms := make([]ipv4.Message, n)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, size)}
		if oob > 0 {
			ms[i].OOB = make([]byte, oob)
		}
	}
	return ms
}

// capture4RawLoop reads IPv4 from the raw socket, on interfaces where no
// packet socket does.
func (r *Relay) capture4RawLoop(ctx context.Context, o *osIO) {
	defer o.cap4.UnblockOnDone(ctx)()
	ms := newMsgs(batchSize, 65536, 0)
	w := newSendWork()
	w.from = o.idx
	for ctx.Err() == nil {
		n, err := o.cap4.ReadBatch(ms)
		if err != nil {
			r.readErr(ctx, "capture4", err)
			continue
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			r.captured4(w, 0, ms[i].Buffers[0][:ms[i].N], now)
		}
		r.flush(w)
	}
}

// capture6Loop reads IPv6 UDP from the raw socket, with its destination
// and hop limit, and feeds it to the forward path.
func (r *Relay) capture6Loop(ctx context.Context, o *osIO) {
	defer o.cap6.UnblockOnDone(ctx)()
	ms := newMsgs(batchSize, 65536, 128)
	w := newSendWork()
	w.from = o.idx
	var cm ipv6.ControlMessage
	for ctx.Err() == nil {
		n, err := o.cap6.ReadBatch(ms)
		if err != nil {
			r.readErr(ctx, "capture6", err)
			continue
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			cm = ipv6.ControlMessage{}
			if err := cm.Parse(ms[i].OOB[:ms[i].NN]); err != nil || cm.Dst == nil {
				continue
			}
			if cm.IfIndex != 0 && cm.IfIndex != o.ifi.Index {
				continue
			}
			d, _ := netip.AddrFromSlice(cm.Dst)
			if !d.IsMulticast() {
				continue
			}
			ia, ok := ms[i].Addr.(*net.IPAddr)
			if !ok {
				continue
			}
			s, _ := netip.AddrFromSlice(ia.IP)
			sport, dport, payload, err := ParseUDP(ms[i].Buffers[0][:ms[i].N])
			if err != nil {
				continue
			}
			hops := cm.HopLimit
			if hops < 0 || hops > 255 {
				hops = 1
			}
			flow := sock.FlowLabel(ms[i].OOB[:ms[i].NN])
			r.onCapturedFlow(w, netip.AddrPortFrom(s, sport), netip.AddrPortFrom(d, dport), 0, flow, uint8(hops), false, payload, now)
		}
		r.flush(w)
	}
}

// anyGone reports whether one of the interfaces of links is gone.
func anyGone(links []*osIO) bool {
	for _, o := range links {
		if o.ifaceGone() {
			return true
		}
	}
	return false
}

func linkIOs(links []*osIO) []linkIO {
	out := make([]linkIO, len(links))
	for i, o := range links {
		out[i] = o
	}
	return out
}
