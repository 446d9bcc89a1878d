package relay

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/hostfs"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/packet"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
)

func TestPacketRoundTrip(t *testing.T) {
	src, dst := netip.MustParseAddrPort("10.0.1.10:40000"), netip.MustParseAddrPort("239.1.1.1:28000")
	p := AppendIPv4UDP(nil, src, dst, 0x1234, 1, []byte("message 0"))
	s, d, id, ttl, payload, err := ParseIPv4UDP(p)
	if err != nil || s != src || d != dst || id != 0x1234 || ttl != 1 || string(payload) != "message 0" {
		t.Fatalf("got %v %v %#x %d %q %v", s, d, id, ttl, payload, err)
	}
	// A correct checksum sums to zero over the pseudo header and datagram.
	sum := packet.PseudoSum(src.Addr().AsSlice(), dst.Addr().AsSlice(), 17, len(p)-20)
	if c := packet.Finish(packet.Sum(sum, p[20:])); c != 0 {
		t.Fatalf("UDP checksum does not verify: %#x", c)
	}
	if c := packet.Finish(packet.Sum(0, p[:20])); c != 0 {
		t.Fatalf("IP checksum does not verify: %#x", c)
	}
	src6, dst6 := netip.MustParseAddrPort("[fd00:1::10]:1"), netip.MustParseAddrPort("[ff15::1]:6000")
	p6 := AppendIPv6UDP(nil, src6, dst6, 3, []byte("odd"))
	if sum := packet.PseudoSum(src6.Addr().AsSlice(), dst6.Addr().AsSlice(), 17, len(p6)-40); packet.Finish(packet.Sum(sum, p6[40:])) != 0 {
		t.Fatal("IPv6 UDP checksum does not verify")
	}
	sp, dp, pl, err := ParseUDP(p6[40:])
	if err != nil || sp != 1 || dp != 6000 || string(pl) != "odd" {
		t.Fatalf("ParseUDP: %d %d %q %v", sp, dp, pl, err)
	}
	for _, bad := range [][]byte{nil, p[:27], append([]byte{0x65}, p[1:]...)} {
		if _, _, _, _, _, err := ParseIPv4UDP(bad); err == nil {
			t.Fatalf("accepted %x", bad)
		}
	}
}

func TestParseMembership(t *testing.T) {
	b, _ := os.ReadFile("testdata/igmp")
	v4, err := hostfs.ParseIGMP(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	got := groupUsers(v4, nil, "eth0")
	if len(got) != 2 || got[netip.MustParseAddr("239.1.1.1")] != 2 || got[netip.MustParseAddr("224.0.0.1")] != 1 {
		t.Fatalf("igmp: %v", got)
	}
	b6, _ := os.ReadFile("testdata/igmp6")
	v6, err := hostfs.ParseIGMP6(bytes.NewReader(b6))
	if err != nil {
		t.Fatal(err)
	}
	got6 := groupUsers(nil, v6, "eth0")
	if len(got6) != 2 || got6[netip.MustParseAddr("ff15::1")] != 2 {
		t.Fatalf("igmp6: %v", got6)
	}
}

func TestLocalInterests(t *testing.T) {
	cfg, err := config.Parse(bytes.NewReader([]byte("node a\nlisten 10.0.0.1\ninterface eth0\nkey k\ngroup 239.1.1.1 239.1.1.2 239.9.0.0/16\nbroadcast-port 5000\n")), "c")
	if err != nil {
		t.Fatal(err)
	}
	users := map[netip.Addr]int{
		netip.MustParseAddr("239.1.1.1"): 2, // the relay and a member
		netip.MustParseAddr("239.1.1.2"): 1, // the relay only
		netip.MustParseAddr("239.9.0.5"): 1, // a member, range group, not joined
		netip.MustParseAddr("239.8.0.1"): 3, // not carried
	}
	joined := map[netip.Addr]bool{netip.MustParseAddr("239.1.1.1"): true, netip.MustParseAddr("239.1.1.2"): true}
	got := formatInterests(localInterests(cfg, users, joined, nil))
	want := []string{"239.1.1.1", "239.9.0.5", "broadcast:5000"}
	if len(got) != len(want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v want %v", got, want)
		}
	}
	cfg.Interest = config.InterestAll
	if got := localInterests(cfg, nil, joined, nil); len(got) != 3 {
		t.Fatalf("interest all: %v", formatInterests(got))
	}
}

