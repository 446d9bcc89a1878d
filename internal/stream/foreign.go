package stream

import (
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stats"
	"github.com/mcasttools/mcast/internal/wire/foreign"
)

// Limits of the foreign-stream accounting. A stream's sequence window takes
// 8 KiB, so a flood of datagrams from many sources, or of many streams from
// one, stops adding streams at these caps (its datagrams are still counted).
const (
	// ConfirmRun is how many datagrams in a row must continue one another
	// (foreign.Follows) before their format is claimed.
	ConfirmRun = 5
	// MaxStreamsPerSource caps the streams measured per foreign source.
	MaxStreamsPerSource = 4
	// MaxForeignStreams caps the streams measured per receive.
	MaxForeignStreams = 256
)

// ForeignStream is a stream without the mcast header whose format was
// recognised: its loss, duplicates and reordering come from the sequence
// numbers its own payload carries.
type ForeignStream struct {
	Format  foreign.Format
	SrcPort uint16
	ID      uint64 // the format's stream identifier (foreign.Datagram.Stream)
	Seq     stats.Seq
	Ended   bool // the sender's last datagram arrived (iperf2's negative id)
	highest uint64
}

// add accounts one datagram of the stream.
func (s *ForeignStream) add(d foreign.Datagram) stats.Kind {
	if s.Ended && d.End {
		return stats.Duplicate // iperf2 may repeat its last datagram
	}
	var n uint64
	switch {
	case s.Seq.Received() == 0 && d.SeqBits < 64:
		// Room below for datagrams that arrive late, before the first.
		n = 1<<40 + d.Seq
	case s.Seq.Received() == 0:
		n = d.Seq
	default:
		n = foreign.Extend(s.highest, d.Seq, d.SeqBits)
	}
	s.highest = max(s.highest, n)
	if d.End {
		s.Ended = true
		if d.Sent > 0 {
			s.Seq.End(d.Sent)
		}
	}
	return s.Seq.Add(n)
}

// foreignRun is a run of datagrams from one source port that continue one
// another, not yet long enough to claim their format.
type foreignRun struct {
	port uint16
	at   uint64 // when the run last grew (foreignTrack.tick)
	n    int
	ds   [ConfirmRun]foreign.Datagram
}

// foreignTrack recognises the streams of one foreign source: two runs are
// tried at once, so that two interleaved streams are both recognised.
type foreignTrack struct {
	runs    [2]foreignRun
	tick    uint64
	Streams []*ForeignStream
	// Unrecognised counts datagrams in no recognised stream.
	Unrecognised uint64
}

// trackForeign accounts a datagram without the mcast header in f's streams,
// recognising a new stream after ConfirmRun datagrams that agree.
func (r *Receiver) trackForeign(f *Foreign, d *sock.Datagram) {
	fd, ok := foreign.Decode(d.Payload)
	if !ok {
		f.Unrecognised++
		return
	}
	port := d.Src.Port()
	for _, s := range f.Streams {
		if s.Format == fd.Format && s.ID == fd.Stream && s.SrcPort == port {
			s.add(fd)
			return
		}
	}
	f.Unrecognised++
	f.tick++
	var run *foreignRun
	for i := range f.runs {
		c := &f.runs[i]
		if c.n > 0 && c.port == port && foreign.Follows(c.ds[c.n-1], fd) {
			run = c
			break
		}
	}
	if run == nil { // start a run in place of the one extended least recently
		run = &f.runs[0]
		if f.runs[1].at < run.at {
			run = &f.runs[1]
		}
		run.n, run.port = 0, port
	}
	run.at = f.tick
	run.ds[run.n] = fd
	run.n++
	if run.n < ConfirmRun {
		return
	}
	run.n = 0
	if len(f.Streams) >= MaxStreamsPerSource || r.nForeignStreams >= MaxForeignStreams {
		return
	}
	s := &ForeignStream{Format: fd.Format, SrcPort: port, ID: fd.Stream}
	for _, x := range run.ds {
		s.add(x)
	}
	f.Unrecognised -= ConfirmRun
	f.Streams = append(f.Streams, s)
	r.nForeignStreams++
}
