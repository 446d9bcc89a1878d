package watch

import (
	"context"
	"fmt"
	"io"
	"runtime"

	"github.com/mcasttools/mcast/internal/sock"
	"github.com/mcasttools/mcast/internal/sock/capture"
	"github.com/mcasttools/mcast/internal/wire/packet"
	"github.com/mcasttools/mcast/internal/wire/pcap"
)

// Source yields captured frames. Next returns io.EOF when there are no more.
type Source interface {
	Next(ctx context.Context) (packet.Frame, error)
	// LinkType is the link type of every frame, for the pcap file header.
	LinkType() uint32
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
	if !packet.KnownLink(pr.LinkType()) {
		return nil, fmt.Errorf("pcap link type %d: %w", pr.LinkType(), packet.ErrLinkType)
	}
	return &FileSource{r: pr, iface: iface}, nil
}

// Next returns the next frame of the file.
func (s *FileSource) Next(ctx context.Context) (packet.Frame, error) {
	if err := ctx.Err(); err != nil {
		return packet.Frame{}, err
	}
	rec, err := s.r.Next()
	if err != nil {
		return packet.Frame{}, err
	}
	return packet.Frame{Time: rec.Time, Iface: s.iface, LinkType: s.r.LinkType(), Data: rec.Data, OrigLen: rec.OrigLen}, nil
}

// LinkType returns the file's link type.
func (s *FileSource) LinkType() uint32 { return s.r.LinkType() }
