package foreign_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/foreign"
)

// Test vectors and where they came from.
const (
	// Captured with tcpdump on the receiver of an `mcast lab` (lan, 2
	// nodes): iperf 2.1.8 (Debian 12's iperf) ran `iperf -c 239.1.1.1 -p
	// 5001 -u -T 1 -t 0.3 -b 100K -l 60` on n1; `iperf -s -u -B 239.1.1.1`
	// on n2 reported 0/67. These are the UDP payloads of datagrams 1, 2 and
	// 66 and of the last one (id -67, id2 0xffffffff: 64-bit sequence
	// numbers, flags 0x48010098 with HEADER_SEQNO64B).
	iperfFirst  = "000000016b157b3a0004e027000000004801009800000001000013890000003c00000000ffffffe2000000000000000000000000000200010008000300000000000190000000000000000000"
	iperfSecond = "000000026b157b3a0004f3c0000000004801009800000001000013890000003c00000000ffffffe20000000000000000000000000002000100080003"
	iperf66     = "000000426b157b3a00097558000000004801009800000001000013890000003c00000000ffffffe20000000000000000000000000002000100080003"
	iperfEnd    = "ffffffbd6b157b3a000987baffffffff4801009800000001000013890000003c00000000ffffffe20000000000000000000000000002000100080003"

	// Captured the same way: ssmpingd (Debian 12's ssmping 0.9.1) on n1
	// answering `ssmping -c 4 10.0.0.1` on n2; the replies n1 sent to the
	// SSM group 232.43.211.234, seq 1 and 2, PID 0x9cf.
	ssmReply1 = "4100010004000009cf0002000400000001000300086b157b4f0003d2330004000501e82bd3ea"
	ssmReply2 = "4100010004000009cf0002000400000002000300086b157b5000040d5f0004000501e82bd3ea"

	// Captured the same way: mcjoin 2.12 (built from its source outside
	// this repository; it is not packaged for Debian) ran `mcjoin -s -o -c
	// 10 -f 20 -i eth0 239.1.1.1` on n1, PID 21616: its first and last
	// datagrams, 100 bytes of text and zero padding, count 0 and 9.
	mcjoinFirst = "53656e646572205049442032313631362c204d432067726f7570203233392e312e312e31202e2e2e20636f756e743a20302c20667265713a2032300000000000000000000000000000000000000000000000000000000000000000000000000000000000"
	mcjoinLast  = "53656e646572205049442032313631362c204d432067726f7570203233392e312e312e31202e2e2e20636f756e743a20392c20667265713a2032300000000000000000000000000000000000000000000000000000000000000000000000000000000000"

	// omping 0.0.5's Answer (seq 1) to an mcast ping Query, captured in a
	// lab (the ompingAnswer6 vector of package pingmsg's captured_test.go).
	ompingAnswer = "410000000102000100180 82fa239fd000000000000000000000000000002 6163e722" +
		"0002000400000001000300086b02389500050b0000040012 0002ff3e0000000000000000000043211234" +
		"00090001 40"
)

