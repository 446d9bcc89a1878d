package relay

// Unicast answers to a search carried between interfaces: an SSDP
// M-SEARCH (or a WS-Discovery probe, an LLMNR query, an mDNS query with
// the unicast-response bit or from a port other than 5353) that the relay
// re-emitted on another interface is answered by unicast to the searcher's
// address and port, which the responder's interface cannot reach when the
// interfaces are not routed. The relay remembers, for a short while, on
// which interface each searcher is and on which interfaces its search was
// re-emitted, and carries the answers from there back to it.

import (
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"slices"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/wire/mdns"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"golang.org/x/net/bpf"
)

// replySpan is how long a searcher's answers are carried after its search
// (SSDP's MX is at most 5 s).
const replySpan = 10 * time.Second

// replySlots bounds the searchers remembered at once.
const replySlots = 1024

// replyTable maps a searcher's address and port to the interface it
// searched from and the interfaces its search was re-emitted on, in a fixed
// array: no allocation per search. A search when every slot is taken by a
// live searcher is counted and not remembered.
type replyTable struct {
	seed  maphash.Seed
	slots [replySlots]replySlot
}

type replySlot struct {
	who   netip.AddrPort
	iface int
	asked uint64 // ifaceBit of each interface the search was re-emitted on
	until int64  // UnixNano; 0: free
}

// ifaceBit is interface i's bit in a set of interfaces; those past the
// 63rd share the last bit.
func ifaceBit(i int) uint64 { return 1 << min(i, 63) }

func newReplyTable() *replyTable { return &replyTable{seed: maphash.MakeSeed()} }

// replyProbe is how many slots from its hash a searcher may take.
const replyProbe = 8

func (t *replyTable) home(who netip.AddrPort) int {
	b := who.Addr().As16()
	var h maphash.Hash
	h.SetSeed(t.seed)
	h.Write(b[:])
	h.WriteByte(byte(who.Port() >> 8))
	h.WriteByte(byte(who.Port()))
	return int(h.Sum64() % replySlots)
}

// add remembers that who searched from interface iface at now, its search
// re-emitted on the interfaces of asked; false when no slot was free. A
// searcher searching again while remembered keeps the interfaces its
// earlier searches were re-emitted on.
func (t *replyTable) add(who netip.AddrPort, iface int, asked uint64, now time.Time) bool {
	i := t.home(who)
	n := now.UnixNano()
	free := -1
	for k := range replyProbe {
		s := &t.slots[(i+k)%replySlots]
		if s.who == who {
			if s.until <= n || s.iface != iface {
				s.asked = 0
			}
			s.iface, s.asked, s.until = iface, s.asked|asked, now.Add(replySpan).UnixNano()
			return true
		}
		if free < 0 && s.until <= n {
			free = (i + k) % replySlots
		}
	}
	if free < 0 {
		return false
	}
	t.slots[free] = replySlot{who: who, iface: iface, asked: asked, until: now.Add(replySpan).UnixNano()}
	return true
}

// lookup is the interface who searched from, if it did within replySpan,
// and the interfaces its searches were re-emitted on.
func (t *replyTable) lookup(who netip.AddrPort, now time.Time) (iface int, asked uint64, ok bool) {
	i := t.home(who)
	n := now.UnixNano()
	for k := range replyProbe {
		s := &t.slots[(i+k)%replySlots]
		if s.who == who && s.until > n {
			return s.iface, s.asked, true
		}
	}
	return 0, 0, false
}

// replyPort reports whether port is one whose searches may be answered by
// unicast in cfg: its services' ports (ssdp, wsd, llmnr; mdns, whose
// queries say whether they are: asksUnicast).
func replyPort(cfg *config.Config, port uint16) bool {
	for _, s := range cfg.Services {
		if s.Port == port {
			return true
		}
	}
	return false
}

// asksUnicast reports whether rec, a datagram to a service's port, is a
// search answered by unicast: any search but mDNS's; an mDNS query from a
// port other than 5353 (a one-shot query, RFC 6762 section 6.7, answered to
// its port) or with the unicast-response bit in a question (section 5.4,
// answered to port 5353).
func asksUnicast(rec *relayframe.Record) bool {
	if rec.Dst.Port() != mdns.Port || (rec.Dst.Addr() != mdns4 && rec.Dst.Addr() != mdns6) {
		return true
	}
	if rec.Src.Port() != mdns.Port {
		return mdns.IsQuery(rec.Payload)
	}
	qu, err := mdns.AsksUnicast(rec.Payload)
	return err == nil && qu
}

// noteSearch remembers that rec, re-emitted on the interfaces of asked,
// came from interface from, when its answers come by unicast. An mDNS
// querier must be on the subnet of the interface it asked from (mDNS is
// link-local, RFC 6762 section 11): a query forged from an address
// elsewhere is carried, its querier not remembered.
func (r *Relay) noteSearch(t *routeTable, rec *relayframe.Record, from int, asked uint64, now time.Time) {
	if rec.Broadcast || !replyPort(t.cfg, rec.Dst.Port()) || !asksUnicast(rec) {
		return
	}
	if rec.Dst.Port() == mdns.Port {
		if n := r.ifs[from].link.net4; n.IsValid() && !n.Contains(rec.Src.Addr()) {
			return
		}
	}
	r.pmu.Lock()
	ok := r.replies.add(rec.Src, from, asked, now)
	r.pmu.Unlock()
	if !ok {
		r.stats.drop(DropReplyTableFull)
	}
}

