package capture

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/wire/packet"
)

// udp4 is an IPv4 UDP packet from 10.0.0.3:1000 to 239.1.1.1:5000 carrying
// n bytes, as a UDP_SEGMENT sender's aggregate looks on a packet socket.
func udp4(n int) []byte {
	b := make([]byte, 28+n)
	b[0], b[8], b[9] = 0x45, 1, packet.ProtoUDP
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	copy(b[12:], []byte{10, 0, 0, 3, 239, 1, 1, 1})
	binary.BigEndian.PutUint16(b[20:], 1000)
	binary.BigEndian.PutUint16(b[22:], 5000)
	binary.BigEndian.PutUint16(b[24:], uint16(8+n))
	return b
}

func TestFrames(t *testing.T) {
	now := time.Unix(1000, 0)
	mac := []byte{2, 0, 0, 0, 0, 1}
	tests := []struct {
		name     string
		info     sock.PacketInfo
		ip       []byte
		payloads []int
		origLen  []int
	}{
		{"one datagram", sock.PacketInfo{Pkttype: 2, Hatype: 1, Addr: mac, Len: 128}, udp4(100), []int{100}, []int{16 + 128}},
		{"aggregate of three", sock.PacketInfo{Pkttype: 4, Hatype: 1, Addr: mac, Len: 328, GSOSize: 100}, udp4(300), []int{100, 100, 100}, []int{144, 144, 144}},
		{"aggregate cut short stays whole", sock.PacketInfo{Pkttype: 4, Hatype: 1, Addr: mac, Len: 1000, GSOSize: 100}, udp4(300), []int{300}, []int{1016}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := frames(now, "eth0", tt.info, tt.ip)
			if len(fs) != len(tt.payloads) {
				t.Fatalf("%d frames, want %d", len(fs), len(tt.payloads))
			}
			for i, f := range fs {
				p, err := packet.DecodeFrame(f)
				if err != nil || p.UDP == nil || p.UDP.Len != tt.payloads[i] || f.OrigLen != tt.origLen[i] {
					t.Fatalf("frame %d: %+v %v, OrigLen %d", i, p, err, f.OrigLen)
				}
				if f.Time != now || f.Iface != "eth0" || f.Outgoing() != (tt.info.Pkttype == 4) || string(f.Data[6:12]) != string(mac) {
					t.Errorf("frame %d: %+v", i, f)
				}
			}
		})
	}
}
