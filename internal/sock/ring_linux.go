//go:build linux

package sock

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Ring geometry: blocks of 1 MiB (room for the largest aggregate), 32 of
// them, handed over when full or after ringRetire with at least one packet.
const (
	ringBlockSize = 1 << 20
	ringBlocks    = 32
	ringFrameSize = 1 << 11
	ringRetire    = 10 // ms
	// ringVnetHdrLen is sizeof(struct virtio_net_hdr), which precedes the
	// link header of each packet (PACKET_VNET_HDR).
	ringVnetHdrLen = 10
)

// Offsets in a struct tpacket_block_desc (version, offset_to_priv, then
// struct tpacket_hdr_v1) and a struct tpacket3_hdr followed by its
// struct sockaddr_ll.
const (
	blkStatus   = 8
	blkNumPkts  = 12
	blkFirstPkt = 16
	pktNext     = 0
	pktSec      = 4
	pktNsec     = 8
	pktSnapLen  = 12
	pktLen      = 16
	pktMac      = 24
	pktNet      = 26
	pktSLL      = 48 // TPACKET_ALIGN(sizeof(struct tpacket3_hdr))
)

// PacketRing is OpenPacketOffload's capture read through a memory-mapped
// receive ring (TPACKET_V3, as tcpdump reads): the kernel fills blocks of
// packets that Next walks without a system call per packet, so the capture
// keeps up with fast streams; what it cannot queue, it counts (Stats).
type PacketRing struct {
	c     *PacketConn
	ring  []byte
	cur   int // the block being read
	left  int // packets left in it
	off   int // offset of the next packet in the ring
	held  bool
	mu    sync.Mutex
	stats RingStats
}

// RingStats are the kernel's counts for a ring (PACKET_STATISTICS), since
// it opened.
type RingStats struct {
	Packets uint64 // packets the filter passed, dropped ones included
	Drops   uint64 // packets lost because the ring was full
}

// OpenPacketRing opens a capture like OpenPacketOffload, read through a
// TPACKET_V3 receive ring.
func OpenPacketRing(name string, filter []bpf.RawInstruction, allMulti bool) (*PacketRing, error) {
	c, err := OpenPacketOffload(name, filter, allMulti)
	if err != nil {
		return nil, err
	}
	r := &PacketRing{c: c}
	var serr error
	err = c.rc.Control(func(fd uintptr) { serr = r.setup(int(fd)) })
	if err == nil {
		err = serr
	}
	if err != nil {
		c.Close()
		if r.ring != nil {
			unix.Munmap(r.ring)
		}
		return nil, fmt.Errorf("capturing on %s: %w", c.ifaceName(), err)
	}
	return r, nil
}

// setup sets up and maps the ring of the bound socket fd (the kernel
// detaches the socket while it does), then drops what the socket queued
// before: from then on packets go to the ring.
func (r *PacketRing) setup(fd int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("asking for TPACKET_V3: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     ringBlockSize,
		Block_nr:       ringBlocks,
		Frame_size:     ringFrameSize,
		Frame_nr:       ringBlockSize / ringFrameSize * ringBlocks,
		Retire_blk_tov: ringRetire,
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("setting up a receive ring of %d blocks of %d bytes: %w", ringBlocks, ringBlockSize, err)
	}
	ring, err := unix.Mmap(fd, 0, ringBlockSize*ringBlocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mapping the receive ring: %w", err)
	}
	r.ring = ring
	var b [1]byte
	for {
		if _, _, err := unix.Recvfrom(fd, b[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC); err != nil {
			return nil
		}
	}
}

// Ifindex is the interface the ring is bound to (0: every interface).
func (r *PacketRing) Ifindex() int { return r.c.ifindex }

// status is the status word of block i, shared with the kernel.
func (r *PacketRing) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.ring[i*ringBlockSize+blkStatus]))
}

