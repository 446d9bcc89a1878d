package stream

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/origin"
	"github.com/mcasttools/mcast/internal/sock"
)

// LineBurst and LineRate bound how many datagrams a Session shows with
// ShowLines: the first LineBurst at once, then LineRate a second; the rest
// are counted (Session.Hidden).
const (
	LineBurst = 1000
	LineRate  = 200
)

// Show says which datagrams a Session hands to its Display.
type Show int

const (
	// ShowNone hands over nothing: the receive formats nothing and
	// allocates nothing per datagram once flows and sources are known.
	ShowNone Show = iota
	// ShowLines hands over data datagrams (no end markers), at most
	// LineBurst at once and LineRate a second; the rest are counted.
	ShowLines
	// ShowAll hands over every datagram, end markers included.
	ShowAll
)

// Display renders the datagrams a Session shows. The Session calls it with
// its lock held.
type Display interface {
	// Datagram renders one datagram: ev as the Receiver classified it, nic
	// the interface it arrived on and path how it got there. For an end
	// marker (shown only with ShowAll) nic is nil and path means nothing.
	Datagram(ev *Event, nic *NIC, path origin.Path)
}

// SessionConfig says what a Session listens to and what it shows.
type SessionConfig struct {
	// Listen is the template of every socket: Port, Include, Exclude,
	// Broadcast, RcvBuf and GRO. The Session sets Groups and IfIndex.
	Listen  sock.ListenConfig
	Groups  []netip.Addr      // joined on every interface, spread over sockets (none with Broadcast)
	All     []iface.Interface // every interface of the host
	FS      hostfs.FS         // where sysctls are read: hostfs.Host() on a live system
	Count   int               // stop after this many datagrams (0: no limit)
	Show    Show              // which datagrams go to Display
	Display Display           // needed unless Show is ShowNone
}

// Session is one receive: its sockets, the Receiver that accounts flows,
// the per-interface counts by path, and which datagrams are shown. Its
// Handle is the receive hot path.
type Session struct {
	cfg    SessionConfig
	chunks [][]netip.Addr
	rcv    *Receiver
	ls     []*sock.Listener
	lsIf   []int // the interface index of each socket in ls
	srcs   []Source
	nics   map[int]*NIC
	order  []*NIC
	mu     sync.Mutex

	got, hidden int
	tokens      float64
	lastRefill  time.Time
	ev          Event
	lastIf      int
	lastSrc     netip.Addr
	lastNIC     *NIC
	lastPath    origin.Path
	runNIC      *NIC // a run of datagrams of one source and path, counted at once
	runSrc      netip.Addr
	runPath     origin.Path
	runN        int
}

// NewSession makes a Session that listens on no interface yet.
func NewSession(cfg SessionConfig) *Session {
	s := &Session{cfg: cfg, chunks: SplitGroups(cfg.FS, cfg.Groups), nics: map[int]*NIC{}, tokens: LineBurst}
	if cfg.Listen.Broadcast {
		s.chunks = [][]netip.Addr{nil}
	}
	s.rcv = NewReceiver(time.Time{}, func(i int) string { ifc, _ := iface.ByIndex(cfg.All, i); return ifc.Name })
	return s
}

// SplitGroups spreads groups over sockets. The kernel caps the IPv4 groups
// one socket joins (net.ipv4.igmp_max_memberships, read from fs, 20 by
// default): up to 20 always share one socket, more are split by the cap.
// IPv6 has no such cap.
func SplitGroups(fs hostfs.FS, groups []netip.Addr) [][]netip.Addr {
	chunk := len(groups)
	if chunk > 20 && !groups[0].Is6() {
		chunk = 20
		if v, err := fs.SysctlInt("net.ipv4.igmp_max_memberships"); err == nil && v > 0 {
			chunk = v
		}
	}
	var chunks [][]netip.Addr
	for len(groups) > 0 {
		n := min(chunk, len(groups))
		chunks = append(chunks, groups[:n])
		groups = groups[n:]
	}
	return chunks
}

// Listen opens the sockets of one interface, joining every group on it.
// Sockets opened before an error stay with the Session until Close.
func (s *Session) Listen(ctx context.Context, ifc iface.Interface) error {
	for _, gs := range s.chunks {
		lc := s.cfg.Listen
		lc.Groups, lc.IfIndex = gs, ifc.Index
		l, err := lc.Listen(ctx)
		if err != nil {
			return err
		}
		s.ls = append(s.ls, l)
		s.lsIf = append(s.lsIf, ifc.Index)
		s.srcs = append(s.srcs, l)
	}
	s.addNIC(ifc)
	return nil
}

