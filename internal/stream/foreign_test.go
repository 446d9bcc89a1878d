package stream_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stream"
)

// iperf2Payload is an iperf 2.1.8 UDP datagram of 60 bytes as captured in
// a lab (see package foreign's tests), with id set to id: a negative id is
// the sender's last datagram.
func iperf2Payload(id int64) []byte {
	p, _ := hexBytes("000000016b157b3a0004e027000000004801009800000001000013890000003c00000000ffffffe20000000000000000000000000002000100080003")
	binary.BigEndian.PutUint32(p, uint32(id))
	binary.BigEndian.PutUint32(p[12:], uint32(uint64(id)>>32))
	binary.BigEndian.PutUint32(p[8:], uint32(id*1000)%1000000) // tv_usec advances
	binary.BigEndian.PutUint32(p[4:], uint32(0x6b157b3a+id*1000/1000000))
	return p
}

func hexBytes(s string) ([]byte, error) {
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range []byte(s[2*i : 2*i+2]) {
			switch {
			case c >= '0' && c <= '9':
				v = v<<4 | (c - '0')
			default:
				v = v<<4 | (c - 'a' + 10)
			}
		}
		b[i] = v
	}
	return b, nil
}

func foreignDatagram(src string, payload []byte) sock.Datagram {
	return sock.Datagram{Payload: payload, Src: netip.MustParseAddrPort(src), Dst: netip.MustParseAddr("239.1.1.1"),
		IfIndex: 2, TTL: 1, At: time.Unix(1700000000, 0)}
}

// An iperf2 stream of 200 datagrams (ids 1..200, the last one negative as
// iperf2 ends) loses its first datagram and every tenth, one arrives twice
// and two swap places: recv reports its loss, duplicates and reordering by
// iperf2's own ids, as for mcast's streams. The last datagram's id is the
// sender's total, so the lost first one counts, as iperf2's server counts
// it.
func TestForeignIperf2Loss(t *testing.T) {
	r := stream.NewReceiver(time.Unix(1700000000, 0), func(int) string { return "eth0" })
	var ids []int64
	for id := int64(1); id <= 200; id++ {
		if id%10 == 3 || id == 1 {
			continue // lost
		}
		ids = append(ids, id)
	}
	ids[50], ids[51] = ids[51], ids[50] // reordered
	ids = append(ids[:100], append([]int64{ids[99]}, ids[100:]...)...)
	for i, id := range ids {
		if i == len(ids)-1 {
			id = -id // iperf2's last datagram
		}
		r.Add(foreignDatagram("10.0.0.1:38510", iperf2Payload(id)))
	}
	rep := r.Snapshot("summary", time.Unix(1700000001, 0))
	if len(rep.Foreign) != 1 || len(rep.Foreign[0].Streams) != 1 {
		t.Fatalf("want one foreign source with one stream: %+v", rep.Foreign)
	}
	s := rep.Foreign[0].Streams[0]
	want := stream.ForeignStreamReport{Format: "iperf2", SourcePort: 38510, StreamID: "0", Received: 179, Expected: 200, Lost: 21,
		LossPct: 10.5, Duplicates: 1, Reordered: 1, SenderEnd: true}
	if s != want {
		t.Fatalf("stream\n got %+v\nwant %+v", s, want)
	}
	var b bytes.Buffer
	rep.WriteText(&b)
	if !strings.Contains(b.String(), "    iperf2 stream from port 38510 (recognised from its payload): 179 received, 21 lost (10.50%), 1 duplicates, 1 reordered, sender's last datagram arrived\n") {
		t.Fatalf("text report lacks the iperf2 stream:\n%s", b.String())
	}
	js, _ := json.Marshal(rep)
	if !strings.Contains(string(js), `"streams":[{"format":"iperf2","source_port":38510,`) {
		t.Fatalf("JSON lacks the stream: %s", js)
	}
}

// rtp builds an RTP version 2 packet (RFC 3550): payload type 96.
func rtp(seq uint16, ts, ssrc uint32) []byte {
	b := make([]byte, 12+160)
	b[0], b[1] = 0x80, 96
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return b
}

// Two RTP streams from one host, interleaved, one of them wrapping its
// 16-bit sequence number, each losing datagrams: both are recognised and
// their losses counted across the wrap.
func TestForeignRTPInterleaved(t *testing.T) {
	r := stream.NewReceiver(time.Unix(1700000000, 0), func(int) string { return "eth0" })
	for i := range 1000 {
		a, b := uint16(65000+i), uint16(100+i)
		if i%100 != 50 {
			r.Add(foreignDatagram("10.0.0.5:5004", rtp(a, uint32(i*160), 0x1111)))
		}
		if i%250 != 7 {
			r.Add(foreignDatagram("10.0.0.5:5006", rtp(b, uint32(i*160), 0x2222)))
		}
	}
	rep := r.Snapshot("summary", time.Unix(1700000001, 0))
	if len(rep.Foreign) != 1 || len(rep.Foreign[0].Streams) != 2 {
		t.Fatalf("want one source with two streams: %+v", rep.Foreign)
	}
	got := map[string]stream.ForeignStreamReport{}
	for _, s := range rep.Foreign[0].Streams {
		got[s.StreamID] = s
	}
	if s := got["1111"]; s.Format != "rtp" || s.Lost != 10 || s.Received != 990 || s.Duplicates != 0 || s.Reordered != 0 {
		t.Errorf("ssrc 0x1111 (wraps): %+v, want 990 received, 10 lost", s)
	}
	if s := got["2222"]; s.Lost != 4 || s.Received != 996 {
		t.Errorf("ssrc 0x2222: %+v, want 996 received, 4 lost", s)
	}
	if rep.Foreign[0].Unrecognised != 0 {
		t.Errorf("%d datagrams unrecognised, want 0", rep.Foreign[0].Unrecognised)
	}
}

