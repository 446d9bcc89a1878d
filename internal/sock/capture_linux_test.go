package sock

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/bpf"
)

// TestPacketBatch: a packet socket opened for batches reads what crosses
// the veth pair, each frame a virtio-net header (a segmented send with its
// segment size), the Ethernet header and the IPv4 packet, and an idle read
// returns nothing once the receive timeout passes.
func TestPacketBatch(t *testing.T) {
	a, _ := vethPair(t)
	// Keep UDP to port 41999 only (IPv4, no IP options).
	prog, err := bpf.Assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: NetOff + 22, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 41999, SkipTrue: 1},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 0x40000},
	})
	if err != nil {
		t.Fatal(err)
	}
	c, err := OpenPacketWith("vb", PacketOptions{Filter: prog, Batch: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := Dial(netip.MustParseAddr("239.9.9.8"), 41999, SendOptions{IfIndex: a, Source: netip.MustParseAddr("10.9.0.1"), TTL: 1, NoLoop: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SendSegments(segments(4, 100), 100); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	datagrams := 0
	for datagrams < 4 && time.Now().Before(deadline) {
		n, err := c.ReadBatch()
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			f := c.Frame(i)
			seg, ok := VNetSegment(f)
			if !ok || len(f) < VNetHdrLen+14+28 {
				t.Fatalf("frame of %d bytes, virtio-net header ok %v", len(f), ok)
			}
			if et := binary.BigEndian.Uint16(f[VNetHdrLen+12:]); et != 0x0800 {
				t.Fatalf("EtherType %#x, want IPv4", et)
			}
			payload := len(f) - VNetHdrLen - 14 - 28
			if seg == 0 {
				datagrams++
			} else {
				datagrams += (payload + seg - 1) / seg
			}
		}
	}
	if datagrams != 4 {
		t.Fatalf("%d datagrams read, want 4", datagrams)
	}
	start := time.Now()
	if n, err := c.ReadBatch(); n != 0 || err != nil {
		t.Errorf("idle read: %d, %v", n, err)
	}
	if d := time.Since(start); d < ReadTimeout*time.Microsecond/2 {
		t.Errorf("idle read returned after %s, before the receive timeout", d)
	}
}