// onReply handles a unicast datagram captured on interface w.from: an
// answer from a service's port to a searcher the relay carried a search
// from, captured on an interface the search was re-emitted on, is
// re-emitted on the searcher's, from the answerer. An mDNS answer must be
// a DNS response, of the service types `mdns-type` names.
func (r *Relay) onReply(w *sendWork, src, dst netip.AddrPort, ipid uint16, ttl uint8, payload []byte, now time.Time) {
	t := r.table.Load()
	if !replyPort(t.cfg, src.Port()) {
		return
	}
	r.pmu.Lock()
	j, asked, ok := r.replies.lookup(dst, now)
	r.pmu.Unlock()
	if !ok || j == w.from || j >= len(r.ifs) || asked&ifaceBit(w.from) == 0 {
		return
	}
	if src.Port() == mdns.Port && !r.mdnsAnswer(w, t, payload) {
		return
	}
	rec := relayframe.Record{Kind: relayframe.KindDatagram, TTL: ttl, IPID: ipid, Src: src, Dst: dst, Payload: payload}
	ck := contentKey(r.seed, src, dst, ipid, false, payload)
	if w.refl == nil {
		w.refl = &recvWork{}
	}
	if err := r.emit(w.refl.on(j), r.ifs[j].link, t, &rec, ck, now); err != nil {
		r.stats.drop(DropTooBig)
		return
	}
	r.stats.replies.Add(1)
}

// mdnsAnswer reports whether payload, a unicast datagram from port 5353 to
// a querier, is an mDNS answer the relay may carry back: a DNS response,
// naming only the service types `mdns-type` lists (others are counted as
// `service-type` drops).
func (r *Relay) mdnsAnswer(w *sendWork, t *routeTable, payload []byte) bool {
	if !mdns.IsResponse(payload) {
		return false
	}
	if len(t.cfg.MDNSTypes) > 0 {
		if ok, _ := w.mdns.Allowed(payload, t.cfg.MDNSTypes); !ok {
			r.stats.drop(DropServiceType)
			return false
		}
	}
	return true
}

// CaptureFilter4Replies is CaptureFilter4At that also takes unicast UDP
// from one of ports (not a fragment's tail): the answers to searches the
// relay carried, which arrive addressed to a host on another interface.
func CaptureFilter4Replies(bcast netip.Addr, off uint32, ports []uint16) []bpf.Instruction {
	b := uint32(0xffffffff)
	if bcast.Is4() {
		a := bcast.As4()
		b = binary.BigEndian.Uint32(a[:])
	}
	// Jumps name their target (accept or reject) and are patched once
	// the program's length is known.
	const accept, reject = -1, -2
	type ins struct {
		i       bpf.Instruction
		yes, no int // targets of a conditional jump: accept, reject or 0 (next)
	}
	prog := []ins{
		{i: bpf.LoadAbsolute{Off: off + 16, Size: 1}},
		{i: bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf0}},
		{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xe0}, yes: accept},
		{i: bpf.LoadAbsolute{Off: off + 16, Size: 4}},
		{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0xffffffff}, yes: accept},
		{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: b}, yes: accept},
		{i: bpf.LoadAbsolute{Off: off + 9, Size: 1}},
		{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: 17}, no: reject},
		{i: bpf.LoadAbsolute{Off: off + 6, Size: 2}},
		{i: bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x1fff}, yes: reject},
		{i: bpf.LoadMemShift{Off: off}},
		{i: bpf.LoadIndirect{Off: off, Size: 2}},
	}
	for _, p := range ports {
		prog = append(prog, ins{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(p)}, yes: accept})
	}
	rej := len(prog)
	acc := rej + 1
	out := make([]bpf.Instruction, 0, acc+1)
	for k, in := range prog {
		j, ok := in.i.(bpf.JumpIf)
		if !ok {
			out = append(out, in.i)
			continue
		}
		to := func(target int) uint8 {
			switch target {
			case accept:
				return uint8(acc - k - 1)
			case reject:
				return uint8(rej - k - 1)
			}
			return 0
		}
		j.SkipTrue, j.SkipFalse = to(in.yes), to(in.no)
		out = append(out, j)
	}
	return append(out, bpf.RetConstant{Val: 0}, bpf.RetConstant{Val: 0x40000})
}

// replyPorts are the source ports of the unicast answers cfg carries back.
func replyPorts(cfg *config.Config) []uint16 {
	var out []uint16
	for _, s := range cfg.Services {
		if replyPort(cfg, s.Port) && !slices.Contains(out, s.Port) {
			out = append(out, s.Port)
		}
	}
	return out
}