// Datagrams that fit a format one at a time but do not continue one
// another (random bytes, plain text, a counter that jumps around) are never
// claimed: the source keeps today's report, with no stream line.
func TestForeignNotClaimedOnLuck(t *testing.T) {
	r := stream.NewReceiver(time.Unix(1700000000, 0), func(int) string { return "eth0" })
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		p := make([]byte, 12+rng.IntN(64))
		for j := range p {
			p[j] = byte(rng.Uint32())
		}
		if i%2 == 0 { // an iperf2-shaped header with a random id and time
			binary.BigEndian.PutUint32(p[8:], rng.Uint32N(1000000))
		}
		r.Add(foreignDatagram("10.0.0.9:9999", p))
		r.Add(foreignDatagram("10.0.0.2:40000", []byte("hello socat\n")))
	}
	for seq := range stream.ConfirmRun - 1 { // one short of a claim
		r.Add(foreignDatagram("10.0.0.3:5004", rtp(uint16(seq), uint32(seq), 5)))
	}
	rep := r.Snapshot("summary", time.Unix(1700000001, 0))
	for _, f := range rep.Foreign {
		if len(f.Streams) != 0 {
			t.Fatalf("%s: claimed %+v", f.Source, f.Streams)
		}
	}
	var b bytes.Buffer
	rep.WriteText(&b)
	want := "flows:\n" +
		"  239.1.1.1 from 10.0.0.9 on eth0: 5000 foreign datagrams (no mcast header), " + fmt.Sprint(rep.Foreign[0].Bytes) + " bytes\n" +
		"  239.1.1.1 from 10.0.0.2 on eth0: 5000 foreign datagrams (no mcast header), 60000 bytes\n" +
		"  239.1.1.1 from 10.0.0.3 on eth0: 4 foreign datagrams (no mcast header), 688 bytes\n"
	if b.String() != want {
		t.Fatalf("text\n got %q\nwant %q", b.String(), want)
	}
}

// A flood of streams (each recognised: RTP with its own SSRC) from many
// sources stops adding streams at the caps: per-source and per-receive
// state stays bounded.
func TestForeignStreamsBounded(t *testing.T) {
	r := stream.NewReceiver(time.Unix(1700000000, 0), func(int) string { return "eth0" })
	for src := range 200 {
		addr := netip.AddrFrom4([4]byte{10, 1, byte(src >> 8), byte(src)})
		for ssrc := range 10 {
			for seq := range stream.ConfirmRun + 2 {
				d := foreignDatagram("1.1.1.1:5004", rtp(uint16(seq), uint32(seq), uint32(ssrc)))
				d.Src = netip.AddrPortFrom(addr, uint16(5000+ssrc))
				r.Add(d)
			}
		}
	}
	total := 0
	for _, f := range r.Foreigners() {
		if len(f.Streams) > stream.MaxStreamsPerSource {
			t.Fatalf("%s: %d streams, cap %d", f.Src, len(f.Streams), stream.MaxStreamsPerSource)
		}
		total += len(f.Streams)
	}
	if total != stream.MaxForeignStreams {
		t.Fatalf("%d streams in all, want the cap %d", total, stream.MaxForeignStreams)
	}
}

// A flood of random datagrams from more sources than MaxRecognising gives
// recognition state to the first MaxRecognising only: a stream from a
// source after them is counted, not measured.
func TestForeignRecognisingBounded(t *testing.T) {
	r := stream.NewReceiver(time.Unix(1700000000, 0), func(int) string { return "eth0" })
	rng := rand.New(rand.NewPCG(3, 4))
	for src := range stream.MaxRecognising + 100 {
		p := rtp(uint16(rng.Uint32()), rng.Uint32(), rng.Uint32()) // decodes, continues nothing
		d := foreignDatagram("1.1.1.1:5004", p)
		d.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(src >> 8), byte(src)}), 5004)
		r.Add(d)
	}
	for seq := range 20 {
		r.Add(foreignDatagram("10.3.0.1:5004", rtp(uint16(seq), uint32(seq), 9)))
	}
	fs := r.Foreigners()
	last := fs[len(fs)-1]
	if len(last.Streams) != 0 || last.Unrecognised != 20 || last.Datagrams != 20 {
		t.Fatalf("source past the cap: %d streams, %d unrecognised of %d", len(last.Streams), last.Unrecognised, last.Datagrams)
	}
}

