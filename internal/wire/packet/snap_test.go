package packet_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// A capture taken with tcpdump -s 60 (../../watch/testdata, see the
// README of ../pcapng/testdata) keeps the headers of the 200-byte
// datagrams and their lengths on the wire: each decodes as a Truncated
// UDP datagram of its wire length, not as an error.
func TestDecodeShortSnap(t *testing.T) {
	lt, recs, err := pcap.ReadFile("../../watch/testdata/tcpdump-s60.pcap")
	if err != nil {
		t.Fatal(err)
	}
	udp := 0
	for i, r := range recs {
		f := packet.Frame{LinkType: lt, Data: r.Data, OrigLen: r.OrigLen}
		p, err := packet.DecodeFrame(f)
		if err != nil || p.Proto != packet.ProtoUDP {
			continue
		}
		udp++
		if p.UDP.Len != r.OrigLen-14-20-8 || p.Truncated != (r.OrigLen > len(r.Data)) || len(p.Payload) != len(r.Data)-14-20 {
			t.Errorf("record %d (%d of %d bytes): UDP %+v, truncated %v, payload %d", i, len(r.Data), r.OrigLen, p.UDP, p.Truncated, len(p.Payload))
		}
		// Without the original length it is cut short, as before.
		if _, err := packet.DecodeFrame(packet.Frame{LinkType: lt, Data: r.Data}); p.Truncated && !errors.Is(err, packet.ErrTruncated) {
			t.Errorf("record %d without its original length: %v", i, err)
		}
	}
	if udp != 23 {
		t.Errorf("%d UDP datagrams, want 23", udp)
	}
	// Headers cut short are still an error, whatever the original length.
	if _, err := packet.DecodeFrame(packet.Frame{LinkType: lt, Data: recs[0].Data[:30], OrigLen: 1500}); !errors.Is(err, packet.ErrTruncated) {
		t.Errorf("IPv4 header cut short: %v", err)
	}
}

// A Linux cooked v2 frame (tcpdump or tshark -i any) decodes, and says
// whether this host sent it.
func TestDecodeLinuxSLL2(t *testing.T) {
	ip := []byte{0x45, 0, 0, 28, 0, 0, 0, 0, 1, 17, 0, 0, 10, 0, 0, 3, 239, 1, 1, 1, 0x03, 0xe8, 0x13, 0x88, 0, 8, 0, 0}
	hdr := []byte{0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0}
	f := packet.Frame{LinkType: pcap.LinkLinuxSLL2, Data: append(bytes.Clone(hdr), ip...)}
	p, err := packet.DecodeFrame(f)
	if err != nil || p.UDP == nil || p.UDP.DstPort != 5000 || p.Dst.String() != "239.1.1.1" || !f.Outgoing() {
		t.Fatalf("%+v %v, outgoing %v", p, err, f.Outgoing())
	}
}
