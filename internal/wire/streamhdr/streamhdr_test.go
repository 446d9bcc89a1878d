package streamhdr_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/mcasttools/mcast/internal/wire/streamhdr"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		h    streamhdr.Header
		text string
	}{
		{"first", streamhdr.Header{TTL: 1, SenderID: 7, Seq: 0, SentNs: 1}, "message 0"},
		{"large", streamhdr.Header{TTL: 255, SenderID: 0xffffffff, Seq: 1<<63 + 5, SentNs: 1<<62 + 3}, ""},
		{"end", streamhdr.Header{Flags: streamhdr.FlagEnd, SenderID: 9, Seq: 1000}, "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := append(streamhdr.Append(nil, tt.h), tt.text...)
			got, rest, err := streamhdr.Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.h || string(rest) != tt.text {
				t.Fatalf("got %+v %q, want %+v %q", got, rest, tt.h, tt.text)
			}
			if got.End() != (tt.h.Flags&streamhdr.FlagEnd != 0) {
				t.Fatal("End() disagrees with flags")
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := streamhdr.Append(nil, streamhdr.Header{Seq: 1, SentNs: 2})
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, streamhdr.ErrNotOurs},
		{"text", []byte("hello world, this is a long text datagram"), streamhdr.ErrNotOurs},
		{"magic only", []byte("MCST"), streamhdr.ErrMalformed},
		{"truncated", good[:20], streamhdr.ErrMalformed},
		{"version", mod(func(b []byte) []byte { b[4] = 9; return b }), streamhdr.ErrMalformed},
		{"short hdrlen", mod(func(b []byte) []byte { b[6] = 8; return b }), streamhdr.ErrMalformed},
		{"long hdrlen", mod(func(b []byte) []byte { b[6] = 40; return b }), streamhdr.ErrMalformed},
		{"flags", mod(func(b []byte) []byte { b[5] = 0x80; return b }), streamhdr.ErrMalformed},
		{"negative time", mod(func(b []byte) []byte { b[20] = 0x80; return b }), streamhdr.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := streamhdr.Decode(tt.in)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode: got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestLongerHeaderSkipped(t *testing.T) {
	b := streamhdr.Append(nil, streamhdr.Header{Seq: 3})
	b[6] = 36
	b = append(b, 0, 0, 0, 0, 'h', 'i')
	h, rest, err := streamhdr.Decode(b)
	if err != nil || h.Seq != 3 || string(rest) != "hi" {
		t.Fatalf("got %+v %q %v", h, rest, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("MCST"))
	f.Add(append(streamhdr.Append(nil, streamhdr.Header{Seq: 5, SentNs: 10, SenderID: 3}), "text"...))
	f.Add(streamhdr.Append(nil, streamhdr.Header{Flags: streamhdr.FlagEnd, Seq: 100}))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, rest, err := streamhdr.Decode(b)
		if err != nil {
			if !errors.Is(err, streamhdr.ErrNotOurs) && !errors.Is(err, streamhdr.ErrMalformed) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(rest) > len(b)-streamhdr.Len {
			t.Fatalf("rest %d bytes of a %d-byte datagram", len(rest), len(b))
		}
		// Re-encoding gives back the same fields.
		h2, _, err := streamhdr.Decode(streamhdr.Append(nil, h))
		if err != nil || h2 != h {
			t.Fatalf("re-encode: %+v %v, want %+v", h2, err, h)
		}
	})
}

func ExampleDecode() {
	b := streamhdr.Append(nil, streamhdr.Header{SenderID: 42, Seq: 7, SentNs: 1e9})
	b = append(b, "message 7"...)
	h, text, err := streamhdr.Decode(b)
	fmt.Println(h.SenderID, h.Seq, string(text), err)
	// Output: 42 7 message 7 <nil>
}
