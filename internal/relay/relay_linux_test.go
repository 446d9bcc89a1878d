package relay

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func groCmsg(level, typ int32, v uint32) []byte {
	b := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], v)
	return b
}

func TestGROSize(t *testing.T) {
	other := groCmsg(unix.IPPROTO_IP, unix.IP_TTL, 64)
	tests := []struct {
		name string
		oob  []byte
		want int
	}{
		{"none", nil, 0},
		{"gro", groCmsg(unix.IPPROTO_UDP, unix.UDP_GRO, 1460), 1460},
		{"after another", append(append([]byte{}, other...), groCmsg(unix.IPPROTO_UDP, unix.UDP_GRO, 92)...), 92},
		{"other only", other, 0},
		{"truncated", groCmsg(unix.IPPROTO_UDP, unix.UDP_GRO, 1460)[:10], 0},
	}
	for _, tt := range tests {
		if got := groSize(tt.oob); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestSegmentSizeCmsg(t *testing.T) {
	b := appendSegmentSize(nil, 1460)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	if h.Level != unix.IPPROTO_UDP || h.Type != unix.UDP_SEGMENT || int(h.Len) != unix.CmsgLen(2) || len(b) != segmentOOBLen {
		t.Fatalf("header %+v, %d bytes", *h, len(b))
	}
	if got := binary.NativeEndian.Uint16(b[unix.CmsgLen(0):]); got != 1460 {
		t.Fatalf("size %d", got)
	}
}
