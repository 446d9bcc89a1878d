package relay

import (
	"net"
	"net/netip"

	"github.com/mcasttools/mcast/internal/sock"
	"golang.org/x/net/ipv4"
)

// segRun is a run of consecutive datagrams to one destination with one TTL
// and one payload size, concatenated in buf: one UDP_SEGMENT send.
type segRun struct {
	dst   netip.AddrPort
	ttl   uint8
	size  int // each datagram's payload length
	count int
	buf   []byte
}

// segBatch collects the re-emissions of `source relay` as runs. It keeps
// its buffers between batches, so that a warm batch allocates nothing.
type segBatch struct {
	runs []segRun
	n    int
}

// add appends one datagram. With merge it joins the last run when
// destination, TTL and size agree and the run has room; otherwise (and
// always without merge) it starts a new run.
func (b *segBatch) add(dst netip.AddrPort, ttl uint8, payload []byte, merge bool) {
	if merge && b.n > 0 {
		r := &b.runs[b.n-1]
		if r.dst == dst && r.ttl == ttl && r.size == len(payload) && len(payload) > 0 &&
			r.count < maxSegments && len(r.buf)+len(payload) <= maxSegmented {
			r.buf = append(r.buf, payload...)
			r.count++
			return
		}
	}
	if b.n == len(b.runs) {
		b.runs = append(b.runs, segRun{})
	}
	r := &b.runs[b.n]
	b.n++
	r.dst, r.ttl, r.size, r.count = dst, ttl, len(payload), 1
	r.buf = append(r.buf[:0], payload...)
}

// datagrams is how many datagrams the batch holds.
func (b *segBatch) datagrams() int {
	n := 0
	for _, r := range b.runs[:b.n] {
		n += r.count
	}
	return n
}

// segSender turns runs into messages for WriteBatch: one message per run,
// with a TTL control message and, for runs of more than one datagram, a
// UDP_SEGMENT one. It keeps its messages and addresses between batches.
type segSender struct {
	msgs  []ipv4.Message
	addrs map[netip.AddrPort]*net.UDPAddr
}

func (s *segSender) addr(ap netip.AddrPort) *net.UDPAddr {
	if s.addrs == nil {
		s.addrs = map[netip.AddrPort]*net.UDPAddr{}
	}
	a := s.addrs[ap]
	if a == nil {
		a = net.UDPAddrFromAddrPort(ap)
		s.addrs[ap] = a
	}
	return a
}

func (s *segSender) msg(i int) *ipv4.Message {
	for len(s.msgs) <= i {
		s.msgs = append(s.msgs, ipv4.Message{Buffers: make([][]byte, 1), OOB: make([]byte, 0, 64)})
	}
	return &s.msgs[i]
}

// build makes one message per run (segmented where the run has more than
// one datagram).
func (s *segSender) build(runs []segRun, v6 bool) []ipv4.Message {
	for i := range runs {
		r := &runs[i]
		m := s.msg(i)
		m.Buffers[0] = r.buf
		m.OOB = sock.AppendTTL(m.OOB[:0], v6, r.ttl)
		if r.count > 1 {
			m.OOB = sock.AppendSegmentSize(m.OOB, r.size)
		}
		m.Addr = s.addr(r.dst)
	}
	return s.msgs[:len(runs)]
}

// split makes one message per datagram of r, unsegmented.
func (s *segSender) split(r *segRun, v6 bool) []ipv4.Message {
	for i := 0; i < r.count; i++ {
		m := s.msg(i)
		end := min((i+1)*r.size, len(r.buf))
		m.Buffers[0] = r.buf[i*r.size : end]
		m.OOB = sock.AppendTTL(m.OOB[:0], v6, r.ttl)
		m.Addr = s.addr(r.dst)
	}
	return s.msgs[:r.count]
}