// mcjoinPayload builds mcjoin's payload as its sender does (mcjoin
// src/sender.c: snprintf of "%s%u, MC group %s ... %s%zu, %s%d" with
// "Sender PID ", "count: " and "freq: ", sent as a 100-byte buffer, so
// zero-padded), as in the captured mcjoinFirst.
func mcjoinPayload(pid, seq int) []byte {
	s := "Sender PID " + itoa(pid) + ", MC group 225.1.2.3 ... count: " + itoa(seq) + ", freq: 100"
	b := make([]byte, 100)
	copy(b, s)
	return b
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// rtpPacket builds an RTP version 2 packet (RFC 3550 5.1): payload type 96,
// the given sequence number, timestamp and SSRC, then 20 bytes of payload.
func rtpPacket(seq uint16, ts, ssrc uint32) []byte {
	b := []byte{0x80, 96, byte(seq >> 8), byte(seq),
		byte(ts >> 24), byte(ts >> 16), byte(ts >> 8), byte(ts),
		byte(ssrc >> 24), byte(ssrc >> 16), byte(ssrc >> 8), byte(ssrc)}
	return append(b, make([]byte, 20)...)
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeVectors(t *testing.T) {
	tests := []struct {
		name   string
		b      []byte
		format foreign.Format
		stream uint64
		seq    uint64
		end    bool
	}{
		{"iperf2 first datagram", unhex(t, iperfFirst), foreign.Iperf2, 0, 0, false},
		{"iperf2 second datagram", unhex(t, iperfSecond), foreign.Iperf2, 0, 1, false},
		{"iperf2 datagram 66", unhex(t, iperf66), foreign.Iperf2, 0, 65, false},
		{"iperf2 last datagram", unhex(t, iperfEnd), foreign.Iperf2, 0, 66, true},
		{"iperf2 2.0 (32-bit id, no flags)", unhex(t, "000000076b157b3a0004e027"), foreign.Iperf2, 0, 6, false},
		{"iperf2 2.0 end", unhex(t, "fffffff96b157b3a0004e027"), foreign.Iperf2, 0, 6, true},
		{"ssmping reply", unhex(t, ssmReply1), foreign.SSMPing, 0x9cf, 1, false},
		{"omping answer", unhex(t, ompingAnswer), foreign.Omping, 0, 1, false},
		{"mcjoin first", unhex(t, mcjoinFirst), foreign.Mcjoin, 21616, 0, false},
		{"mcjoin last", unhex(t, mcjoinLast), foreign.Mcjoin, 21616, 9, false},
		{"mcjoin built", mcjoinPayload(4242, 17), foreign.Mcjoin, 4242, 17, false},
		{"mcjoin without PID", []byte("count: 5\n"), foreign.Mcjoin, 0, 5, false},
		{"rtp", rtpPacket(65535, 160, 0xdeadbeef), foreign.RTP, 0xdeadbeef, 65535, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := foreign.Decode(tt.b)
			if !ok || d.Format != tt.format || d.Seq != tt.seq || d.End != tt.end {
				t.Fatalf("Decode = %+v, %v; want %v seq %d end %v", d, ok, tt.format, tt.seq, tt.end)
			}
			if e, ok := foreign.DecodeAs(tt.format, tt.b); !ok || e != d {
				t.Fatalf("DecodeAs(%v) = %+v, %v; Decode gave %+v", tt.format, e, ok, d)
			}
			if tt.end && d.Sent != tt.seq+1 {
				t.Fatalf("sent %d, want %d", d.Sent, tt.seq+1)
			}
			if tt.stream != 0 && d.Stream != tt.stream {
				t.Fatalf("stream %#x, want %#x", d.Stream, tt.stream)
			}
		})
	}
}

// TestDecodeRefuses feeds datagrams that must not decode as the format
// named (iperf2's header is weak on its own: twelve bytes with a small
// tv_usec fit it, which is why a format is claimed only on a chain of
// datagrams that Follows one another).
func TestDecodeRefuses(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		not  foreign.Format // Unknown: must not decode at all
	}{
		{"empty", nil, foreign.Unknown},
		{"short", []byte{0, 0, 0, 1}, foreign.Unknown},
		{"socat text", []byte("hello socat 1\n"), foreign.Unknown},
		{"usec out of range", unhex(t, "000000016b157b3a000f4240"), foreign.Unknown},
		{"iperf2 id 0", unhex(t, "000000006b157b3a0004e027"), foreign.Unknown},
		{"rtcp receiver report", []byte{0x80, 201, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}, foreign.RTP},
		{"rtp csrc past end", []byte{0x8f, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2}, foreign.RTP},
		{"rtp bad padding", []byte{0xa0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 9}, foreign.RTP},
		{"rtp extension past end", []byte{0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 9}, foreign.RTP},
		{"count without number", []byte("count: x"), foreign.Unknown},
		{"count in binary", append([]byte("count: 1"), 0xff, 0, 0), foreign.Mcjoin},
		{"ssmping request", unhex(t, "51"+ssmReply1[2:]), foreign.SSMPing},
		{"omping answer cut short", unhex(t, ompingAnswer)[:20], foreign.Omping},
	}
	for _, tt := range tests {
		d, ok := foreign.Decode(tt.b)
		if ok && (tt.not == foreign.Unknown || d.Format == tt.not) {
			t.Errorf("%s: decoded as %v %+v", tt.name, d.Format, d)
		}
	}
}

