package sock

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/wire/packet"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// TestFlowLabelCmsg: FlowLabel finds the IPV6_FLOWINFO message among
// others, keeps its 20 label bits (not the traffic class above them),
// and reads nothing from a truncated or absent one.
func TestFlowLabelCmsg(t *testing.T) {
	flow := groCmsg(unix.IPPROTO_IPV6, ipv6FlowInfo, 0)
	binary.BigEndian.PutUint32(flow[unix.CmsgLen(0):], 0x0ab12345) // traffic class 0xab, label 0x12345
	other := groCmsg(unix.IPPROTO_IPV6, unix.IPV6_HOPLIMIT, 64)
	for _, tt := range []struct {
		name string
		oob  []byte
		want uint32
	}{
		{"none", nil, 0},
		{"alone", flow, 0x12345},
		{"after another", append(append([]byte{}, other...), flow...), 0x12345},
		{"other only", other, 0},
		{"IPv4 level", groCmsg(unix.IPPROTO_IP, ipv6FlowInfo, 0x12345), 0},
		{"truncated", flow[:unix.CmsgLen(0)+2], 0},
	} {
		if got := FlowLabel(tt.oob); got != tt.want {
			t.Errorf("%s: %#x, want %#x", tt.name, got, tt.want)
		}
	}
}

// FuzzFlowLabel: any control message bytes read without a panic, and a
// label is 20 bits.
func FuzzFlowLabel(f *testing.F) {
	flow := groCmsg(unix.IPPROTO_IPV6, ipv6FlowInfo, 0)
	binary.BigEndian.PutUint32(flow[unix.CmsgLen(0):], 0xfffff)
	f.Add(flow)
	f.Add(append(groCmsg(unix.IPPROTO_UDP, unix.UDP_GRO, 1400), flow...))
	f.Fuzz(func(t *testing.T, oob []byte) {
		if l := FlowLabel(oob); l > 0xfffff {
			t.Fatalf("label %#x", l)
		}
	})
}

// TestRawFlowLabel: an IPv6 packet sent whole through a raw socket keeps
// the flow label it was built with, and a raw UDP socket opened with
// PacketInfo reads that label (IPV6_FLOWINFO).
func TestRawFlowLabel(t *testing.T) {
	loopback(t)
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	rd, err := OpenRaw(lo, true, "udp", RawOptions{PacketInfo: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	wr, err := OpenRaw(lo, true, "255", RawOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer wr.Close()
	one := netip.IPv6Loopback().As16()
	pkt := binary.BigEndian.AppendUint32(nil, 6<<28|0x12345)
	pkt = append(pkt, 0, 13, 17, 64) // payload length, UDP, hop limit
	pkt = append(pkt, one[:]...)
	pkt = append(pkt, one[:]...)
	pkt = append(pkt, 0xa4, 0x10, 0xa4, 0x11, 0, 13, 0, 0) // ports 42000 > 42001
	pkt = append(pkt, "label"...)
	sum := packet.Finish(packet.Sum(packet.PseudoSum(one[:], one[:], 17, 13), pkt[40:]))
	binary.BigEndian.PutUint16(pkt[46:], sum)
	if err := wr.WriteTo(pkt, netip.IPv6Loopback()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	defer rd.UnblockOnDone(ctx)()
	ms := []ipv4.Message{{Buffers: [][]byte{make([]byte, 1500)}, OOB: make([]byte, 128)}}
	for {
		n, err := rd.ReadBatch(ms)
		if err != nil {
			t.Fatalf("no datagram read: %v", err)
		}
		if n == 1 && ms[0].N == 13 && string(ms[0].Buffers[0][8:13]) == "label" {
			break
		}
	}
	if got := FlowLabel(ms[0].OOB[:ms[0].NN]); got != 0x12345 {
		t.Errorf("flow label %#x read, want 0x12345", got)
	}
}
