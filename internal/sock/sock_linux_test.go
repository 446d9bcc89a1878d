package sock

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/mcasttools/mcast/internal/labtest"
)

// TestMain runs this package's tests inside a network namespace of their
// own, where the tests make a veth pair a <-> b: every datagram they send
// stays in that namespace. Where no namespace can be made, the tests that
// need one skip and say why.
func TestMain(m *testing.M) { labtest.MainIsolated(m) }

// vethPair makes the veth pair va (10.9.0.1) <-> vb (10.9.0.2) in the test's
// own namespace, once, and returns their indexes. A datagram sent on va
// crosses the pair to vb as it would cross a wire.
func vethPair(t *testing.T) (a, b int) {
	t.Helper()
	if !labtest.Isolated() {
		t.Skip("no network namespace of our own could be made here (unshare --net failed): not sending")
	}
	if _, err := net.InterfaceByName("vb"); err != nil {
		for _, args := range [][]string{
			{"link", "add", "name", "va", "type", "veth", "peer", "name", "vb"},
			{"addr", "add", "10.9.0.1/24", "dev", "va"},
			{"addr", "add", "10.9.0.2/24", "dev", "vb"},
			{"link", "set", "va", "up"},
			{"link", "set", "vb", "up"},
		} {
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v: %s (needs iproute2 and veth)", args, err, out)
			}
		}
		// va's datagrams reach vb with a source of this namespace's own:
		// let them in.
		for k, v := range map[string]string{"all/rp_filter": "0", "vb/rp_filter": "0", "vb/accept_local": "1"} {
			if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+k, []byte(v), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A datagram sent before both ends have carrier is dropped: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ia, erra := net.InterfaceByName("va")
		ib, errb := net.InterfaceByName("vb")
		if erra != nil || errb != nil {
			t.Fatal(erra, errb)
		}
		if ia.Flags&ib.Flags&net.FlagRunning != 0 {
			return ia.Index, ib.Index
		}
		if time.Now().After(deadline) {
			t.Fatal("veth pair va/vb has no carrier after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pair opens a Sender on a and a Listener on b for group:port.
func pair(t *testing.T, port uint16, gro bool) (*Sender, *Listener) {
	t.Helper()
	a, b := vethPair(t)
	group := netip.MustParseAddr("239.9.9.9")
	l, err := ListenConfig{Groups: []netip.Addr{group}, Port: port, IfIndex: b, RcvBuf: 4 << 20, GRO: gro}.Listen(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s, err := Dial(group, port, SendOptions{IfIndex: a, Source: netip.MustParseAddr("10.9.0.1"), TTL: 1, NoLoop: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, l
}

// segments fills a buffer with n datagrams of size bytes, datagram i
// starting with its number.
func segments(n, size int) []byte {
	buf := make([]byte, n*size)
	for i := range n {
		copy(buf[i*size:], fmt.Sprintf("datagram %04d ", i))
	}
	return buf
}

// readN reads until n datagrams arrived and returns them (copied).
func readN(ctx context.Context, t *testing.T, l *Listener, b *Batch, n int) (got [][]byte) {
	t.Helper()
	for len(got) < n {
		ds, err := l.ReadBatch(ctx, b)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), n, err)
		}
		for _, d := range ds {
			got = append(got, bytes.Clone(d.Payload))
		}
	}
	return got
}

// A UDP_SEGMENT send of 64 datagrams arrives as 64 datagrams, in order and
// intact, with UDP_GRO (coalesced by the kernel, split again by ReadBatch)
// and without it.
func TestSegmentsArriveSplit(t *testing.T) {
	for _, tt := range []struct {
		name string
		gro  bool
		size int
	}{
		{"gro 64", true, 64},
		{"gro 1000", true, 1000},
		{"plain 64", false, 64},
		{"gro short last", true, 100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, l := pair(t, 41000+uint16(tt.size)+map[bool]uint16{true: 1}[tt.gro], tt.gro)
			n := 64
			buf := segments(n, tt.size)
			if tt.name == "gro short last" {
				buf = buf[:len(buf)-30] // the last datagram is 70 bytes
			}
			if err := s.SendSegments(buf, tt.size); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got := readN(ctx, t, l, NewBatch(64, 65536), n)
			for i, p := range got {
				want := buf[i*tt.size : min((i+1)*tt.size, len(buf))]
				if !bytes.Equal(p, want) {
					t.Fatalf("datagram %d: got %d bytes %q..., want %d bytes %q...", i, len(p), p[:min(16, len(p))], len(want), want[:16])
				}
			}
		})
	}
}

// With UDP_GRO the kernel hands a UDP_SEGMENT send over as one coalesced
// datagram, which ReadBatch splits; without it, one message per datagram.
func TestGROCoalesces(t *testing.T) {
	s, l := pair(t, 41500, true)
	if err := s.SendSegments(segments(64, 64), 64); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := NewBatch(64, 65536)
	ds, err := l.ReadBatch(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) < 2 {
		t.Fatalf("one read gave %d datagrams: the kernel did not coalesce (UDP_GRO)", len(ds))
	}
	seen := map[*byte]bool{}
	for _, d := range ds {
		if len(d.Payload) != 64 {
			t.Errorf("segment of %d bytes, want 64", len(d.Payload))
		}
		seen[&d.Payload[0]] = true
	}
	if len(seen) != len(ds) {
		t.Errorf("%d segments share %d buffers", len(ds), len(seen))
	}
}

// The hot paths allocate nothing: a UDP_SEGMENT send of 64 datagrams and
// the reads that take them in, with and without UDP_GRO.
func TestHotPathAllocs(t *testing.T) {
	for _, gro := range []bool{true, false} {
		t.Run(fmt.Sprintf("gro=%v", gro), func(t *testing.T) {
			s, l := pair(t, 41600+map[bool]uint16{true: 1}[gro], gro)
			buf := segments(64, 64)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			b := NewBatch(64, 65536)
			round := func() {
				if err := s.SendSegments(buf, 64); err != nil {
					t.Fatal(err)
				}
				for got := 0; got < 64; {
					ds, err := l.ReadBatch(ctx, b)
					if err != nil {
						t.Fatal(err)
					}
					got += len(ds)
				}
			}
			round() // grow b's output slice once
			if a := testing.AllocsPerRun(50, round); a != 0 {
				t.Errorf("send + receive of 64 datagrams: %.1f allocations, want 0", a)
			}
			one := func() {
				if err := s.Send(buf[:64]); err != nil {
					t.Fatal(err)
				}
				if _, err := l.ReadBatch(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			if a := testing.AllocsPerRun(50, one); a != 0 {
				t.Errorf("Send + ReadBatch of one datagram: %.1f allocations, want 0", a)
			}
		})
	}
}

// A read blocked on an idle socket returns when its context ends, and the
// next read with a fresh context works.
func TestReadBatchContext(t *testing.T) {
	s, l := pair(t, 41700, true)
	b := NewBatch(4, 65536)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, err := l.ReadBatch(ctx, b); err == nil {
		t.Fatal("read on an idle socket returned without error")
	}
	if err := s.Send([]byte("after")); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	ds, err := l.ReadBatch(ctx2, b)
	if err != nil || len(ds) != 1 || string(ds[0].Payload) != "after" {
		t.Fatalf("read with a fresh context: %v, %d datagrams", err, len(ds))
	}
}
