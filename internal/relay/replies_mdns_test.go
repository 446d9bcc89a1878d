package relay

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsMsg is a DNS message: a query for name (with the unicast-response bit
// when qu) or, when resp, an answer giving name an address.
func dnsMsg(t testing.TB, id uint16, name string, qu, resp bool) string {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, Response: resp, Authoritative: resp})
	n := dnsmessage.MustNewName(name)
	if resp {
		b.StartAnswers()
		if err := b.AResource(dnsmessage.ResourceHeader{Name: n, Class: dnsmessage.ClassINET, TTL: 120}, dnsmessage.AResource{A: [4]byte{10, 0, 1, 30}}); err != nil {
			t.Fatal(err)
		}
	} else {
		b.StartQuestions()
		class := dnsmessage.ClassINET
		if qu {
			class |= 0x8000
		}
		if err := b.Question(dnsmessage.Question{Name: n, Type: dnsmessage.TypeA, Class: class}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// answer feeds a unicast datagram from src to dst, captured on interface
// i, to the capture path.
func answer(r *Relay, i int, src, dst string, payload string) {
	w := newSendWork()
	w.from = i
	pkt := AppendIPv4UDP(nil, netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst), 9, 64, []byte(payload))
	r.captured4(w, 0, pkt, time.Now())
	r.flush(w)
}

// TestReflectMDNSUnicastAnswers: a query with the unicast-response bit
// and a one-shot query from another port, captured on lan and re-emitted
// on iot, have their unicast answers from iot carried back to the querier
// on lan, to its port, from the answerer. A plain query's querier, a
// querier that never asked, a datagram that is not a DNS response and an
// answer captured on the querier's own interface get nothing.
func TestReflectMDNSUnicastAnswers(t *testing.T) {
	r, iot, lan := reflector(t, "service mdns\n")
	capture(r, 1, "10.0.2.20:5353", "224.0.0.251:5353", 1, dnsMsg(t, 0, "printer.local.", true, false))
	capture(r, 1, "10.0.2.21:40000", "224.0.0.251:5353", 2, dnsMsg(t, 4711, "printer.local.", false, false))
	capture(r, 1, "10.0.2.22:5353", "224.0.0.251:5353", 3, dnsMsg(t, 0, "printer.local.", false, false))
	if got := emittedTo(iot); len(got) != 3 {
		t.Fatalf("iot got %v, want the three queries", got)
	}
	resp := dnsMsg(t, 0, "printer.local.", false, true)
	answer(r, 0, "10.0.1.30:5353", "10.0.2.20:5353", resp)                                  // QU: carried
	answer(r, 0, "10.0.1.30:5353", "10.0.2.21:40000", resp)                                 // one-shot: carried
	answer(r, 0, "10.0.1.30:5353", "10.0.2.22:5353", resp)                                  // plain query: answered by multicast
	answer(r, 0, "10.0.1.30:5353", "10.0.2.23:5353", resp)                                  // never asked
	answer(r, 0, "10.0.1.30:5353", "10.0.2.20:5353", dnsMsg(t, 0, "x.local.", true, false)) // a query, not an answer
	answer(r, 0, "10.0.1.30:5354", "10.0.2.20:5353", resp)                                  // not from mDNS's port
	answer(r, 1, "10.0.2.30:5353", "10.0.2.20:5353", resp)                                  // on the querier's own interface
	got := emittedTo(lan)
	if len(got) != 2 || got[0] != "10.0.2.20" || got[1] != "10.0.2.21" {
		t.Fatalf("lan got %v, want the answers to 10.0.2.20 and 10.0.2.21 alone", got)
	}
	for k, want := range []string{"10.0.2.20:5353", "10.0.2.21:40000"} {
		src, dst, _, _, payload, err := ParseIPv4UDP(lan.packets[k][0].Buffers[0])
		if err != nil || src.String() != "10.0.1.30:5353" || dst.String() != want || string(payload) != resp {
			t.Errorf("answer %d: %v -> %v (%v), want 10.0.1.30:5353 -> %s", k, src, dst, err, want)
		}
	}
	if st := r.Status(); st.RepliesCarried != 2 {
		t.Errorf("replies carried %d, want 2", st.RepliesCarried)
	}
}

// TestReflectMDNSAnswerFromUnaskedInterface: with three interfaces and
// mDNS allowed from lan to iot only, a querier's answer captured on guest,
// where its query was never re-emitted, is not carried; from iot it is.
func TestReflectMDNSAnswerFromUnaskedInterface(t *testing.T) {
	r := relayFromConf(t, "node r1\nlisten 127.0.0.1:7474\ninterface iot\ninterface lan\ninterface guest\nservice mdns\nallow mdns from lan to iot\n")
	iot, lan, guest := newFakeIO(1500), newFakeIO(1500), newFakeIO(1500)
	lan.link.addr4, lan.link.bcast4 = netip.MustParseAddr("10.0.2.10"), netip.MustParseAddr("10.0.2.255")
	guest.link.addr4, guest.link.bcast4 = netip.MustParseAddr("10.0.3.10"), netip.MustParseAddr("10.0.3.255")
	r.setIO(iot, lan, guest)
	capture(r, 1, "10.0.2.20:5353", "224.0.0.251:5353", 1, dnsMsg(t, 0, "printer.local.", true, false))
	if len(emittedTo(iot)) != 1 || len(emittedTo(guest)) != 0 {
		t.Fatalf("iot got %v, guest %v: want the query on iot alone", emittedTo(iot), emittedTo(guest))
	}
	resp := dnsMsg(t, 0, "printer.local.", false, true)
	answer(r, 2, "10.0.3.30:5353", "10.0.2.20:5353", resp)
	if got := emittedTo(lan); len(got) != 0 {
		t.Fatalf("an answer from guest, never asked, reached lan: %v", got)
	}
	answer(r, 0, "10.0.1.30:5353", "10.0.2.20:5353", resp)
	if got := emittedTo(lan); len(got) != 1 {
		t.Fatalf("lan got %v, want the answer from iot", got)
	}
}

// TestReflectMDNSQueryFlood: QU queries from 20,000 forged sources keep
// the table at its bound: each is remembered or counted as
// reply-table-full, a querier remembered before the flood is still
// answered, and answers to forged sources never asked do not cross.
func TestReflectMDNSQueryFlood(t *testing.T) {
	r, iot, lan := reflector(t, "service mdns\n")
	iot.discard = true
	qu := dnsMsg(t, 0, "printer.local.", true, false)
	capture(r, 1, "10.0.2.20:5353", "224.0.0.251:5353", 1, qu)
	const flood = 20000
	w := newSendWork()
	w.from = 1
	now := time.Now()
	for i := range flood {
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), 5353)
		r.onCaptured(w, src, netip.MustParseAddrPort("224.0.0.251:5353"), uint16(i+2), 255, false, []byte(qu), now)
	}
	r.flush(w)
	live := 0
	for _, s := range r.replies.slots {
		if s.until > now.UnixNano() {
			live++
		}
	}
	full := r.Status().Drops[DropReplyTableFull]
	if live > replySlots || full == 0 || uint64(live)+full != flood+1 {
		t.Errorf("%d remembered, %d counted full, of %d queries", live, full, flood+1)
	}
	resp := dnsMsg(t, 0, "printer.local.", false, true)
	answer(r, 0, "10.0.1.30:5353", "10.0.2.20:5353", resp)
	answer(r, 0, "10.0.1.30:5353", "10.3.0.1:5353", resp)
	if got := emittedTo(lan); len(got) != 1 || got[0] != "10.0.2.20" {
		t.Errorf("lan got %v, want the answer to the querier from before the flood", got)
	}
}

