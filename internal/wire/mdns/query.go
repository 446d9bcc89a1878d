package mdns

import "fmt"

// classUnicast is the top bit of a question's class: in a query, the
// unicast-response ("QU") bit of RFC 6762 section 5.4.
const classUnicast = 0x8000

// IsResponse reports whether msg is a DNS message with the response bit
// (QR) set; a message shorter than a header is not.
func IsResponse(msg []byte) bool { return len(msg) >= 12 && msg[2]&0x80 != 0 }

// IsQuery reports whether msg is a DNS message with the response bit (QR)
// clear and at least one question; a message shorter than a header is not.
func IsQuery(msg []byte) bool {
	return len(msg) >= 12 && msg[2]&0x80 == 0 && (msg[4] != 0 || msg[5] != 0)
}

// AsksUnicast reports whether msg is a query one of whose questions has the
// unicast-response bit set: a responder may answer it by unicast to the
// querier's address and port 5353 instead of by multicast. It reads the
// questions only, without allocating; a message whose questions are cut
// short or malformed is an error wrapping ErrMalformed.
func AsksUnicast(msg []byte) (bool, error) {
	if len(msg) < 12 {
		return false, fmt.Errorf("%w: %d bytes, shorter than a header", ErrMalformed, len(msg))
	}
	if !IsQuery(msg) {
		return false, nil
	}
	qd := int(msg[4])<<8 | int(msg[5])
	off := 12
	qu := false
	for i := range qd {
		next, err := skipName(msg, off)
		if err != nil {
			return false, err
		}
		if next+4 > len(msg) {
			return false, fmt.Errorf("%w: question %d cut short", ErrMalformed, i)
		}
		if (int(msg[next+2])<<8|int(msg[next+3]))&classUnicast != 0 {
			qu = true
		}
		off = next + 4
	}
	return qu, nil
}

// skipName is the offset after the name at off in msg: after its final
// zero label or its compression pointer (which it does not follow).
func skipName(msg []byte, off int) (int, error) {
	n := 0
	for {
		if off >= len(msg) {
			return 0, fmt.Errorf("%w: name runs past the end at %d", ErrMalformed, off)
		}
		l := int(msg[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xc0 == 0xc0:
			if off+1 >= len(msg) {
				return 0, fmt.Errorf("%w: compression pointer cut short at %d", ErrMalformed, off)
			}
			return off + 2, nil
		case l&0xc0 != 0:
			return 0, fmt.Errorf("%w: label type %#x at %d", ErrMalformed, l&0xc0, off)
		}
		if n += l + 1; off+1+l > len(msg) || n > maxName {
			return 0, fmt.Errorf("%w: label of %d bytes at %d too long", ErrMalformed, l, off)
		}
		off += 1 + l
	}
}
