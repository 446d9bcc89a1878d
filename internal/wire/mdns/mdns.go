// Package mdns decodes just enough of an mDNS (DNS) message to tell which
// DNS-SD service types it is about, without allocating: the names of its
// questions, of its records and of its PTR records' targets; and whether a
// query asks for its answers by unicast.
package mdns

import (
	"bytes"
	"errors"
	"fmt"
)

// Port is mDNS's UDP port.
const Port = 5353

// ErrMalformed is the error for a message that is not a well-formed DNS
// message.
var ErrMalformed = errors.New("malformed DNS message")

// maxName is the longest name in presentation form (RFC 1035 section 3.1).
const maxName = 255

// typePTR is the PTR record type, whose data is a name.
const typePTR = 12

// enumeration is DNS-SD's service type enumeration (RFC 6763 section 9):
// about every type and none.
var enumeration = []byte("_dns-sd._udp")

// Checker tells whether a message names only allowed service types. Its
// scratch space makes a check allocation-free; one Checker serves one
// goroutine.
type Checker struct {
	name [maxName + 1]byte
}

// Allowed reports whether every service type ("_ipp._tcp") that msg's names
// carry is one of allow (lower case); a message naming no service type (a
// host name's address, say) is allowed, and so is DNS-SD's enumeration of
// types.
func (c *Checker) Allowed(msg []byte, allow []string) (bool, error) {
	if len(msg) < 12 {
		return false, fmt.Errorf("%w: %d bytes, shorter than a header", ErrMalformed, len(msg))
	}
	qd := int(msg[4])<<8 | int(msg[5])
	rr := int(msg[6])<<8 | int(msg[7]) + int(msg[8])<<8 | int(msg[9]) + int(msg[10])<<8 | int(msg[11])
	off := 12
	for i := 0; i < qd+rr; i++ {
		name, next, err := c.readName(msg, off)
		if err != nil {
			return false, err
		}
		if !typeAllowed(name, allow) {
			return false, nil
		}
		off = next
		if i < qd {
			off += 4 // type, class
			if off > len(msg) {
				return false, fmt.Errorf("%w: question %d cut short", ErrMalformed, i)
			}
			continue
		}
		if off+10 > len(msg) {
			return false, fmt.Errorf("%w: record %d cut short", ErrMalformed, i-qd)
		}
		typ := int(msg[off])<<8 | int(msg[off+1])
		rdlen := int(msg[off+8])<<8 | int(msg[off+9])
		off += 10
		if off+rdlen > len(msg) {
			return false, fmt.Errorf("%w: record %d data of %d bytes cut short", ErrMalformed, i-qd, rdlen)
		}
		if typ == typePTR {
			target, _, err := c.readName(msg, off)
			if err != nil {
				return false, err
			}
			if !typeAllowed(target, allow) {
				return false, nil
			}
		}
		off += rdlen
	}
	return true, nil
}

// typeAllowed finds the service type in name (dotted, lower case): the
// label before the first "_tcp" or "_udp" label and that label.
func typeAllowed(name []byte, allow []string) bool {
	start := 0 // of the label before the current one
	prev := -1
	for i := 0; i <= len(name); i++ {
		if i < len(name) && name[i] != '.' {
			continue
		}
		label := name[start:i]
		if prev >= 0 && (bytes.Equal(label, []byte("_tcp")) || bytes.Equal(label, []byte("_udp"))) && len(name[prev:start]) > 1 && name[prev] == '_' {
			typ := name[prev:i]
			if bytes.Equal(typ, enumeration) {
				return true
			}
			for _, a := range allow {
				if string(typ) == a {
					return true
				}
			}
			return false
		}
		prev, start = start, i+1
	}
	return true
}

// readName reads the name at off in msg, following compression pointers,
// into c's scratch as dotted lower-case text; next is the offset after the
// name where it started.
func (c *Checker) readName(msg []byte, off int) (name []byte, next int, err error) {
	n := 0
	next = -1
	for jumps := 0; ; {
		if off >= len(msg) {
			return nil, 0, fmt.Errorf("%w: name runs past the end at %d", ErrMalformed, off)
		}
		l := int(msg[off])
		switch {
		case l == 0:
			if next < 0 {
				next = off + 1
			}
			return c.name[:n], next, nil
		case l&0xc0 == 0xc0:
			if off+1 >= len(msg) {
				return nil, 0, fmt.Errorf("%w: compression pointer cut short at %d", ErrMalformed, off)
			}
			if next < 0 {
				next = off + 2
			}
			if jumps++; jumps > 32 {
				return nil, 0, fmt.Errorf("%w: compression loop at %d", ErrMalformed, off)
			}
			off = (l&0x3f)<<8 | int(msg[off+1])
			continue
		case l&0xc0 != 0:
			return nil, 0, fmt.Errorf("%w: label type %#x at %d", ErrMalformed, l&0xc0, off)
		}
		if off+1+l > len(msg) || n+l+1 > maxName {
			return nil, 0, fmt.Errorf("%w: label of %d bytes at %d too long", ErrMalformed, l, off)
		}
		if n > 0 {
			c.name[n] = '.'
			n++
		}
		for _, b := range msg[off+1 : off+1+l] {
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			c.name[n] = b
			n++
		}
		off += 1 + l
	}
}