func TestSeenSet(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := newSeenSet(time.Second, 4, nil)
	if c.TestAndAdd(1, t0) || !c.TestAndAdd(1, t0.Add(time.Millisecond)) {
		t.Fatal("test and add")
	}
	if !c.Has(1, t0.Add(999*time.Millisecond)) {
		t.Fatal("forgot within the span")
	}
	if c.Has(1, t0.Add(1001*time.Millisecond)) {
		t.Fatal("remembered past the span")
	}
	// Keys of one bucket (same high bits): the fifth live one evicts the
	// oldest; an expired slot is reused without eviction.
	key := func(i int) uint64 { return 7<<60 | uint64(i) }
	for i := range seenWays + 1 {
		c.Add(key(i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	if c.evicted != 1 || c.Has(key(0), t0.Add(10*time.Millisecond)) || !c.Has(key(seenWays), t0.Add(10*time.Millisecond)) {
		t.Fatalf("eviction: evicted %d", c.evicted)
	}
	c.Add(key(99), t0.Add(5*time.Second))
	if c.evicted != 1 || !c.Has(key(99), t0.Add(5*time.Second)) {
		t.Fatalf("reuse of expired slots: evicted %d", c.evicted)
	}
}

func TestBucket(t *testing.T) {
	var b bucket
	t0 := time.Unix(0, 0)
	n := 0
	for i := 0; i < 1000; i++ {
		if b.Allow(100, t0) {
			n++
		}
	}
	if n != 11 { // a tenth of a second of burst, plus one
		t.Fatalf("burst allowed %d", n)
	}
	if !b.Allow(100, t0.Add(20*time.Millisecond)) {
		t.Fatal("no token after 20ms at 100/s")
	}
	if !(&bucket{}).Allow(0, t0) {
		t.Fatal("rate 0 must not limit")
	}
}

func TestForwarderStable(t *testing.T) {
	g1, g2 := netip.MustParseAddr("239.1.1.1"), netip.MustParseAddr("239.1.1.2")
	a, b := Forwarder(g1, []uint32{1, 2, 3}), Forwarder(g1, []uint32{3, 1, 2})
	if a != b {
		t.Fatal("election depends on order")
	}
	if Forwarder(g1, []uint32{7}) != 7 {
		t.Fatal("single candidate")
	}
	// Groups spread: over many groups both of two relays win some.
	wins := map[uint32]int{}
	for i := 0; i < 64; i++ {
		wins[Forwarder(netip.AddrFrom4([4]byte{239, 0, 0, byte(i)}), []uint32{10, 20})]++
	}
	if wins[10] == 0 || wins[20] == 0 {
		t.Fatalf("no spread: %v", wins)
	}
	_ = g2
}

func TestSplitReassemble(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789"), 300)
	r := relayframe.Record{Kind: relayframe.KindDatagram, ID: 9, TTL: 1, Src: netip.MustParseAddrPort("10.0.1.10:1"), Dst: netip.MustParseAddrPort("239.1.1.1:2"), Payload: payload}
	frags, ok := split(nil, r, 500)
	if !ok || len(frags) < 7 {
		t.Fatalf("split into %d (%v)", len(frags), ok)
	}
	for _, f := range frags {
		if f.Len() > 500 {
			t.Fatalf("fragment of %d bytes over 500", f.Len())
		}
	}
	a := newReassembler(time.Second, 4)
	now := time.Unix(0, 0)
	var whole relayframe.Record
	var done bool
	for i := len(frags) - 1; i >= 0; i-- { // out of order, with a repeat
		whole, done, _ = a.add(1, &frags[i], now)
		if i == 3 {
			a.add(1, &frags[i], now)
		}
	}
	if !done || !bytes.Equal(whole.Payload, payload) || whole.Kind != relayframe.KindDatagram {
		t.Fatalf("reassembly: done %v, %d bytes", done, len(whole.Payload))
	}
	a.add(1, &frags[0], now)
	if n := a.expire(now.Add(2 * time.Second)); n != 1 {
		t.Fatalf("expired %d", n)
	}
	if _, ok := split(nil, relayframe.Record{Src: r.Src, Dst: r.Dst, Payload: make([]byte, 65000)}, 100); ok {
		t.Fatal("split into more than 255 pieces")
	}
}

func TestContentKey(t *testing.T) {
	seed := maphash.MakeSeed()
	s, d := netip.MustParseAddrPort("10.0.1.10:1"), netip.MustParseAddrPort("255.255.255.255:5000")
	d2 := netip.MustParseAddrPort("10.0.2.255:5000")
	if contentKey(seed, s, d, 1, true, []byte("x")) != contentKey(seed, s, d2, 1, true, []byte("x")) {
		t.Fatal("broadcast keys differ by LAN broadcast address")
	}
	if contentKey(seed, s, d, 1, true, []byte("x")) == contentKey(seed, s, d, 2, true, []byte("x")) {
		t.Fatal("a new transmission (IP ID) has the same key")
	}
}

// FuzzCaptured: what a capture socket reads (a virtio-net header, then an
// IPv4 packet) never panics the decoders, and a decoded payload lies
// inside the packet.
func FuzzCaptured(f *testing.F) {
	pkt := AppendIPv4UDP(nil, netip.MustParseAddrPort("10.0.1.10:40000"), netip.MustParseAddrPort("239.1.1.1:5001"), 7, 1, bytes.Repeat([]byte("x"), 300))
	plain := append(make([]byte, sock.VNetHdrLen), pkt...)
	seg := append([]byte{0, 5, 0, 0, 100, 0, 0, 0, 0, 0}, pkt...)
	f.Add(plain)
	f.Add(seg)
	f.Add(seg[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		n, ok := sock.VNetSegment(b)
		if !ok {
			return
		}
		_, _, _, _, payload, err := ParseIPv4UDP(b[sock.VNetHdrLen:])
		if err != nil {
			return
		}
		if len(payload) > len(b) {
			t.Fatalf("payload of %d bytes from %d", len(payload), len(b))
		}
		pieces := 0
		for n > 0 && len(payload) > 0 {
			payload = payload[min(n, len(payload)):]
			pieces++
		}
		if pieces > 65536 {
			t.Fatalf("%d pieces", pieces)
		}
	})
}

func TestParseIPv4UDPChecksum(t *testing.T) {
	p := AppendIPv4UDP(nil, netip.MustParseAddrPort("10.0.1.10:40000"), netip.MustParseAddrPort("239.1.1.1:5001"), 7, 1, []byte("x"))
	p[8]++ // TTL changed, header checksum not
	if _, _, _, _, _, err := ParseIPv4UDP(p); err == nil {
		t.Fatal("accepted a packet whose IP header checksum is wrong")
	}
}

func TestIPOffset(t *testing.T) {
	eth := func(types ...uint16) []byte {
		b := make([]byte, 12)
		for i, ty := range types {
			b = binary.BigEndian.AppendUint16(b, ty)
			if i < len(types)-1 {
				b = append(b, 0, 1) // the tag's VLAN ID
			}
		}
		return append(b, 0x45)
	}
	for _, tt := range []struct {
		name    string
		frame   []byte
		linkLen int
		off     int
		ok      bool
	}{
		{"no link header", []byte{0x45}, 0, 0, true},
		{"ethernet", eth(0x0800), 14, 14, true},
		{"one tag", eth(0x8100, 0x0800), 14, 18, true},
		{"two tags", eth(0x88a8, 0x8100, 0x0800), 14, 22, true},
		{"three tags", eth(0x8100, 0x8100, 0x8100, 0x0800), 14, 0, false},
		{"ipv6", eth(0x86dd), 14, 0, false},
		{"short", []byte{1, 2, 3}, 14, 0, false},
		{"tag cut short", eth(0x8100)[:14], 14, 0, false},
	} {
		off, ok := ipOffset(tt.frame, tt.linkLen)
		if off != tt.off || ok != tt.ok {
			t.Errorf("%s: %d %v, want %d %v", tt.name, off, ok, tt.off, tt.ok)
		}
	}
	// The IPv6 header, for the IPv6 capture.
	for _, tt := range []struct {
		name  string
		frame []byte
		off   int
		ok    bool
	}{
		{"ethernet", eth(etherIPv6), 14, true},
		{"one tag", eth(0x8100, etherIPv6), 18, true},
		{"ipv4", eth(etherIPv4), 0, false},
	} {
		off, ok := netOffset(tt.frame, 14, etherIPv6)
		if off != tt.off || ok != tt.ok {
			t.Errorf("%s: %d %v, want %d %v", tt.name, off, ok, tt.off, tt.ok)
		}
	}
}

// TestRestartOnly: a reload that changes a setting only a restart applies
// is refused with an error that names it; peers, groups and the rest may
// change.
func TestRestartOnly(t *testing.T) {
	base := "node a\nlisten 10.0.1.10:7474\ninterface eth0\nkey /k\npeer b 10.0.2.10:7474\ngroup 239.1.1.1\n"
	parse := func(extra string) *config.Config {
		c, err := config.Parse(strings.NewReader(base+extra), "test.conf")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	old := parse("")
	if err := restartOnly(old, parse("group 239.1.1.2\npeer c 10.0.3.10:7474\nrate-limit-group 10\n")); err != nil {
		t.Errorf("groups, peers and rates: %v", err)
	}
	for extra, name := range map[string]string{
		"cipher chacha20-poly1305\n": "cipher",
		"source relay 5400\n":        "source relay port",
		"metrics 127.0.0.1:9474\n":   "metrics",
		"admin /run/x.sock\n":        "admin",
	} {
		err := restartOnly(old, parse(extra))
		if err == nil || !strings.HasPrefix(err.Error(), name+" changed from ") {
			t.Errorf("%q: %v, want %s named", extra, err, name)
		}
	}
	for from, to := range map[string]string{"node a": "node z", "listen 10.0.1.10:7474": "listen 10.0.1.11:7474",
		"interface eth0": "interface eth1", "key /k": "key /k2"} {
		c, err := config.Parse(strings.NewReader(strings.Replace(base, from, to, 1)), "test.conf")
		if err != nil {
			t.Fatal(err)
		}
		name := strings.Fields(from)[0]
		if err := restartOnly(old, c); err == nil || !strings.HasPrefix(err.Error(), name+" changed from ") {
			t.Errorf("%s -> %s: %v, want %s named", from, to, err, name)
		}
	}
}
