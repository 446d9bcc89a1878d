package relay

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/relay/config"
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/relayframe"
	"golang.org/x/net/bpf"
)

var (
	src6 = netip.MustParseAddrPort("[fd00:40::1]:40000")
	grp6 = netip.MustParseAddrPort("[ff05::1:1]:5001")
)

// withExt6 inserts extension headers of next-header types nh before the
// UDP header of p (an AppendIPv6UDP packet), each 8 bytes long.
func withExt6(p []byte, nh ...byte) []byte {
	out := append([]byte(nil), p[:40]...)
	binary.BigEndian.PutUint16(out[4:], uint16(len(p)-40+8*len(nh)))
	out[6] = nh[0]
	for i := range nh {
		next := byte(17)
		if i+1 < len(nh) {
			next = nh[i+1]
		}
		out = append(out, next, 0, 1, 4, 0, 0, 0, 0) // PadN options
	}
	return append(out, p[40:]...)
}

func TestParseIPv6UDP(t *testing.T) {
	plain := AppendIPv6UDP(nil, src6, grp6, 255, []byte("hello"))
	for _, tt := range []struct {
		name string
		pkt  []byte
		ok   bool
	}{
		{"plain", plain, true},
		{"link padding after", append(slices.Clone(plain), 0, 0, 0, 0, 0, 0), true},
		{"hop-by-hop", withExt6(plain, nextHopByHop), true},
		{"hop-by-hop, destination options", withExt6(plain, nextHopByHop, nextDestOpts), true},
		{"fragment header", withExt6(plain, 44), false},
		{"endless chain", withExt6(plain, bytes.Repeat([]byte{nextDestOpts}, maxExtHeaders+1)...), false},
		{"icmpv6", append(append([]byte(nil), plain[:6]...), append([]byte{58}, plain[7:]...)...), false},
		{"ipv4", AppendIPv4UDP(nil, netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("239.1.1.1:2"), 1, 1, []byte("x")), false},
		{"truncated header", plain[:39], false},
		{"truncated payload", plain[:len(plain)-1], false},
		{"no UDP header", withExt6(plain, nextHopByHop)[:48], false},
	} {
		s, d, hops, payload, err := ParseIPv6UDP(tt.pkt)
		if (err == nil) != tt.ok {
			t.Errorf("%s: error %v, want ok %v", tt.name, err, tt.ok)
			continue
		}
		if tt.ok && (s != src6 || d != grp6 || hops != 255 || string(payload) != "hello") {
			t.Errorf("%s: %s > %s hops %d %q", tt.name, s, d, hops, payload)
		}
	}
}

func TestCaptureFilter6(t *testing.T) {
	vm, err := bpf.NewVM(CaptureFilter6At(0))
	if err != nil {
		t.Fatal(err)
	}
	udp := AppendIPv6UDP(nil, src6, grp6, 1, []byte("x"))
	icmp := slices.Clone(udp)
	icmp[6] = 58
	uni := AppendIPv6UDP(nil, src6, netip.MustParseAddrPort("[fd00:40::2]:7474"), 64, []byte("frame"))
	for _, tt := range []struct {
		name string
		pkt  []byte
		keep bool
	}{
		{"multicast UDP", udp, true},
		{"multicast UDP after hop-by-hop", withExt6(udp, nextHopByHop), true},
		{"ICMPv6 to a group (MLD, neighbour discovery)", icmp, false},
		{"unicast UDP (underlay frames)", uni, false},
		{"short", udp[:20], false},
	} {
		n, err := vm.Run(tt.pkt)
		if (n > 0) != tt.keep {
			t.Errorf("%s: filter returned %d (%v), want keep %v", tt.name, n, err, tt.keep)
		}
	}
}

func TestSegments(t *testing.T) {
	p := bytes.Repeat([]byte("x"), 250)
	for _, tt := range []struct {
		seg  int
		want []int
	}{{0, []int{250}}, {250, []int{250}}, {100, []int{100, 100, 50}}, {1, nil}} {
		var got []int
		for k, s := range segments(p, tt.seg) {
			if k != len(got) {
				t.Fatalf("seg %d: place %d after %d pieces", tt.seg, k, len(got))
			}
			got = append(got, len(s))
		}
		if tt.want != nil && !slices.Equal(got, tt.want) {
			t.Errorf("seg %d: pieces %v, want %v", tt.seg, got, tt.want)
		}
		if tt.seg == 1 && len(got) != 250 {
			t.Errorf("seg 1: %d pieces, want 250", len(got))
		}
	}
}

// TestCaptured6Segmented: an IPv6 send a local sender segmented
// (UDP_SEGMENT), read by the packet capture of an interface without a link
// header before the kernel cut it, reaches the peer as its datagrams, each
// with the original source, port and hop limit; the same packet unsegmented
// is one datagram, and one to a unicast address is none.
func TestCaptured6Segmented(t *testing.T) {
	r, f := meshRelay(t, "group ff05::1:1\n")
	p := r.peers[config.NodeID("b")]
	p.wants[relayframe.Interest{Group: grp6.Addr()}] = true
	r.rebuild()
	payload := make([]byte, 250)
	for i := range payload {
		payload[i] = byte(i)
	}
	// A host's packets: their flow label is the host's, not the relay tag.
	pkt := fromHost6(AppendIPv6UDP(nil, src6, grp6, 7, payload))
	seg := make([]byte, sock.VNetHdrLen)
	seg[1] = 5 // VIRTIO_NET_HDR_GSO_UDP_L4
	binary.NativeEndian.PutUint16(seg[4:], 100)
	w := newSendWork()
	now := time.Now()
	r.capturedFrame6(w, append(seg, pkt...), 0, now)
	r.capturedFrame6(w, append(make([]byte, sock.VNetHdrLen), fromHost6(AppendIPv6UDP(nil, src6, grp6, 7, []byte("whole")))...), 0, now)
	uni := AppendIPv6UDP(nil, src6, netip.MustParseAddrPort("[fd00:40::3]:5001"), 7, []byte("unicast"))
	r.capturedFrame6(w, append(make([]byte, sock.VNetHdrLen), uni...), 0, now)
	r.flush(w)
	var sizes []int
	for _, batch := range f.frames {
		for _, m := range batch {
			for _, fr := range m.Buffers {
				body := openFrame(t, fr)
				for len(body) > 0 {
					rec, rest, err := relayframe.ParseRecord(body)
					if err != nil {
						t.Fatal(err)
					}
					if rec.Src != src6 || rec.Dst != grp6 || rec.TTL != 7 {
						t.Errorf("record %s > %s hops %d, want %s > %s hops 7", rec.Src, rec.Dst, rec.TTL, src6, grp6)
					}
					sizes = append(sizes, len(rec.Payload))
					body = rest
				}
			}
		}
	}
	if want := []int{100, 100, 50, 5}; !slices.Equal(sizes, want) {
		t.Errorf("datagrams of %v bytes carried, want %v", sizes, want)
	}
}

func FuzzParseIPv6UDP(f *testing.F) {
	plain := AppendIPv6UDP(nil, src6, grp6, 255, bytes.Repeat([]byte("z"), 40))
	f.Add(plain)
	f.Add(withExt6(plain, nextHopByHop, nextRouting))
	f.Add(plain[:45])
	f.Fuzz(func(t *testing.T, b []byte) {
		s, d, _, payload, err := ParseIPv6UDP(b)
		if err != nil {
			return
		}
		if !s.Addr().Is6() || !d.Addr().Is6() || len(payload) > len(b)-48 {
			t.Fatalf("%s > %s with %d bytes of payload from %d", s, d, len(payload), len(b))
		}
	})
}
