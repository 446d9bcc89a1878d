package sock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The busiest sockets of the relay (its IPv4 capture and its underlay) are
// blocking sockets read by a goroutine that waits inside recvmmsg, not in
// Go's network poller: the kernel wakes the waiting thread itself, where
// the poller costs an epoll wakeup and a hand-off between threads per
// batch, which at small batches was about half of a relay's CPU time and a
// good part of its added latency. A receive timeout (ReadTimeout) lets the
// loops see that their owner is stopping.

func setReadTimeout(fd int) error {
	tv := unix.Timeval{Usec: ReadTimeout}
	return unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
}

// recvmmsgBlocking waits for a message on the blocking socket fd and reads
// it with those already queued, up to len(hdrs) (MSG_WAITFORONE). It
// returns 0 and no error when the receive timeout passed with nothing read
// or a signal interrupted the wait.
func recvmmsgBlocking(fd int, hdrs []unix.Mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), unix.MSG_WAITFORONE, 0, 0)
	switch errno {
	case 0:
		return int(n), nil
	case unix.EAGAIN, unix.EINTR:
		return 0, nil
	}
	return 0, errno
}

// batchBufs are the receive buffers of a batched blocking socket: one
// buffer of size bytes per message, and optionally a socket address and
// control message space per message.
type batchBufs struct {
	hdrs  []unix.Mmsghdr
	iov   []unix.Iovec
	bufs  [][]byte
	names []unix.RawSockaddrInet6 // nil when the socket's source is not wanted
	oobs  [][]byte                // nil when no control messages are wanted
}

func newBatchBufs(n, size int, names bool, oob int) batchBufs {
	b := batchBufs{hdrs: make([]unix.Mmsghdr, n), iov: make([]unix.Iovec, n), bufs: make([][]byte, n)}
	if names {
		b.names = make([]unix.RawSockaddrInet6, n)
	}
	if oob > 0 {
		b.oobs = make([][]byte, n)
	}
	for i := range b.hdrs {
		b.bufs[i] = make([]byte, size)
		b.iov[i].Base = &b.bufs[i][0]
		b.iov[i].SetLen(size)
		h := &b.hdrs[i].Hdr
		h.Iov = &b.iov[i]
		h.SetIovlen(1)
		if names {
			h.Name = (*byte)(unsafe.Pointer(&b.names[i]))
		}
		if oob > 0 {
			b.oobs[i] = make([]byte, oob)
			h.Control = &b.oobs[i][0]
		}
	}
	return b
}

// read resets the lengths the kernel overwrote and reads a batch from fd.
func (b *batchBufs) read(fd int) (int, error) {
	for i := range b.hdrs {
		h := &b.hdrs[i].Hdr
		if b.names != nil {
			h.Namelen = uint32(unsafe.Sizeof(b.names[i]))
		}
		if b.oobs != nil {
			h.SetControllen(len(b.oobs[i]))
		}
	}
	return recvmmsgBlocking(fd, b.hdrs)
}
