// Package pcapng reads the pcapng capture file format
// (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html), the one
// tshark, dumpcap and Wireshark write by default: sections in either byte
// order, several interfaces each with its own link type, name and timestamp
// resolution, and enhanced, simple and (obsolete) packet blocks. Other
// blocks (name resolution, statistics, secrets, custom) are skipped. Pure
// Go, over io.Reader; a hostile file is an error wrapping ErrFormat, never a
// panic.
package pcapng

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"time"

	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Magic is the first four bytes of a pcapng file (the Section Header
// Block type), the same in either byte order.
const Magic = 0x0a0d0d0a

// Block types.
const (
	blockSection   = Magic
	blockInterface = 1
	blockPacket    = 2 // obsolete Packet Block
	blockSimple    = 3
	blockEnhanced  = 6
	byteOrderMagic = 0x1a2b3c4d
	// maxBlock bounds a block's length: a packet of pcap.MaxSnapLen bytes
	// with generous room for options.
	maxBlock = pcap.MaxSnapLen + 1<<16
)

// Option codes of an Interface Description Block.
const (
	optEnd      = 0
	optIfName   = 2
	optTSResol  = 9
	optTSOffset = 14
)

// ErrFormat is wrapped by every error about a malformed file.
var ErrFormat = errors.New("not a valid pcapng file")

// Interface is what an Interface Description Block says about the
// interface of the packets that name it.
type Interface struct {
	LinkType uint32
	SnapLen  int
	Name     string // if_name option ("" when absent)
	// unit is the timestamp unit: 10^-exp (base 10) or 2^-exp seconds.
	exp    uint8
	base2  bool
	offset int64 // if_tsoffset, seconds
}

// Record is one captured packet with the interface it was captured on.
type Record struct {
	pcap.Record
	LinkType uint32
	Iface    string
}

// Reader reads the packets of a pcapng file, section after section.
type Reader struct {
	r      io.Reader
	order  binary.ByteOrder
	ifaces []Interface
	off    int64
	buf    []byte
}

// NewReader reads the first Section Header Block and any Interface
// Description Blocks that follow it, so that LinkType knows the first
// interface's link type.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{r: r}
	typ, _, err := rd.block()
	if err != nil {
		if err == io.EOF {
			err = fmt.Errorf("empty file: %w", ErrFormat)
		}
		return nil, err
	}
	if typ != blockSection {
		return nil, fmt.Errorf("pcapng file starting with block type %#x: %w", typ, ErrFormat)
	}
	for len(rd.ifaces) == 0 {
		start := rd.off
		typ, body, err := rd.block()
		switch {
		case err == io.EOF:
			return rd, nil // no interface, so no packet
		case err != nil:
			return nil, err
		case typ == blockInterface:
			if err := rd.addInterface(body); err != nil {
				return nil, fmt.Errorf("pcapng interface block at offset %d: %w", start, err)
			}
		case typ == blockEnhanced || typ == blockSimple || typ == blockPacket:
			return nil, fmt.Errorf("pcapng packet block at offset %d before any interface block: %w", start, ErrFormat)
		}
	}
	return rd, nil
}

// LinkType returns the link type of the first interface, or 0 when the
// section describes none before its first packet.
func (r *Reader) LinkType() uint32 {
	if len(r.ifaces) == 0 {
		return 0
	}
	return r.ifaces[0].LinkType
}

// Interfaces returns the interfaces described so far in the current
// section.
func (r *Reader) Interfaces() []Interface { return r.ifaces }

// Next returns the next packet, or io.EOF at a clean end of file.
func (r *Reader) Next() (Record, error) {
	for {
		start := r.off
		typ, body, err := r.block()
		if err != nil {
			return Record{}, err
		}
		var rec Record
		switch typ {
		case blockSection:
			continue // block() took the new byte order and forgot the interfaces
		case blockInterface:
			if err := r.addInterface(body); err != nil {
				return Record{}, fmt.Errorf("pcapng interface block at offset %d: %w", start, err)
			}
			continue
		case blockEnhanced:
			rec, err = r.enhanced(body)
		case blockSimple:
			rec, err = r.simple(body)
		case blockPacket:
			rec, err = r.packet(body)
		default:
			continue
		}
		if err != nil {
			return Record{}, fmt.Errorf("pcapng packet block at offset %d: %w", start, err)
		}
		return rec, nil
	}
}