// Next blocks for the next packet and returns its IP packet, from the IP
// header, with what the kernel tells about it and when it arrived; when ctx
// ends it returns ctx.Err(). The bytes and PacketInfo.Addr point into the
// ring: they are valid until the next call. A vanished interface is
// reported as such.
func (r *PacketRing) Next(ctx context.Context) ([]byte, PacketInfo, time.Time, error) {
	for {
		if r.left == 0 {
			if r.held {
				atomic.StoreUint32(r.status(r.cur), unix.TP_STATUS_KERNEL)
				r.cur, r.held = (r.cur+1)%ringBlocks, false
			}
			if err := r.wait(ctx); err != nil {
				return nil, PacketInfo{}, time.Time{}, err
			}
			blk := r.ring[r.cur*ringBlockSize:]
			r.held = true
			r.left = int(binary.NativeEndian.Uint32(blk[blkNumPkts:]))
			r.off = r.cur*ringBlockSize + int(binary.NativeEndian.Uint32(blk[blkFirstPkt:]))
			continue
		}
		r.left--
		end := (r.cur + 1) * ringBlockSize
		if r.off >= end {
			r.left = 0
			continue
		}
		h := r.ring[r.off:end]
		if next := int(binary.NativeEndian.Uint32(h[pktNext:])); next > 0 {
			r.off += next
		} else {
			r.left = 0
		}
		ip, info, at, ok := parseRingPacket(h, r.c.vnet)
		if ok {
			return ip, info, at, nil
		}
	}
}

// Pending reports how many packets Next returns without waiting (those
// left in the block it reads).
func (r *PacketRing) Pending() int { return r.left }

// parseRingPacket reads one struct tpacket3_hdr, its struct sockaddr_ll
// and, with vnet, the virtio header before the link header.
func parseRingPacket(h []byte, vnet bool) ([]byte, PacketInfo, time.Time, bool) {
	ne := binary.NativeEndian
	if len(h) < pktSLL+20 {
		return nil, PacketInfo{}, time.Time{}, false
	}
	snap, wire := int(ne.Uint32(h[pktSnapLen:])), int(ne.Uint32(h[pktLen:]))
	mac, net := int(ne.Uint16(h[pktMac:])), int(ne.Uint16(h[pktNet:]))
	if net < mac || mac+snap > len(h) || net > mac+snap || (vnet && mac < pktSLL+20+ringVnetHdrLen) {
		return nil, PacketInfo{}, time.Time{}, false
	}
	sll := h[pktSLL:]
	info := PacketInfo{
		Ifindex: int(int32(ne.Uint32(sll[4:]))),
		Hatype:  ne.Uint16(sll[8:]),
		Pkttype: sll[10],
		Addr:    sll[12 : 12+min(int(sll[11]), 8)],
		Len:     wire - (net - mac),
	}
	if vnet {
		v := h[mac-ringVnetHdrLen : mac]
		if v[1]&^unix.VIRTIO_NET_HDR_GSO_ECN == unix.VIRTIO_NET_HDR_GSO_UDP_L4 {
			info.GSOSize = int(ne.Uint16(v[4:6]))
		}
	}
	at := time.Unix(int64(ne.Uint32(h[pktSec:])), int64(ne.Uint32(h[pktNsec:])))
	return h[net : mac+snap], info, at, true
}

// wait blocks until the kernel hands over the current block, the socket
// reports an error (the interface went down), or ctx ends.
func (r *PacketRing) wait(ctx context.Context) error {
	st := r.status(r.cur)
	if atomic.LoadUint32(st)&unix.TP_STATUS_USER != 0 {
		return nil
	}
	stop := context.AfterFunc(ctx, func() { r.c.f.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var serr error
	err := r.c.rc.Read(func(fd uintptr) bool {
		if atomic.LoadUint32(st)&unix.TP_STATUS_USER != 0 {
			return true
		}
		if e, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_ERROR); err == nil && e != 0 {
			serr = unix.Errno(e)
			return true
		}
		return false
	})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err == nil {
		err = serr
	}
	if err != nil {
		if errors.Is(err, unix.ENETDOWN) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.ENODEV) {
			return fmt.Errorf("capturing on %s: the interface went down or vanished: %w", r.c.ifaceName(), err)
		}
		return fmt.Errorf("capturing on %s: %w", r.c.ifaceName(), err)
	}
	return nil
}

// Stats returns the kernel's counts since the ring opened. It may be
// called while another goroutine reads.
func (r *PacketRing) Stats() (RingStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var serr error
	err := r.c.rc.Control(func(fd uintptr) {
		var st *unix.TpacketStatsV3
		// The kernel resets its counts on each read: add them up.
		if st, serr = unix.GetsockoptTpacketStatsV3(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS); serr == nil {
			r.stats.Packets += uint64(st.Packets)
			r.stats.Drops += uint64(st.Drops)
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return r.stats, fmt.Errorf("reading the capture's statistics on %s: %w", r.c.ifaceName(), err)
	}
	return r.stats, nil
}

// Close closes the socket and unmaps the ring.
func (r *PacketRing) Close() error {
	err := r.c.Close()
	if merr := unix.Munmap(r.ring); err == nil {
		err = merr
	}
	return err
}
