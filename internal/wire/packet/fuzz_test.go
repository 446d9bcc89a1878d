package packet_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// labFrames are the Ethernet frames of the lab captures kept with the
// IGMP/MLD decoder, as fuzz seeds.
func labFrames(f *testing.F) [][]byte {
	var out [][]byte
	for _, name := range []string{"../igmp/testdata/lab-v3.pcap", "../igmp/testdata/lab-v2-fallback-querier.pcap"} {
		_, recs, err := pcap.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, r := range recs {
			out = append(out, r.Data)
		}
	}
	return out
}

// checkDecoded checks what holds for every packet a decoder returns
// without error: the payload lies within the input, a later fragment has
// none, and UDP is decoded exactly for a first (or only) UDP fragment.
func checkDecoded(t *testing.T, in []byte, p packet.Packet, err error) {
	t.Helper()
	if err != nil {
		if !errors.Is(err, packet.ErrTruncated) && !errors.Is(err, packet.ErrNotIP) && !errors.Is(err, packet.ErrLinkType) {
			t.Fatalf("error of no known cause: %v", err)
		}
		return
	}
	if !p.Src.IsValid() || !p.Dst.IsValid() || p.Src.Is4() != p.Dst.Is4() {
		t.Fatalf("addresses %v > %v", p.Src, p.Dst)
	}
	if p.Fragment && (p.Payload != nil || p.UDP != nil) {
		t.Fatalf("a later fragment with payload %d bytes, UDP %v", len(p.Payload), p.UDP)
	}
	if len(p.Payload) > len(in) {
		t.Fatalf("payload of %d bytes from %d", len(p.Payload), len(in))
	}
	if want := !p.Fragment && p.Proto == packet.ProtoUDP; (p.UDP != nil) != want {
		t.Fatalf("proto %d fragment %v: UDP %v", p.Proto, p.Fragment, p.UDP)
	}
	if p.UDP != nil && p.UDP.Len != len(p.Payload)-8 {
		t.Fatalf("UDP length %d in a payload of %d bytes", p.UDP.Len, len(p.Payload))
	}
}

// FuzzDecodeEthernet: any bytes as an Ethernet frame, a raw IP packet and a
// Linux cooked record decode to a consistent packet or to an error of a
// known cause, never a panic.
func FuzzDecodeEthernet(f *testing.F) {
	for _, b := range labFrames(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := packet.DecodeEthernet(b)
		checkDecoded(t, b, p, err)
		if err == nil && (len(p.SrcMAC) != 6 || len(p.DstMAC) != 6) {
			t.Fatalf("MAC addresses %v > %v", p.SrcMAC, p.DstMAC)
		}
		p, err = packet.DecodeIP(b)
		checkDecoded(t, b, p, err)
		p, err = packet.DecodeLinuxSLL(b)
		checkDecoded(t, b, p, err)
		p, err = packet.DecodeLinuxSLL2(b)
		checkDecoded(t, b, p, err)
	})
}

// FuzzDecodeSnapped: a raw IP packet whose capture left out missing bytes
// (OrigLen beyond Data) decodes as it would whole when its lengths fit the
// bytes, and otherwise as Truncated with its payload within the input, a
// wire length at least what was captured, or to an error of a known cause.
func FuzzDecodeSnapped(f *testing.F) {
	for _, b := range labFrames(f) {
		f.Add(b[14:], uint16(0))
		f.Add(b[14:min(len(b), 60)], uint16(len(b)-60))
	}
	f.Fuzz(func(t *testing.T, b []byte, missing uint16) {
		p, err := packet.DecodeFrame(packet.Frame{LinkType: pcap.LinkRaw, Data: b, OrigLen: len(b) + int(missing)})
		if err != nil || !p.Truncated {
			if !p.Truncated {
				same(t, "whole", p, err, packet.DecodeIP)(b)
			}
			return
		}
		if missing == 0 || len(p.Payload) > len(b) {
			t.Fatalf("truncated with %d bytes missing: payload %d of %d bytes", missing, len(p.Payload), len(b))
		}
		if p.UDP != nil && p.UDP.Len < len(p.Payload)-8 {
			t.Fatalf("UDP length %d below the %d bytes captured", p.UDP.Len, len(p.Payload)-8)
		}
	})
}

// FuzzDecodeIP: a raw IP packet decodes the same by its version nibble
// (DecodeIP), as the version's decoder (DecodeIPv4, DecodeIPv6), as a frame
// of raw IP, and inside a Linux cooked record that AppendLinuxSLL built.
func FuzzDecodeIP(f *testing.F) {
	for _, b := range labFrames(f) {
		f.Add(b[14:]) // the lab frames carry no VLAN tag
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := packet.DecodeIP(b)
		checkDecoded(t, b, p, err)
		if len(b) > 0 && (b[0]>>4 == 4 || b[0]>>4 == 6) {
			dec := packet.DecodeIPv4
			if b[0]>>4 == 6 {
				dec = packet.DecodeIPv6
			}
			same(t, "by version", p, err, dec)(b)
			orig := bytes.Clone(b)
			sll := packet.AppendLinuxSLL(nil, packet.SLLHeader{Pkttype: 2, Hatype: 1, Addr: []byte{1, 2, 3, 4, 5, 6}}, b)
			if !bytes.Equal(b, orig) || !bytes.Equal(sll[16:], b) {
				t.Fatal("AppendLinuxSLL changed or lost the packet")
			}
			same(t, "in a cooked record", p, err, packet.DecodeLinuxSLL)(sll)
		}
		same(t, "as a raw IP frame", p, err, func(b []byte) (packet.Packet, error) {
			return packet.DecodeFrame(packet.Frame{LinkType: pcap.LinkRaw, Data: b})
		})(b)
	})
}

// same returns a check that dec decodes its input as want, wantErr.
func same(t *testing.T, how string, want packet.Packet, wantErr error, dec func([]byte) (packet.Packet, error)) func([]byte) {
	return func(b []byte) {
		t.Helper()
		got, err := dec(b)
		if (err == nil) != (wantErr == nil) || (err == nil && !equal(got, want)) {
			t.Fatalf("decoded %s: %+v, %v; want %+v, %v", how, got, err, want, wantErr)
		}
	}
}

// equal compares the IP-level facts of two decoded packets.
func equal(a, b packet.Packet) bool {
	return a.Src == b.Src && a.Dst == b.Dst && a.TTL == b.TTL && a.RouterAlert == b.RouterAlert &&
		a.Proto == b.Proto && a.Fragment == b.Fragment && bytes.Equal(a.Payload, b.Payload) &&
		(a.UDP == nil) == (b.UDP == nil) && (a.UDP == nil || *a.UDP == *b.UDP)
}