// addNIC starts counting datagrams that arrive on ifc.
func (s *Session) addNIC(ifc iface.Interface) *NIC {
	n := DescribeNIC(s.cfg.FS, ifc, s.cfg.All)
	s.nics[ifc.Index] = n
	s.order = append(s.order, n)
	return n
}

// Begin marks when receiving starts: reports measure time from it. Call it
// once the sockets are open, before Run.
func (s *Session) Begin(start time.Time) {
	s.rcv.start = start
	s.lastRefill = start
}

// Run reads every socket until ctx ends, Count datagrams arrived or nothing
// arrived for rc.Timeout (see Receive). Without rc.BufSize, a socket with
// GRO reads into 64 KiB buffers, the most a coalesced datagram carries.
func (s *Session) Run(ctx context.Context, rc RecvConfig) error {
	if rc.BufSize <= 0 && s.cfg.Listen.GRO {
		rc.BufSize = 65536
	}
	return Receive(ctx, s.srcs, rc, &s.mu, s.Handle)
}

// Close closes every socket.
func (s *Session) Close() error {
	var errs []error
	for _, l := range s.ls {
		errs = append(errs, l.Close())
	}
	return errors.Join(errs...)
}

// Lock holds the Session still while Run goes on: no datagram is accounted
// or shown until Unlock. A caller holds it to report or render.
func (s *Session) Lock() { s.mu.Lock() }

// Unlock lets Run go on.
func (s *Session) Unlock() { s.mu.Unlock() }

// Receiver is the accounting of every flow, for reports and totals.
func (s *Session) Receiver() *Receiver { return s.rcv }

// NICs are the interfaces datagrams were counted on, in the order they were
// listened on or, for one not listened on, first heard.
func (s *Session) NICs() []*NIC { return s.order }

// Hidden is how many datagrams ShowLines did not show.
func (s *Session) Hidden() int { return s.hidden }

// flushRun counts the pending run of datagrams into its NIC.
func (s *Session) flushRun() {
	if s.runN > 0 {
		s.runNIC.CountN(s.runSrc, s.runPath, s.runN)
		s.runN = 0
	}
}

// Handle accounts a batch, classifies each datagram's path on the interface
// it arrived on and hands what is shown to the Display; it returns true once
// Count is reached. Run calls it with the lock held; whoever feeds batches
// otherwise calls it the same way.
func (s *Session) Handle(ds []sock.Datagram) bool {
	defer s.flushRun()
	lines := s.cfg.Show == ShowLines
	if lines {
		now := time.Now()
		s.tokens = min(LineBurst, s.tokens+now.Sub(s.lastRefill).Seconds()*LineRate)
		s.lastRefill = now
	}
	ev := &s.ev
	for i := range ds {
		d := &ds[i]
		s.rcv.AddTo(ev, d)
		if ev.Kind == KindEnd {
			if s.cfg.Show == ShowAll {
				s.cfg.Display.Datagram(ev, nil, origin.Wire)
			}
			continue
		}
		if src := d.Src.Addr(); d.IfIndex != s.lastIf || src != s.lastSrc || s.lastNIC == nil {
			n, ok := s.nics[d.IfIndex]
			arrived, _ := iface.ByIndex(s.cfg.All, d.IfIndex)
			if !ok {
				n = s.addNIC(arrived)
			}
			s.lastIf, s.lastSrc, s.lastNIC = d.IfIndex, src, n
			s.lastPath = origin.Classify(src, arrived, s.cfg.All, n.AcceptsOwn)
		}
		n, path := s.lastNIC, s.lastPath
		if s.runN > 0 && (s.runNIC != n || s.runSrc != s.lastSrc || s.runPath != path) {
			s.flushRun()
		}
		s.runNIC, s.runSrc, s.runPath = n, s.lastSrc, path
		s.runN++
		s.got++
		switch {
		case s.cfg.Show == ShowAll:
			s.cfg.Display.Datagram(ev, n, path)
		case !lines:
		case s.tokens >= 1:
			s.tokens--
			s.cfg.Display.Datagram(ev, n, path)
		default:
			s.hidden++
		}
		if s.cfg.Count > 0 && s.got >= s.cfg.Count {
			return true
		}
	}
	return false
}