// TestReflectMDNSOffLinkQuerier: a QU query whose source is not on the
// subnet of the interface it came from (forged, or routed there) is
// carried, but its querier is not remembered, so no answer goes back to
// that address; an on-link querier's does.
func TestReflectMDNSOffLinkQuerier(t *testing.T) {
	r, iot, lan := reflector(t, "service mdns\n")
	lan.link.net4 = netip.MustParsePrefix("10.0.2.0/24")
	qu := dnsMsg(t, 0, "printer.local.", true, false)
	capture(r, 1, "192.0.2.7:5353", "224.0.0.251:5353", 1, qu)
	capture(r, 1, "10.0.2.20:5353", "224.0.0.251:5353", 2, qu)
	if got := emittedTo(iot); len(got) != 2 {
		t.Fatalf("iot got %v, want both queries", got)
	}
	resp := dnsMsg(t, 0, "printer.local.", false, true)
	answer(r, 0, "10.0.1.30:5353", "192.0.2.7:5353", resp)
	answer(r, 0, "10.0.1.30:5353", "10.0.2.20:5353", resp)
	if got := emittedTo(lan); len(got) != 1 || got[0] != "10.0.2.20" {
		t.Errorf("lan got %v, want the answer to the on-link querier alone", got)
	}
}

// TestReflectMDNSUnicastAnswerType: with `mdns-type`, a unicast answer to
// a QU querier is carried only when it names the listed types; another is
// counted as a service-type drop.
func TestReflectMDNSUnicastAnswerType(t *testing.T) {
	r, _, lan := reflector(t, "service mdns\nmdns-type _ipp._tcp\n")
	capture(r, 1, "10.0.2.20:5353", "224.0.0.251:5353", 1, dnsMsg(t, 0, "office._ipp._tcp.local.", true, false))
	before := r.Status().Drops[DropServiceType]
	answer(r, 0, "10.0.1.30:5353", "10.0.2.20:5353", dnsMsg(t, 0, "tv._airplay._tcp.local.", false, true))
	answer(r, 0, "10.0.1.30:5353", "10.0.2.20:5353", dnsMsg(t, 0, "office._ipp._tcp.local.", false, true))
	if got := emittedTo(lan); len(got) != 1 {
		t.Errorf("lan got %v, want the _ipp._tcp answer alone", got)
	}
	if n := r.Status().Drops[DropServiceType] - before; n != 1 {
		t.Errorf("%d service-type drops for the answers, want 1", n)
	}
}
