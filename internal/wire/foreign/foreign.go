// Package foreign decodes the sequence numbers that other programs' streams
// carry in their UDP payloads: iperf2's datagram header, RTP (RFC 3550),
// mcjoin's text payload, and omping's and ssmping's answers (decoded by
// package pingmsg). One datagram proves nothing: Follows says whether a
// datagram continues the stream of the one before, and a receiver claims a
// format only after several datagrams in a row agree. It is pure: bytes in,
// values out.
package foreign

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"

	"github.com/mcasttools/mcast/internal/wire/pingmsg"
)

// Format is a stream format with sequence numbers.
type Format uint8

// Formats, in the order Decode tries them.
const (
	Unknown Format = iota
	Mcjoin         // mcjoin: "Sender PID P, MC group G ... count: N, freq: F", zero-padded
	Omping         // omping's Answer messages (seq of the asking client's Query)
	SSMPing        // ssmpingd's replies (seq of the asking client's request)
	RTP            // RTP version 2 (RFC 3550): 16-bit sequence number, SSRC
	Iperf2         // iperf2's UDP datagram header: id, tv_sec, tv_usec[, id2]
)

var names = [...]string{"unknown", "mcjoin", "omping", "ssmping", "rtp", "iperf2"}

// String names the format as reports show it.
func (f Format) String() string {
	if int(f) < len(names) {
		return names[f]
	}
	return "unknown"
}

// MaxGap is the largest step between the sequence numbers of two datagrams
// of one stream that Follows accepts: a gap of more than MaxGap-1 lost
// datagrams breaks the chain while a format is being recognised.
const MaxGap = 1024

// Datagram is what a decoder read from one payload.
type Datagram struct {
	Format Format
	// Stream tells apart the streams of one source within a format: RTP's
	// SSRC, mcjoin's sender PID, a hash of omping's client ID, ssmping's
	// client PID; 0 for iperf2, whose streams differ by source port.
	Stream uint64
	// Seq is the sequence number as carried, SeqBits wide (16 for RTP, 64
	// for iperf2 and mcjoin, 32 otherwise).
	Seq     uint64
	SeqBits uint8
	// Time is the sender's timestamp in the format's unit (iperf2: µs,
	// RTP: its clock, omping/ssmping: µs), TimeBits wide; 0 bits: none.
	Time     uint64
	TimeBits uint8
	// End marks iperf2's last datagram (a negative id); Sent is then how
	// many datagrams the sender sent, numbered from 0 (0: unknown).
	End  bool
	Sent uint64
}

// Decode decodes b in the first format that fits it, trying mcjoin,
// omping, ssmping, RTP and iperf2 in that order; ok is false when none
// fits. A fit says little on its own: see Follows.
func Decode(b []byte) (d Datagram, ok bool) {
	if d, ok = DecodeMcjoin(b); ok {
		return d, true
	}
	if len(b) > 0 && b[0] == pingmsg.TypeAnswer {
		if d, ok = DecodeOmping(b); ok {
			return d, true
		}
		if d, ok = DecodeSSMPing(b); ok {
			return d, true
		}
	}
	if d, ok = DecodeRTP(b); ok {
		return d, true
	}
	return DecodeIperf2(b)
}

// DecodeAs decodes b in format f only.
func DecodeAs(f Format, b []byte) (Datagram, bool) {
	switch f {
	case Mcjoin:
		return DecodeMcjoin(b)
	case Omping:
		return DecodeOmping(b)
	case SSMPing:
		return DecodeSSMPing(b)
	case RTP:
		return DecodeRTP(b)
	case Iperf2:
		return DecodeIperf2(b)
	}
	return Datagram{}, false
}

// Follows reports whether next continues the stream of prev: the same
// format and stream, a sequence number 1 to MaxGap-1 ahead (modulo its
// width), and a timestamp that does not go back.
func Follows(prev, next Datagram) bool {
	if prev.Format != next.Format || prev.Stream != next.Stream || prev.SeqBits != next.SeqBits || prev.End {
		return false
	}
	step := (next.Seq - prev.Seq) & mask(next.SeqBits)
	if step == 0 || step >= MaxGap {
		return false
	}
	if next.TimeBits == 0 {
		return true
	}
	back := (prev.Time - next.Time) & mask(next.TimeBits)
	return back == 0 || back > mask(next.TimeBits)>>1
}

// Extend turns a sequence number carried in bits bits into a 64-bit one
// that keeps counting across wraps: the number closest to last (the
// previous extended number) with the same low bits.
func Extend(last, seq uint64, bits uint8) uint64 {
	if bits >= 64 {
		return seq
	}
	m := mask(bits)
	d := (seq - last) & m
	if d > m>>1 {
		return last - (m + 1 - d) // behind last: reordered or duplicate
	}
	return last + d
}

func mask(bits uint8) uint64 {
	if bits >= 64 {
		return ^uint64(0)
	}
	return 1<<bits - 1
}

// iperfFlagSeqno64 is iperf2's HEADER_SEQNO64B flag (iperf 2.1
// include/payloads.h) in the flags word that follows the UDP datagram
// header: the header's fourth word holds the upper 32 bits of the id.
const iperfFlagSeqno64 = 0x08000000

