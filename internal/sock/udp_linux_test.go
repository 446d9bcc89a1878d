package sock

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"
	"unsafe"

	"github.com/mcasttools/mcast/internal/labtest"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// loopback brings up lo in the test's own namespace.
func loopback(t *testing.T) {
	t.Helper()
	if !labtest.Isolated() {
		t.Skip("no network namespace of our own could be made here (unshare --net failed): not sending")
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip link set lo up: %v: %s", err, out)
	}
}

// TestUDPConn: batches written with sendmmsg (a message of several
// buffers among them) are read back whole with their source, and a read
// with nothing to read returns nothing once the receive timeout passes.
func TestUDPConn(t *testing.T) {
	loopback(t)
	lo := netip.MustParseAddrPort("127.0.0.1:0")
	a, err := OpenUDP(lo, UDPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenUDP(lo, UDPOptions{GRO: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	to := net.UDPAddrFromAddrPort(b.LocalAddr())
	msgs := []ipv4.Message{
		{Buffers: [][]byte{[]byte("one")}, Addr: to},
		{Buffers: [][]byte{[]byte("tw"), []byte("o")}, Addr: to},
		{Buffers: [][]byte{[]byte("three")}, Addr: to},
	}
	if n, err := a.WriteBatch(msgs); n != 3 || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	if msgs[1].N != 3 {
		t.Errorf("message of two buffers: %d bytes sent, want 3", msgs[1].N)
	}
	var got []string
	for len(got) < 3 {
		n, err := b.ReadBatch()
		if err != nil || n == 0 {
			t.Fatalf("read: %d, %v after %q", n, err, got)
		}
		for i := range n {
			d, from, _ := b.Datagram(i)
			if from != a.LocalAddr() {
				t.Errorf("datagram %q from %s, want %s", d, from, a.LocalAddr())
			}
			got = append(got, string(d))
		}
	}
	if got[0] != "one" || got[1] != "two" || got[2] != "three" {
		t.Errorf("read %q", got)
	}

	start := time.Now()
	if n, err := b.ReadBatch(); n != 0 || err != nil {
		t.Errorf("idle read: %d, %v", n, err)
	}
	if d := time.Since(start); d < ReadTimeout*time.Microsecond/2 {
		t.Errorf("idle read returned after %s, before the receive timeout", d)
	}

	if _, err := a.WriteBatch([]ipv4.Message{{Buffers: [][]byte{[]byte("x")}, Addr: &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)}}}); err == nil {
		t.Error("WriteBatch took a message without a UDP address")
	}
}

func groCmsg(level, typ int32, v uint32) []byte {
	b := make([]byte, unix.CmsgSpace(4))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level, h.Type = level, typ
	h.SetLen(unix.CmsgLen(4))
	binary.NativeEndian.PutUint32(b[unix.CmsgLen(0):], v)
	return b
}

func TestGROSize(t *testing.T) {
	other := groCmsg(unix.IPPROTO_IP, unix.IP_TTL, 64)
	tests := []struct {
		name string
		oob  []byte
		want int
	}{
		{"none", nil, 0},
		{"gro", groCmsg(unix.IPPROTO_UDP, unix.UDP_GRO, 1460), 1460},
		{"after another", append(append([]byte{}, other...), groCmsg(unix.IPPROTO_UDP, unix.UDP_GRO, 92)...), 92},
		{"other only", other, 0},
		{"truncated", groCmsg(unix.IPPROTO_UDP, unix.UDP_GRO, 1460)[:10], 0},
	}
	for _, tt := range tests {
		if got := GROSize(tt.oob); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestSegmentSizeCmsg(t *testing.T) {
	b := AppendSegmentSize(nil, 1460)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	if h.Level != unix.IPPROTO_UDP || h.Type != unix.UDP_SEGMENT || int(h.Len) != unix.CmsgLen(2) || len(b) != SegmentOOBLen {
		t.Fatalf("header %+v, %d bytes", *h, len(b))
	}
	if got := binary.NativeEndian.Uint16(b[unix.CmsgLen(0):]); got != 1460 {
		t.Fatalf("size %d", got)
	}
}
