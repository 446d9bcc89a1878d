package relay

import (
	"net"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// TestMain runs this package's tests in a network namespace of their own:
// the socket tests below send only on its loopback.
func TestMain(m *testing.M) { labtest.MainIsolated(m) }

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

func boundPort(t *testing.T, s *udpSock) netip.AddrPort {
	t.Helper()
	sa, err := unix.Getsockname(s.fd)
	if err != nil {
		t.Fatal(err)
	}
	a := sa.(*unix.SockaddrInet4)
	return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
}

// TestUDPSock: batches written with sendmmsg (a message of several
// buffers among them) are read back whole with their source, and a read
// with nothing to read returns nothing once the receive timeout passes.
func TestUDPSock(t *testing.T) {
	loopback(t)
	lo := netip.MustParseAddrPort("127.0.0.1:0")
	a, err := openUDPSock(lo, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := openUDPSock(lo, unix.CmsgSpace(4))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	to := net.UDPAddrFromAddrPort(boundPort(t, b))
	msgs := []ipv4.Message{
		{Buffers: [][]byte{[]byte("one")}, Addr: to},
		{Buffers: [][]byte{[]byte("tw"), []byte("o")}, Addr: to},
		{Buffers: [][]byte{[]byte("three")}, Addr: to},
	}
	if n, err := a.WriteBatch(msgs, 0); n != 3 || err != nil {
		t.Fatalf("WriteBatch: %d, %v", n, err)
	}
	if msgs[1].N != 3 {
		t.Errorf("message of two buffers: %d bytes sent, want 3", msgs[1].N)
	}
	var got []string
	for len(got) < 3 {
		n, err := b.read()
		if err != nil || n == 0 {
			t.Fatalf("read: %d, %v after %q", n, err, got)
		}
		for i := range n {
			d, from, _ := b.datagram(i)
			if from != boundPort(t, a) {
				t.Errorf("datagram %q from %s, want %s", d, from, boundPort(t, a))
			}
			got = append(got, string(d))
		}
	}
	if got[0] != "one" || got[1] != "two" || got[2] != "three" {
		t.Errorf("read %q", got)
	}

	start := time.Now()
	if n, err := b.read(); n != 0 || err != nil {
		t.Errorf("idle read: %d, %v", n, err)
	}
	if d := time.Since(start); d < readTimeout*time.Microsecond/2 {
		t.Errorf("idle read returned after %s, before the receive timeout", d)
	}

	if _, err := a.WriteBatch([]ipv4.Message{{Buffers: [][]byte{[]byte("x")}, Addr: &net.IPAddr{IP: net.IPv4(127, 0, 0, 1)}}}, 0); err == nil {
		t.Error("WriteBatch took a message without a UDP address")
	}
}