// block reads one block: its type and body (without the type and the two
// lengths). A Section Header Block sets the byte order and starts a new
// list of interfaces.
func (r *Reader) block() (uint32, []byte, error) {
	var h [12]byte
	n, err := io.ReadFull(r.r, h[:8])
	if err == io.EOF {
		return 0, nil, io.EOF
	}
	if err != nil {
		return 0, nil, fmt.Errorf("pcapng block header at offset %d: %d of 8 bytes: %w", r.off, n, ErrFormat)
	}
	typ := binary.LittleEndian.Uint32(h[0:])
	if typ == blockSection {
		if n, err := io.ReadFull(r.r, h[8:12]); err != nil {
			return 0, nil, fmt.Errorf("pcapng section header at offset %d: %d of 12 bytes: %w", r.off, 8+n, ErrFormat)
		}
		switch {
		case binary.LittleEndian.Uint32(h[8:]) == byteOrderMagic:
			r.order = binary.LittleEndian
		case binary.BigEndian.Uint32(h[8:]) == byteOrderMagic:
			r.order = binary.BigEndian
		default:
			return 0, nil, fmt.Errorf("pcapng section header at offset %d: byte-order magic %#08x: %w", r.off, binary.BigEndian.Uint32(h[8:]), ErrFormat)
		}
		r.ifaces = r.ifaces[:0]
	} else if r.order == nil {
		return 0, nil, fmt.Errorf("pcapng block type %#x at offset %d before any section header: %w", typ, r.off, ErrFormat)
	}
	typ = r.order.Uint32(h[0:])
	total := int(r.order.Uint32(h[4:]))
	if total < 12 || total%4 != 0 || total > maxBlock || (typ == blockSection && total < 28) {
		return 0, nil, fmt.Errorf("pcapng block type %#x at offset %d: length %d: %w", typ, r.off, total, ErrFormat)
	}
	read := 8
	if typ == blockSection {
		read = 12
	}
	if cap(r.buf) < total {
		r.buf = make([]byte, total)
	}
	b := r.buf[:total]
	copy(b, h[:read])
	if n, err := io.ReadFull(r.r, b[read:]); err != nil {
		return 0, nil, fmt.Errorf("pcapng block type %#x at offset %d: %d of %d bytes: %w", typ, r.off, read+n, total, ErrFormat)
	}
	if trail := int(r.order.Uint32(b[total-4:])); trail != total {
		return 0, nil, fmt.Errorf("pcapng block type %#x at offset %d: length %d, trailing length %d: %w", typ, r.off, total, trail, ErrFormat)
	}
	r.off += int64(total)
	return typ, b[8 : total-4], nil
}

// addInterface decodes an Interface Description Block.
func (r *Reader) addInterface(b []byte) error {
	if len(b) < 8 {
		return fmt.Errorf("body of %d bytes: %w", len(b), ErrFormat)
	}
	ifc := Interface{LinkType: uint32(r.order.Uint16(b[0:])), SnapLen: int(r.order.Uint32(b[4:])), exp: 6}
	for opts := b[8:]; len(opts) >= 4; {
		code, n := r.order.Uint16(opts[0:]), int(r.order.Uint16(opts[2:]))
		if code == optEnd {
			break
		}
		if 4+n > len(opts) {
			return fmt.Errorf("option %d of %d bytes in %d: %w", code, n, len(opts)-4, ErrFormat)
		}
		v := opts[4 : 4+n]
		switch {
		case code == optIfName:
			ifc.Name = string(v)
		case code == optTSResol && n == 1:
			ifc.base2, ifc.exp = v[0]&0x80 != 0, v[0]&0x7f
		case code == optTSOffset && n == 8:
			ifc.offset = int64(r.order.Uint64(v))
		}
		opts = opts[4+(n+3)&^3:]
	}
	if ifc.exp > 63 || (!ifc.base2 && ifc.exp > 19) {
		return fmt.Errorf("timestamp resolution exponent %d: %w", ifc.exp, ErrFormat)
	}
	r.ifaces = append(r.ifaces, ifc)
	return nil
}

