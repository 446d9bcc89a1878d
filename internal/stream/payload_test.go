package stream_test

import (
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/stream"
)

func TestMessage(t *testing.T) {
	if got := stream.Message("message %d", 7); got != "message 7" {
		t.Errorf("got %q", got)
	}
	if got := stream.Message("%d/%d %s", 3); got != "3/3 %s" {
		t.Errorf("got %q", got)
	}
}

func TestFormatPayload(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{[]byte("message 0"), "message 0"},
		{[]byte("hello\n"), "hello"},
		{[]byte{0, 1, 0xff}, "hex:0001ff"},
		{[]byte("caf\xc3"), "hex:636166c3"},
		// Text padded with zero bytes to a fixed size (mcjoin, msend, C
		// senders): the text, and how much padding followed.
		{append([]byte("mcjoin 42"), make([]byte, 91)...), "mcjoin 42 (then 91 zero bytes of padding)"},
		{append([]byte("hello\n"), 0), "hello (then 1 zero byte of padding)"},
		{[]byte{0, 0, 0}, "hex:000000"},
		{[]byte{'a', 0, 'b', 0}, "hex:61006200"},
	}
	for _, tt := range tests {
		if got := stream.FormatPayload(tt.in); got != tt.want {
			t.Errorf("FormatPayload(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	long := stream.FormatPayload([]byte(strings.Repeat("a", 1000)))
	if !strings.HasSuffix(long, "... (1000 bytes)") {
		t.Errorf("long payload: %q", long[len(long)-30:])
	}
}
