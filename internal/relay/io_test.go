package relay

import (
	"log/slog"
	"net/netip"

	"golang.org/x/net/ipv4"
)

// fakeIO is a linkIO without sockets: it keeps a copy of every batch
// written, takes joins and leaves, and reports the memberships it is given.
// The first failFrames writes of frames fail with err.
type fakeIO struct {
	link linkFacts

	frames     [][]ipv4.Message // batches written to peers
	packets    [][]ipv4.Message // batches of IP packets emitted on the LAN
	datagrams  [][]ipv4.Message // batches of `source relay` datagrams
	failFrames int
	err        error
	// discard drops what is written without keeping it (benchmarks).
	discard bool

	joined  map[netip.Addr]bool
	members map[netip.Addr]int
	queries int
}

// newFakeIO is a fakeIO for an interface of the given MTU with the IPv4
// address 10.0.1.10/24.
func newFakeIO(mtu int) *fakeIO {
	f := &fakeIO{joined: map[netip.Addr]bool{}}
	f.link.mtu = mtu
	f.link.addr4 = netip.MustParseAddr("10.0.1.10")
	f.link.bcast4 = netip.MustParseAddr("10.0.1.255")
	return f
}

func (f *fakeIO) facts() *linkFacts { return &f.link }

// keep records a copy of ms (the caller reuses its messages).
func (f *fakeIO) keep(to *[][]ipv4.Message, ms []ipv4.Message) (int, error) {
	if f.discard {
		return len(ms), nil
	}
	cp := make([]ipv4.Message, len(ms))
	for i, m := range ms {
		cp[i] = m
		cp[i].Buffers = make([][]byte, len(m.Buffers))
		for k, b := range m.Buffers {
			cp[i].Buffers[k] = append([]byte(nil), b...)
		}
		cp[i].OOB = append([]byte(nil), m.OOB...)
	}
	*to = append(*to, cp)
	return len(ms), nil
}

func (f *fakeIO) writeFrames(ms []ipv4.Message) (int, error) {
	if f.failFrames > 0 {
		f.failFrames--
		return 0, f.err
	}
	return f.keep(&f.frames, ms)
}

func (f *fakeIO) emitPackets(_ bool, ms []ipv4.Message) (int, error) {
	return f.keep(&f.packets, ms)
}

func (f *fakeIO) emitDatagrams(_ bool, ms []ipv4.Message) (int, error) {
	return f.keep(&f.datagrams, ms)
}

func (f *fakeIO) join(g netip.Addr) error  { f.joined[g] = true; return nil }
func (f *fakeIO) leave(g netip.Addr) error { delete(f.joined, g); return nil }

func (f *fakeIO) memberships() map[netip.Addr]int {
	out := map[netip.Addr]int{}
	for g, n := range f.members {
		out[g] = n
	}
	return out
}

func (f *fakeIO) query(bool, bool, *slog.Logger) { f.queries++ }
