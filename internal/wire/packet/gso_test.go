package packet

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

// udpPacket builds an IPv4 or IPv6 UDP packet from src:1000 to dst:5000
// carrying payload, as a GSO aggregate looks (lengths of the whole, UDP
// checksum left as the kernel's partial sum would be: here zero).
func udpPacket(src, dst string, payload []byte) []byte {
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	udp := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(udp[0:], 1000)
	binary.BigEndian.PutUint16(udp[2:], 5000)
	binary.BigEndian.PutUint16(udp[4:], uint16(len(udp)))
	copy(udp[8:], payload)
	if s.Is4() {
		h := make([]byte, 20)
		h[0], h[8], h[9] = 0x45, 1, ProtoUDP
		binary.BigEndian.PutUint16(h[2:], uint16(20+len(udp)))
		binary.BigEndian.PutUint16(h[4:], 0xfffe) // the IDs wrap
		copy(h[12:], s.AsSlice())
		copy(h[16:], d.AsSlice())
		return append(h, udp...)
	}
	h := make([]byte, 40)
	h[0], h[6], h[7] = 0x60, ProtoUDP, 1
	binary.BigEndian.PutUint16(h[4:], uint16(len(udp)))
	copy(h[8:], s.AsSlice())
	copy(h[24:], d.AsSlice())
	return append(h, udp...)
}

func TestSplitUDP(t *testing.T) {
	payload := make([]byte, 250)
	for i := range payload {
		payload[i] = byte(i)
	}
	tests := []struct {
		name     string
		pkt      []byte
		seg      int
		want     []int // payload sizes
		unchange bool
	}{
		{"IPv4 250 bytes by 100", udpPacket("10.0.0.3", "239.1.1.1", payload), 100, []int{100, 100, 50}, false},
		{"IPv6 250 bytes by 125", udpPacket("fd00::3", "ff0e::1", payload), 125, []int{125, 125}, false},
		{"fits in one segment", udpPacket("10.0.0.3", "239.1.1.1", payload), 250, []int{250}, true},
		{"no segment size", udpPacket("10.0.0.3", "239.1.1.1", payload), 0, []int{250}, true},
		{"truncated", udpPacket("10.0.0.3", "239.1.1.1", payload)[:100], 10, nil, true},
		{"not UDP", append([]byte{0x45, 0, 0, 28, 0, 0, 0, 0, 1, 2}, make([]byte, 18)...), 4, nil, true},
		{"garbage", []byte{0x99}, 4, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := bytes.Clone(tt.pkt)
			got := SplitUDP(tt.pkt, tt.seg)
			if tt.unchange {
				if len(got) != 1 || !bytes.Equal(got[0], orig) {
					t.Fatalf("got %d packets, want the packet unchanged", len(got))
				}
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d packets, want %d", len(got), len(tt.want))
			}
			var joined []byte
			for i, b := range got {
				p, err := DecodeIP(b)
				if err != nil || p.UDP == nil || p.UDP.Len != tt.want[i] || p.UDP.SrcPort != 1000 || p.UDP.DstPort != 5000 {
					t.Fatalf("segment %d: %+v %v", i, p, err)
				}
				hlen := 40
				if p.Src.Is4() {
					hlen = 20
					if Checksum(b[:20], 0) != 0 {
						t.Errorf("segment %d: bad IPv4 header checksum", i)
					}
					if id := binary.BigEndian.Uint16(b[4:6]); id != 0xfffe+uint16(i) {
						t.Errorf("segment %d: IP ID %#x", i, id)
					}
				}
				udp := b[hlen:]
				if int(binary.BigEndian.Uint16(udp[4:6])) != len(udp) || Checksum(udp, PseudoSum(p.Src.AsSlice(), p.Dst.AsSlice(), ProtoUDP, len(udp))) != 0 {
					t.Errorf("segment %d: UDP length or checksum wrong", i)
				}
				joined = append(joined, udp[8:]...)
			}
			if !bytes.Equal(joined, payload) {
				t.Errorf("payload not preserved")
			}
		})
	}
}

// FuzzSplitUDP: any bytes and segment size; segments always decode as UDP
// and carry the original payload between them.
func FuzzSplitUDP(f *testing.F) {
	f.Add(udpPacket("10.0.0.3", "239.1.1.1", make([]byte, 300)), uint16(100))
	f.Add(udpPacket("fd00::3", "ff0e::1", make([]byte, 300)), uint16(64))
	f.Add([]byte{0x45}, uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, seg uint16) {
		orig := bytes.Clone(b)
		out := SplitUDP(b, int(seg))
		if !bytes.Equal(b, orig) {
			t.Fatal("input changed")
		}
		if len(out) == 1 {
			return
		}
		for i, s := range out {
			p, err := DecodeIP(s)
			if err != nil || p.UDP == nil || p.UDP.Len > int(seg) || p.UDP.Len == 0 {
				t.Fatalf("segment %d of %d: %+v %v", i, len(out), p, err)
			}
		}
	})
}