// DecodeIperf2 decodes iperf2's UDP datagram header: a 32-bit id, tv_sec
// and tv_usec (all big-endian), and, when the flags word after it says
// seqno64 (iperf 2.1 and later), id2 with the id's upper 32 bits. tv_usec
// must be below one million. iperf2 numbers its datagrams from 1 and sends
// the last one with its id negated (iperf2 src/Client.cpp); its server
// counts that id as the total. Seq is the id less one, numbered from 0
// like mcast's own, and the last datagram has End set and Sent = its id.
// Id 0 (iperf 2.0's first datagram, which its server ignores too) is
// refused.
func DecodeIperf2(b []byte) (Datagram, bool) {
	if len(b) < 12 {
		return Datagram{}, false
	}
	id := binary.BigEndian.Uint32(b)
	sec, usec := binary.BigEndian.Uint32(b[4:]), binary.BigEndian.Uint32(b[8:])
	if usec >= 1e6 {
		return Datagram{}, false
	}
	v := int64(int32(id))
	if len(b) >= 20 && binary.BigEndian.Uint32(b[16:])&iperfFlagSeqno64 != 0 {
		v = int64(uint64(binary.BigEndian.Uint32(b[12:]))<<32 | uint64(id))
	}
	if v == 0 || v == -1<<63 {
		return Datagram{}, false
	}
	d := Datagram{Format: Iperf2, Time: uint64(sec)*1e6 + uint64(usec), TimeBits: 64, SeqBits: 64}
	if v < 0 {
		v, d.End = -v, true
		d.Sent = uint64(v)
	}
	d.Seq = uint64(v) - 1
	return d, true
}

// RTP header facts (RFC 3550 section 5.1).
const (
	rtpHeaderLen = 12
	rtpVersion   = 2
)

// DecodeRTP decodes an RTP version 2 header: the CSRC list, extension and
// padding must fit the datagram, and payload types 72-76 (where RTCP's
// packet types 200-204 fall) are refused. Stream is the SSRC.
func DecodeRTP(b []byte) (Datagram, bool) {
	if len(b) < rtpHeaderLen || b[0]>>6 != rtpVersion {
		return Datagram{}, false
	}
	if pt := b[1] & 0x7f; pt >= 72 && pt <= 76 {
		return Datagram{}, false
	}
	n := rtpHeaderLen + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // header extension: 16-bit profile, 16-bit length in words
		if len(b) < n+4 {
			return Datagram{}, false
		}
		n += 4 + 4*int(binary.BigEndian.Uint16(b[n+2:]))
	}
	if len(b) < n {
		return Datagram{}, false
	}
	if b[0]&0x20 != 0 { // padding: the last byte counts it, itself included
		if p := int(b[len(b)-1]); p == 0 || len(b)-n < p {
			return Datagram{}, false
		}
	}
	return Datagram{Format: RTP, Stream: uint64(binary.BigEndian.Uint32(b[8:])),
		Seq: uint64(binary.BigEndian.Uint16(b[2:])), SeqBits: 16,
		Time: uint64(binary.BigEndian.Uint32(b[4:])), TimeBits: 32}, true
}

// mcjoin's payload keys (mcjoin src/mcjoin.h): its receiver finds the
// sequence number after "count: " and the sender's PID after "Sender PID ".
var (
	mcjoinPID   = []byte("Sender PID ")
	mcjoinCount = []byte("count: ")
)

// DecodeMcjoin decodes mcjoin's text payload, "Sender PID P, MC group G ...
// count: N, freq: F" padded with zero bytes: N is the sequence number, P
// (when present) the stream. The text before the padding must be
// printable ASCII.
func DecodeMcjoin(b []byte) (Datagram, bool) {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	i := bytes.Index(b, mcjoinCount)
	if i < 0 {
		return Datagram{}, false
	}
	for _, c := range b {
		if (c < ' ' || c > '~') && c != '\t' && c != '\r' && c != '\n' {
			return Datagram{}, false
		}
	}
	seq, ok := digits(b[i+len(mcjoinCount):])
	if !ok {
		return Datagram{}, false
	}
	d := Datagram{Format: Mcjoin, Seq: seq, SeqBits: 64}
	if j := bytes.Index(b, mcjoinPID); j >= 0 {
		d.Stream, _ = digits(b[j+len(mcjoinPID):])
	}
	return d, true
}

// digits reads the decimal number at the start of b (at most 19 digits).
func digits(b []byte) (uint64, bool) {
	var n uint64
	i := 0
	for ; i < len(b) && i < 19 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + uint64(b[i]-'0')
	}
	return n, i > 0
}

// DecodeOmping decodes an omping Answer carrying a sequence number. The
// stream is the asking client: a hash of its Client ID.
func DecodeOmping(b []byte) (Datagram, bool) {
	if len(b) < 1 || b[0] != pingmsg.TypeAnswer {
		return Datagram{}, false
	}
	m, err := pingmsg.Decode(b)
	if err != nil || !m.HasSeq || len(m.ClientID) == 0 {
		return Datagram{}, false
	}
	h := fnv.New64a()
	h.Write(m.ClientID)
	d := Datagram{Format: Omping, Stream: h.Sum64(), Seq: uint64(m.Seq), SeqBits: 32}
	if !m.ClientTime.IsZero() {
		d.Time, d.TimeBits = uint64(m.ClientTime.UnixMicro()), 64
	}
	return d, true
}

// DecodeSSMPing decodes an ssmping reply carrying a sequence number and
// the asking client's PID, which is the stream.
func DecodeSSMPing(b []byte) (Datagram, bool) {
	if len(b) < 1 || b[0] != pingmsg.SSMReply || pingmsg.Classify(b) != pingmsg.KindSSMPing {
		return Datagram{}, false
	}
	m, err := pingmsg.DecodeSSM(b)
	if err != nil || !m.HasSeq || !m.HasPID {
		return Datagram{}, false
	}
	d := Datagram{Format: SSMPing, Stream: uint64(m.PID), Seq: uint64(m.Seq), SeqBits: 32}
	if !m.Time.IsZero() {
		d.Time, d.TimeBits = uint64(m.Time.UnixMicro()), 64
	}
	return d, true
}