// Accounting a datagram of a recognised foreign stream allocates nothing.
func TestForeignStreamAllocs(t *testing.T) {
	r := stream.NewReceiver(time.Unix(1700000000, 0), func(int) string { return "eth0" })
	d := foreignDatagram("10.0.0.1:38510", iperf2Payload(1))
	id := int64(1)
	for ; id < 10; id++ {
		binary.BigEndian.PutUint32(d.Payload, uint32(id))
		r.Add(d)
	}
	var ev stream.Event
	if a := testing.AllocsPerRun(100, func() {
		binary.BigEndian.PutUint32(d.Payload, uint32(id))
		id++
		r.AddTo(&ev, &d)
	}); a != 0 {
		t.Errorf("%.1f allocations per datagram, want 0", a)
	}
	if s := r.Foreigners()[0].Streams; len(s) != 1 || s[0].Seq.Lost() != 0 {
		t.Errorf("streams %+v", s)
	}
}

// Each format with sequence numbers is recognised and measured: 30
// datagrams, numbers 1..30, of which 4, 9 and 17 are lost and 12 comes
// twice. The payloads are the captured ones of package foreign's tests
// (ssmpingd's reply, omping's answer) with the sequence number set, and
// mcjoin's text as its sender formats it.
func TestForeignFormats(t *testing.T) {
	ssm, _ := hexBytes("4100010004000009cf0002000400000001000300086b157b4f0003d2330004000501e82bd3ea")
	omp, _ := hexBytes("41000000010200010018082fa239fd0000000000000000000000000000026163e722" +
		"0002000400000001000300086b02389500050b00000400120002ff3e000000000000000000004321123400090001" + "40")
	tests := []struct {
		format  string
		payload func(seq int) []byte
	}{
		{"ssmping", func(seq int) []byte {
			p := bytes.Clone(ssm)
			binary.BigEndian.PutUint32(p[13:], uint32(seq))
			return p
		}},
		{"omping", func(seq int) []byte {
			p := bytes.Clone(omp)
			binary.BigEndian.PutUint32(p[38:], uint32(seq))
			return p
		}},
		{"mcjoin", func(seq int) []byte {
			p := make([]byte, 100)
			copy(p, fmt.Sprintf("Sender PID 4242, MC group 225.1.2.3 ... count: %d, freq: 100", seq))
			return p
		}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			r := stream.NewReceiver(time.Unix(1700000000, 0), func(int) string { return "eth0" })
			for seq := 1; seq <= 30; seq++ {
				switch seq {
				case 4, 9, 17:
					continue
				case 12:
					r.Add(foreignDatagram("10.0.0.1:4321", tt.payload(seq)))
				}
				r.Add(foreignDatagram("10.0.0.1:4321", tt.payload(seq)))
			}
			rep := r.Snapshot("summary", time.Unix(1700000001, 0))
			if len(rep.Foreign[0].Streams) != 1 {
				t.Fatalf("streams %+v", rep.Foreign[0].Streams)
			}
			s := rep.Foreign[0].Streams[0]
			if s.Format != tt.format || s.Received != 27 || s.Lost != 3 || s.Duplicates != 1 || s.Expected != 30 {
				t.Fatalf("%+v: want %s, 27 received, 3 lost, 1 duplicate", s, tt.format)
			}
		})
	}
}

// FuzzForeign feeds a run of datagrams cut from the fuzzer's bytes (each a
// length byte, a port byte, then the payload) to a Receiver: no panic, and
// every recognised stream's figures add up.
func FuzzForeign(f *testing.F) {
	seed := []byte{}
	for id := int64(1); id <= 8; id++ {
		p := iperf2Payload(id)
		seed = append(append(seed, byte(len(p)), 1), p...)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		r := stream.NewReceiver(time.Unix(1700000000, 0), func(int) string { return "eth0" })
		for len(b) >= 2 {
			n, port := int(b[0]), b[1]
			b = b[2:]
			n = min(n, len(b))
			d := foreignDatagram("10.0.0.1:5000", b[:n])
			d.Src = netip.AddrPortFrom(d.Src.Addr(), uint16(port%3))
			r.Add(d)
			b = b[n:]
		}
		for _, fr := range r.Snapshot("summary", time.Unix(1700000001, 0)).Foreign {
			for _, s := range fr.Streams {
				if s.Received+s.Lost < s.Expected || s.Lost > s.Expected {
					t.Fatalf("figures do not add up: %+v", s)
				}
			}
		}
	})
}

// BenchmarkForeignIperf2 accounts the datagrams of a recognised iperf2
// stream of 1470-byte datagrams (iperf2's default size).
func BenchmarkForeignIperf2(b *testing.B) {
	r := stream.NewReceiver(time.Unix(1700000000, 0), func(int) string { return "eth0" })
	d := foreignDatagram("10.0.0.1:38510", append(iperf2Payload(1), make([]byte, 1470-60)...))
	var ev stream.Event
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint32(d.Payload, uint32(i+1))
		r.AddTo(&ev, &d)
	}
}
