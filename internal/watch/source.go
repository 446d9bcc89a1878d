package watch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mcasttools/mcast/internal/wire/igmp"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Frame is one captured packet as a capture source hands it over.
type Frame struct {
	Time     time.Time
	Iface    string // interface name ("" when unknown, as in a file)
	LinkType uint32 // pcap link type of Data
	Data     []byte
	OrigLen  int
}

// Source yields captured frames. Next returns io.EOF when there are no more.
type Source interface {
	Next(ctx context.Context) (Frame, error)
	// LinkType is the link type of every frame, for the pcap file header.
	LinkType() uint32
}

// Decode decodes a frame by its link type.
func Decode(f Frame) (igmp.Packet, error) {
	switch f.LinkType {
	case pcap.LinkEthernet:
		return igmp.DecodeEthernet(f.Data)
	case pcap.LinkRaw:
		return igmp.DecodeIP(f.Data)
	case pcap.LinkLinuxSLL:
		return igmp.DecodeLinuxSLL(f.Data)
	}
	return igmp.Packet{}, fmt.Errorf("link type %d: %w", f.LinkType, errUnsupportedLink)
}

// sllOutgoing is the Linux cooked header's packet type for a packet this
// host sent (PACKET_OUTGOING).
const sllOutgoing = 4

// Outgoing reports whether a frame is one this host sent: only a Linux
// cooked (SLL) frame says.
func Outgoing(f Frame) bool {
	return f.LinkType == pcap.LinkLinuxSLL && len(f.Data) >= 2 && binary.BigEndian.Uint16(f.Data) == sllOutgoing
}

var errUnsupportedLink = errors.New("unsupported link type (want Ethernet, raw IP or Linux cooked)")

// FileSource reads frames from a pcap file.
type FileSource struct {
	r     *pcap.Reader
	iface string
}

// NewFileSource reads the pcap header from r. iface names the frames'
// interface in events (it may be empty).
func NewFileSource(r io.Reader, iface string) (*FileSource, error) {
	pr, err := pcap.NewReader(r)
	if err != nil {
		return nil, err
	}
	switch pr.LinkType() {
	case pcap.LinkEthernet, pcap.LinkRaw, pcap.LinkLinuxSLL:
	default:
		return nil, fmt.Errorf("pcap link type %d: %w", pr.LinkType(), errUnsupportedLink)
	}
	return &FileSource{r: pr, iface: iface}, nil
}

// Next returns the next frame of the file.
func (s *FileSource) Next(ctx context.Context) (Frame, error) {
	if err := ctx.Err(); err != nil {
		return Frame{}, err
	}
	rec, err := s.r.Next()
	if err != nil {
		return Frame{}, err
	}
	return Frame{Time: rec.Time, Iface: s.iface, LinkType: s.r.LinkType(), Data: rec.Data, OrigLen: rec.OrigLen}, nil
}

// LinkType returns the file's link type.
func (s *FileSource) LinkType() uint32 { return s.r.LinkType() }
