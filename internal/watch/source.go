package watch

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"runtime"

	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/sock/capture"
	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
	"github.com/mcasttools/mcast/internal/wire/pcapng"
)

// Source yields captured frames. Next returns io.EOF when there are no more.
type Source interface {
	Next(ctx context.Context) (packet.Frame, error)
	// LinkType is the link type of every frame, for the pcap file header.
	LinkType() uint32
}

// BatchSource is a Source that can hand over the frames it has ready at
// once: NextBatch blocks for the first and returns up to max.
type BatchSource interface {
	NextBatch(ctx context.Context, max int) ([]packet.Frame, error)
}

// DropCounter is a Source that counts the packets it lost: a live
// capture's kernel count (capture.Socket.Drops), a running total.
type DropCounter interface {
	Drops() (uint64, error)
}

// OpenCapture opens a live capture of IPv4 and IPv6 multicast on the named
// interface, or on every interface when name is empty (capture.Open with
// packet.MulticastFilter).
func OpenCapture(name string) (*capture.Socket, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("live capture (AF_PACKET) is not supported on %s; use --read FILE.pcap", runtime.GOOS)
	}
	return capture.Open(name, packet.MulticastFilter(sock.NetOff))
}

// FileSource reads frames from a capture file: classic pcap (tcpdump -w)
// or pcapng (tshark, dumpcap and Wireshark by default).
type FileSource struct {
	next     func() (packet.Frame, error)
	linkType uint32
}

// NewFileSource reads the file header from r, telling pcap from pcapng by
// its first bytes. iface names the frames' interface in events; when it is
// empty, a pcapng file's interface names (if_name) are used.
func NewFileSource(r io.Reader, iface string) (*FileSource, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	if magic, err := br.Peek(4); err == nil && binary.LittleEndian.Uint32(magic) == pcapng.Magic {
		return newNGSource(br, iface)
	}
	pr, err := pcap.NewReader(br)
	if err != nil {
		return nil, err
	}
	if !packet.KnownLink(pr.LinkType()) {
		return nil, fmt.Errorf("pcap link type %d: %w", pr.LinkType(), packet.ErrLinkType)
	}
	lt := pr.LinkType()
	return &FileSource{linkType: lt, next: func() (packet.Frame, error) {
		rec, err := pr.Next()
		if err != nil {
			return packet.Frame{}, err
		}
		return packet.Frame{Time: rec.Time, Iface: iface, LinkType: lt, Data: rec.Data, OrigLen: rec.OrigLen}, nil
	}}, nil
}

// newNGSource reads a pcapng file, whose interfaces may each have their
// own link type.
func newNGSource(r io.Reader, iface string) (*FileSource, error) {
	nr, err := pcapng.NewReader(r)
	if err != nil {
		return nil, err
	}
	for _, ifc := range nr.Interfaces() {
		if !packet.KnownLink(ifc.LinkType) {
			return nil, fmt.Errorf("pcapng interface %q link type %d: %w", ifc.Name, ifc.LinkType, packet.ErrLinkType)
		}
	}
	return &FileSource{linkType: nr.LinkType(), next: func() (packet.Frame, error) {
		rec, err := nr.Next()
		if err != nil {
			return packet.Frame{}, err
		}
		if !packet.KnownLink(rec.LinkType) {
			return packet.Frame{}, fmt.Errorf("pcapng interface %q link type %d: %w", rec.Iface, rec.LinkType, packet.ErrLinkType)
		}
		name := iface
		if name == "" {
			name = rec.Iface
		}
		return packet.Frame{Time: rec.Time, Iface: name, LinkType: rec.LinkType, Data: rec.Data, OrigLen: rec.OrigLen}, nil
	}}, nil
}

// Next returns the next frame of the file.
func (s *FileSource) Next(ctx context.Context) (packet.Frame, error) {
	if err := ctx.Err(); err != nil {
		return packet.Frame{}, err
	}
	return s.next()
}

// LinkType returns the file's link type (a pcapng file's first
// interface's).
func (s *FileSource) LinkType() uint32 { return s.linkType }