// iface returns the interface a packet names.
func (r *Reader) iface(id int) (Interface, error) {
	if id < 0 || id >= len(r.ifaces) {
		return Interface{}, fmt.Errorf("interface %d of %d described: %w", id, len(r.ifaces), ErrFormat)
	}
	return r.ifaces[id], nil
}

// enhanced decodes an Enhanced Packet Block.
func (r *Reader) enhanced(b []byte) (Record, error) {
	if len(b) < 20 {
		return Record{}, fmt.Errorf("enhanced packet body of %d bytes: %w", len(b), ErrFormat)
	}
	ifc, err := r.iface(int(r.order.Uint32(b[0:])))
	if err != nil {
		return Record{}, err
	}
	ts := uint64(r.order.Uint32(b[4:]))<<32 | uint64(r.order.Uint32(b[8:]))
	return r.record(ifc, ts, int(r.order.Uint32(b[12:])), int(r.order.Uint32(b[16:])), b[20:])
}

// packet decodes an obsolete Packet Block.
func (r *Reader) packet(b []byte) (Record, error) {
	if len(b) < 20 {
		return Record{}, fmt.Errorf("packet body of %d bytes: %w", len(b), ErrFormat)
	}
	ifc, err := r.iface(int(r.order.Uint16(b[0:])))
	if err != nil {
		return Record{}, err
	}
	ts := uint64(r.order.Uint32(b[4:]))<<32 | uint64(r.order.Uint32(b[8:]))
	return r.record(ifc, ts, int(r.order.Uint32(b[12:])), int(r.order.Uint32(b[16:])), b[20:])
}

// simple decodes a Simple Packet Block: interface 0, no timestamp, and as
// much of the packet as the block and the snap length hold.
func (r *Reader) simple(b []byte) (Record, error) {
	if len(b) < 4 {
		return Record{}, fmt.Errorf("simple packet body of %d bytes: %w", len(b), ErrFormat)
	}
	ifc, err := r.iface(0)
	if err != nil {
		return Record{}, err
	}
	orig := int(r.order.Uint32(b[0:]))
	incl := min(orig, len(b)-4)
	if ifc.SnapLen > 0 {
		incl = min(incl, ifc.SnapLen)
	}
	return Record{Record: pcap.Record{Time: time.Unix(0, 0), OrigLen: orig, Data: append([]byte(nil), b[4:4+incl]...)}, LinkType: ifc.LinkType, Iface: ifc.Name}, nil
}

// record builds a packet's record: its captured bytes (copied: the block
// buffer is reused), original length and time.
func (r *Reader) record(ifc Interface, ts uint64, incl, orig int, data []byte) (Record, error) {
	if incl < 0 || incl > len(data) || incl > pcap.MaxSnapLen {
		return Record{}, fmt.Errorf("captured length %d in %d bytes: %w", incl, len(data), ErrFormat)
	}
	return Record{
		Record:   pcap.Record{Time: ifc.time(ts), OrigLen: orig, Data: append([]byte(nil), data[:incl]...)},
		LinkType: ifc.LinkType,
		Iface:    ifc.Name,
	}, nil
}

// time converts a timestamp in the interface's units to a time.
func (ifc Interface) time(ts uint64) time.Time {
	var sec, frac, unit uint64 // frac in units of 1/unit s
	if ifc.base2 {
		unit = 1 << ifc.exp
		sec, frac = ts>>ifc.exp, ts&(unit-1)
	} else {
		unit = pow10(ifc.exp)
		sec, frac = ts/unit, ts%unit
	}
	hi, lo := bits.Mul64(frac, 1e9)
	ns, _ := bits.Div64(hi, lo, unit)
	return time.Unix(int64(sec)+ifc.offset, int64(ns))
}

func pow10(e uint8) uint64 {
	u := uint64(1)
	for range e {
		u *= 10
	}
	return u
}
