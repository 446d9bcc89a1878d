package relay

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/bpf"
)

func TestReplyTable(t *testing.T) {
	tb := newReplyTable()
	now := time.Now()
	a := netip.MustParseAddrPort("10.0.2.20:40000")
	if !tb.add(a, 1, 1, now) {
		t.Fatal("add refused in an empty table")
	}
	if i, _, ok := tb.lookup(a, now.Add(replySpan/2)); !ok || i != 1 {
		t.Errorf("lookup: %d %v", i, ok)
	}
	if _, _, ok := tb.lookup(a, now.Add(replySpan+time.Millisecond)); ok {
		t.Error("found after its span")
	}
	if _, _, ok := tb.lookup(netip.MustParseAddrPort("10.0.2.20:40001"), now); ok {
		t.Error("found another port")
	}
	// Fill: every searcher is remembered or refused, never another's slot.
	refused := 0
	for i := range 3 * replySlots {
		if !tb.add(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 1900), 0, 2, now) {
			refused++
		}
	}
	if refused == 0 {
		t.Error("a full table refused nothing")
	}
	if i, _, ok := tb.lookup(a, now); !ok || i != 1 {
		t.Errorf("a live searcher was pushed out: %d %v", i, ok)
	}
	if !tb.add(netip.MustParseAddrPort("10.9.9.9:1"), 0, 2, now.Add(2*replySpan)) {
		t.Error("expired slots are not reused")
	}
	if n := testing.AllocsPerRun(100, func() { tb.add(a, 1, 1, now); tb.lookup(a, now) }); n != 0 {
		t.Errorf("%.1f allocations per search", n)
	}
}

func TestCaptureFilter4Replies(t *testing.T) {
	vm, err := bpf.NewVM(CaptureFilter4Replies(netip.MustParseAddr("10.0.1.255"), 0, []uint16{1900, 5355}))
	if err != nil {
		t.Fatal(err)
	}
	udp := func(src, dst string) []byte {
		return AppendIPv4UDP(nil, netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst), 1, 64, []byte("x"))
	}
	tcp := udp("10.0.1.30:1900", "10.0.2.20:40000")
	tcp[9] = 6
	frag := udp("10.0.1.30:1900", "10.0.2.20:40000")
	frag[7] = 1 // a fragment offset: no UDP header here
	for _, tc := range []struct {
		name string
		pkt  []byte
		want bool
	}{
		{"multicast", udp("10.0.1.30:4000", "239.255.255.250:1900"), true},
		{"broadcast", udp("10.0.1.30:4000", "255.255.255.255:9"), true},
		{"subnet broadcast", udp("10.0.1.30:4000", "10.0.1.255:9"), true},
		{"answer from 1900", udp("10.0.1.30:1900", "10.0.2.20:40000"), true},
		{"answer from 5355", udp("10.0.1.30:5355", "10.0.2.20:40000"), true},
		{"other unicast", udp("10.0.1.30:80", "10.0.2.20:40000"), false},
		{"tcp", tcp, false},
		{"fragment", frag, false},
	} {
		n, err := vm.Run(tc.pkt)
		if err != nil || (n > 0) != tc.want {
			t.Errorf("%s: %d %v, want taken %v", tc.name, n, err, tc.want)
		}
	}
}

// TestReflectSSDPReply: an M-SEARCH captured on lan is re-emitted on iot;
// the unicast answer to the searcher, captured on iot, is re-emitted on
// lan to the searcher, from the answerer. An answer to a host that did not
// search is not.
func TestReflectSSDPReply(t *testing.T) {
	r, iot, lan := reflector(t, "service ssdp\n")
	capture(r, 1, "10.0.2.20:40000", "239.255.255.250:1900", 1, "M-SEARCH * HTTP/1.1")
	if got := emittedTo(iot); len(got) != 1 {
		t.Fatalf("iot got %v, want the search", got)
	}
	w := newSendWork()
	for _, to := range []string{"10.0.2.20:40000", "10.0.2.21:40000"} {
		pkt := AppendIPv4UDP(nil, netip.MustParseAddrPort("10.0.1.30:1900"), netip.MustParseAddrPort(to), 2, 64, []byte("HTTP/1.1 200 OK"))
		r.captured4(w, 0, pkt, time.Now())
	}
	r.flush(w)
	got := emittedTo(lan)
	if len(got) != 1 || got[0] != "10.0.2.20" {
		t.Fatalf("lan got %v, want the answer to the searcher alone", got)
	}
	src, dst, _, _, payload, err := ParseIPv4UDP(lan.packets[0][0].Buffers[0])
	if err != nil || src.String() != "10.0.1.30:1900" || dst.String() != "10.0.2.20:40000" || string(payload) != "HTTP/1.1 200 OK" {
		t.Errorf("answer %v -> %v %q (%v)", src, dst, payload, err)
	}
	if st := r.Status(); st.RepliesCarried != 1 || st.Emitted["10.0.2.20"] != 0 {
		t.Errorf("replies carried %d, emitted %v", st.RepliesCarried, st.Emitted)
	}
}