func TestFollows(t *testing.T) {
	first, _ := foreign.Decode(unhex(t, iperfFirst))
	second, _ := foreign.Decode(unhex(t, iperfSecond))
	d66, _ := foreign.Decode(unhex(t, iperf66))
	end, _ := foreign.Decode(unhex(t, iperfEnd))
	r1, _ := foreign.Decode(unhex(t, ssmReply1))
	r2, _ := foreign.Decode(unhex(t, ssmReply2))
	rtpA, _ := foreign.Decode(rtpPacket(65535, 1000, 7))
	rtpB, _ := foreign.Decode(rtpPacket(1, 1320, 7)) // wrapped, one lost
	rtpOther, _ := foreign.Decode(rtpPacket(2, 1480, 8))
	rtpBack, _ := foreign.Decode(rtpPacket(2, 900, 7))
	tests := []struct {
		name       string
		prev, next foreign.Datagram
		want       bool
	}{
		{"iperf2 next", first, second, true},
		{"iperf2 after a gap", second, d66, true},
		{"iperf2 end", d66, end, true},
		{"nothing follows the end", end, first, false},
		{"iperf2 same id again", first, first, false},
		{"iperf2 backwards", second, first, false},
		{"ssmping next", r1, r2, true},
		{"rtp across the wrap", rtpA, rtpB, true},
		{"rtp other ssrc", rtpB, rtpOther, false},
		{"rtp timestamp back", rtpB, rtpBack, false},
		{"format change", r1, second, false},
	}
	for _, tt := range tests {
		if got := foreign.Follows(tt.prev, tt.next); got != tt.want {
			t.Errorf("%s: Follows = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestExtend(t *testing.T) {
	tests := []struct {
		last, seq uint64
		bits      uint8
		want      uint64
	}{
		{1<<32 + 65535, 0, 16, 1<<32 + 65536},
		{1<<32 + 65536, 65535, 16, 1<<32 + 65535},
		{1<<32 + 10, 12, 16, 1<<32 + 12},
		{1<<32 + 10, 8, 16, 1<<32 + 8},
		{5, 9, 64, 9},
		{1<<33 + 0xffffffff, 1, 32, 3<<32 + 1},
	}
	for _, tt := range tests {
		if got := foreign.Extend(tt.last, tt.seq, tt.bits); got != tt.want {
			t.Errorf("Extend(%#x, %#x, %d) = %#x, want %#x", tt.last, tt.seq, tt.bits, got, tt.want)
		}
	}
}

func TestDecodeAllocatesNothing(t *testing.T) {
	for name, b := range map[string][]byte{"iperf2": unhex(t, iperf66), "rtp": rtpPacket(1, 2, 3), "mcjoin": mcjoinPayload(1, 2)} {
		if n := testing.AllocsPerRun(100, func() { foreign.Decode(b) }); n != 0 {
			t.Errorf("%s: %v allocations per Decode", name, n)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{iperfFirst, iperfEnd, ssmReply1, ompingAnswer, mcjoinFirst} {
		f.Add(unhex(f, s))
	}
	f.Add(mcjoinPayload(1, 2))
	f.Add(rtpPacket(1, 2, 3))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, ok := foreign.Decode(b)
		if !ok {
			return
		}
		if d.Format == foreign.Unknown || d.SeqBits == 0 || d.Seq&^(1<<d.SeqBits-1) != 0 && d.SeqBits < 64 {
			t.Fatalf("inconsistent %+v", d)
		}
		if foreign.Follows(d, d) {
			t.Fatalf("a datagram follows itself: %+v", d)
		}
	})
}
