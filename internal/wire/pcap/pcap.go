// Package pcap reads and writes the classic libpcap capture file format
// (https://www.tcpdump.org/manpages/pcap-savefile.5.html), the one tcpdump
// -w writes and tcpdump -r and Wireshark open. Pure Go, over io.Reader and
// io.Writer.
package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// Link types this package knows (LINKTYPE_* in the libpcap list).
const (
	LinkEthernet  = 1   // Ethernet II frames
	LinkRaw       = 101 // raw IPv4 or IPv6
	LinkLinuxSLL  = 113 // Linux "cooked" capture v1
	LinkIPv4      = 228 // raw IPv4
	LinkIPv6      = 229 // raw IPv6
	LinkLinuxSLL2 = 276 // Linux "cooked" capture v2 (tcpdump and tshark -i any)
)

const (
	magicMicro = 0xa1b2c3d4
	magicNano  = 0xa1b23c4d
	// MaxSnapLen is the largest record the reader accepts.
	MaxSnapLen = 262144
)

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("not a valid pcap file")

// Record is one captured packet.
type Record struct {
	Time    time.Time
	OrigLen int    // length on the wire
	Data    []byte // the captured bytes (possibly shorter than OrigLen)
}

// Writer writes a pcap file with microsecond timestamps.
type Writer struct {
	w       io.Writer
	snapLen int
	buf     []byte
}

// NewWriter writes the file header for linkType and returns a Writer that
// truncates records to snapLen bytes.
func NewWriter(w io.Writer, linkType uint32, snapLen int) (*Writer, error) {
	if snapLen <= 0 || snapLen > MaxSnapLen {
		return nil, fmt.Errorf("pcap snap length %d: must be 1..%d", snapLen, MaxSnapLen)
	}
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h[0:], magicMicro)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], uint32(snapLen))
	binary.LittleEndian.PutUint32(h[20:], linkType)
	if _, err := w.Write(h); err != nil {
		return nil, fmt.Errorf("writing pcap header: %w", err)
	}
	return &Writer{w: w, snapLen: snapLen, buf: make([]byte, 16)}, nil
}

// Write appends one packet captured at t with its wire length origLen.
func (w *Writer) Write(t time.Time, data []byte, origLen int) error {
	if len(data) > w.snapLen {
		data = data[:w.snapLen]
	}
	if origLen < len(data) {
		origLen = len(data)
	}
	us := t.UnixMicro()
	binary.LittleEndian.PutUint32(w.buf[0:], uint32(us/1e6))
	binary.LittleEndian.PutUint32(w.buf[4:], uint32(us%1e6))
	binary.LittleEndian.PutUint32(w.buf[8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(w.buf[12:], uint32(origLen))
	if _, err := w.w.Write(w.buf); err != nil {
		return fmt.Errorf("writing pcap record: %w", err)
	}
	if _, err := w.w.Write(data); err != nil {
		return fmt.Errorf("writing pcap record: %w", err)
	}
	return nil
}

// Reader reads a pcap file in either byte order, with microsecond or
// nanosecond timestamps.
type Reader struct {
	r        io.Reader
	order    binary.ByteOrder
	nano     bool
	snapLen  int
	linkType uint32
	off      int64
	hdr      [16]byte
}

// NewReader reads and checks the file header.
func NewReader(r io.Reader) (*Reader, error) {
	var h [24]byte
	if n, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("reading pcap header: %d of 24 bytes: %w", n, ErrFormat)
	}
	rd := &Reader{r: r, off: 24}
	switch {
	case binary.LittleEndian.Uint32(h[0:]) == magicMicro:
		rd.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[0:]) == magicMicro:
		rd.order = binary.BigEndian
	case binary.LittleEndian.Uint32(h[0:]) == magicNano:
		rd.order, rd.nano = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h[0:]) == magicNano:
		rd.order, rd.nano = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("reading pcap header: magic number %#08x (neither pcap nor pcapng): %w", binary.BigEndian.Uint32(h[0:]), ErrFormat)
	}
	if major := rd.order.Uint16(h[4:]); major != 2 {
		return nil, fmt.Errorf("reading pcap header: version %d: %w", major, ErrFormat)
	}
	rd.snapLen = int(rd.order.Uint32(h[16:]))
	// The top bits of the link type field carry FCS information.
	rd.linkType = rd.order.Uint32(h[20:]) & 0x0fffffff
	return rd, nil
}

// LinkType returns the file's link type (LinkEthernet, LinkRaw, ...).
func (r *Reader) LinkType() uint32 { return r.linkType }

// Next returns the next record, or io.EOF at a clean end of file. A record
// cut short or with an impossible length is an error wrapping ErrFormat.
func (r *Reader) Next() (Record, error) {
	n, err := io.ReadFull(r.r, r.hdr[:])
	if err == io.EOF {
		return Record{}, io.EOF
	}
	if err != nil {
		return Record{}, fmt.Errorf("pcap record header at offset %d: %d of 16 bytes: %w", r.off, n, ErrFormat)
	}
	sec, frac := r.order.Uint32(r.hdr[0:]), r.order.Uint32(r.hdr[4:])
	incl, orig := int(r.order.Uint32(r.hdr[8:])), int(r.order.Uint32(r.hdr[12:]))
	if incl > MaxSnapLen || incl < 0 {
		return Record{}, fmt.Errorf("pcap record at offset %d: length %d exceeds %d: %w", r.off, incl, MaxSnapLen, ErrFormat)
	}
	data := make([]byte, incl)
	if n, err := io.ReadFull(r.r, data); err != nil {
		return Record{}, fmt.Errorf("pcap record at offset %d: %d of %d bytes: %w", r.off, n, incl, ErrFormat)
	}
	r.off += 16 + int64(incl)
	ns := int64(frac) * 1000
	if r.nano {
		ns = int64(frac)
	}
	return Record{Time: time.Unix(int64(sec), ns), OrigLen: orig, Data: data}, nil
}
