package stream

import (
	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/stats"
	"github.com/mcasttools/mcast/internal/wire/foreign"
)

// Limits of the foreign-stream accounting. A stream's sequence window takes
// 8 KiB and a source's recognition state about 600 bytes, so a flood of
// datagrams from many sources, or of many streams from one, stops adding
// state at these caps (its datagrams are still counted, as unrecognised).
const (
	// ConfirmRun is how many datagrams in a row must continue one another
	// (foreign.Follows) before their format is claimed.
	ConfirmRun = 5
	// MaxStreamsPerSource caps the streams measured per foreign source.
	MaxStreamsPerSource = 4
	// MaxForeignStreams caps the streams measured per receive.
	MaxForeignStreams = 256
	// MaxRecognising caps the foreign sources whose formats are recognised
	// per receive.
	MaxRecognising = 1024
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

// foreignRuns recognise the streams of one foreign source: two runs are
// tried at once, so that two interleaved streams are both recognised.
type foreignRuns struct {
	runs [2]foreignRun
	tick uint64
}

// foreignTrack is what a foreign source's streams add to its counts.
type foreignTrack struct {
	// Streams are the streams recognised, at most MaxStreamsPerSource.
	Streams []*ForeignStream
	// Unrecognised counts datagrams in no recognised stream.
	Unrecognised uint64
	rec          *foreignRuns // made with the first datagram that decodes
}

// trackForeign accounts a datagram without the mcast header in f's streams,
// recognising a new stream after ConfirmRun datagrams that agree.
func (r *Receiver) trackForeign(f *Foreign, d *sock.Datagram) {
	var fd foreign.Datagram
	ok := false
	if len(f.Streams) > 0 { // most datagrams are of the format seen before
		fd, ok = foreign.DecodeAs(f.Streams[0].Format, d.Payload)
	}
	if !ok {
		fd, ok = foreign.Decode(d.Payload)
	}
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
	if f.rec == nil {
		if r.nRecognising >= MaxRecognising {
			return
		}
		f.rec = &foreignRuns{}
		r.nRecognising++
	}
	rec := f.rec
	rec.tick++
	var run *foreignRun
	for i := range rec.runs {
		c := &rec.runs[i]
		if c.n > 0 && c.port == port && foreign.Follows(c.ds[c.n-1], fd) {
			run = c
			break
		}
	}
	if run == nil { // start a run in place of the one extended least recently
		run = &rec.runs[0]
		if rec.runs[1].at < run.at {
			run = &rec.runs[1]
		}
		run.n, run.port = 0, port
	}
	run.at = rec.tick
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
