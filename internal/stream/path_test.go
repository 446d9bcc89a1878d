package stream_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/mcasttools/mcast/internal/iface"
	"github.com/mcasttools/mcast/internal/stream"
)

var (
	enX0 = iface.Interface{Name: "enX0", Index: 2, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.12/24")}}
	enX1 = iface.Interface{Name: "enX1", Index: 3, Up: true, Addrs: []netip.Prefix{netip.MustParsePrefix("10.0.0.13/24")}}
	host = []iface.Interface{enX0, enX1}
)

func TestClassify(t *testing.T) {
	own, peer := netip.MustParseAddr("10.0.0.12"), netip.MustParseAddr("10.0.0.20")
	tests := []struct {
		name       string
		src        netip.Addr
		arrived    iface.Interface
		acceptsOwn bool
		want       stream.Path
	}{
		{"other host", peer, enX1, false, stream.PathWire},
		{"own address on the sending NIC", own, enX0, true, stream.PathLoopback},
		{"own address on another NIC, accept_local=1", own, enX1, true, stream.PathWireSelf},
		{"own address on another NIC that drops such copies", own, enX1, false, stream.PathLoopback},
	}
	for _, tt := range tests {
		if got := stream.Classify(tt.src, tt.arrived, host, tt.acceptsOwn); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

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
