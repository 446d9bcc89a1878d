package stream_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/mcasttools/mcast/internal/stream"
	"github.com/mcasttools/mcast/internal/wire/streamhdr"
)

// sinkRecorder keeps every datagram it is given, split as the kernel would.
type sinkRecorder struct{ got [][]byte }

func (s *sinkRecorder) Send(p []byte) error {
	s.got = append(s.got, append([]byte(nil), p...))
	return nil
}

func (s *sinkRecorder) SendSegments(buf []byte, seg int) error {
	for len(buf) > 0 {
		n := min(seg, len(buf))
		s.Send(buf[:n])
		buf = buf[n:]
	}
	return nil
}

func (s *sinkRecorder) SendBatch(ps [][]byte) (int, error) {
	for _, p := range ps {
		s.Send(p)
	}
	return len(ps), nil
}

// A template with %d puts the sequence number into every datagram in rate
// mode too, raw or with the header, padded to --size or not.
func TestSendRateExpandsSequence(t *testing.T) {
	for _, c := range []struct {
		name string
		raw  bool
		size int
	}{{"raw", true, 0}, {"raw sized", true, 20}, {"header", false, 0}, {"header sized", false, 100}} {
		t.Run(c.name, func(t *testing.T) {
			var s sinkRecorder
			res, err := stream.Send(context.Background(), []stream.Sink{&s},
				stream.SendConfig{Count: 12, Rate: 1e6, Raw: c.raw, Size: c.size, Message: "count: %d"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var data [][]byte
			var bytes uint64
			for _, p := range s.got {
				if !c.raw {
					h, rest, err := streamhdr.Decode(p)
					if err != nil {
						t.Fatalf("datagram %q: %v", p, err)
					}
					if h.End() {
						continue
					}
					bytes += uint64(len(p))
					p = rest
				} else {
					bytes += uint64(len(p))
				}
				data = append(data, p)
			}
			if len(data) != 12 || res.Sent != 12 || res.Bytes != bytes {
				t.Fatalf("got %d datagrams (%d bytes), result %+v", len(data), bytes, res)
			}
			for i, p := range data {
				want := fmt.Sprintf("count: %d", i)
				text := string(p[:min(len(p), len(want))])
				if text != want {
					t.Errorf("datagram %d carries %q, want %q", i, p, want)
				}
				if c.size > 0 && len(p) != c.size-map[bool]int{true: 0, false: streamhdr.Len}[c.raw] {
					t.Errorf("datagram %d: %d bytes, want the --size %d", i, len(p), c.size)
				}
			}
		})
	}
}
