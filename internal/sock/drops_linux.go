package sock

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Drops is how many datagrams the kernel dropped on this socket so far,
// nearly all because its receive buffer was full: datagrams that arrived
// and that no read will return. It reads the socket's counter
// (SO_MEMINFO), else the last one a datagram carried (SO_RXQ_OVFL).
func (l *Listener) Drops() uint64 {
	seen := uint64(l.seenDrops.Load())
	var mem [unix.SK_MEMINFO_VARS]uint32
	size := uint32(unsafe.Sizeof(mem))
	var errno unix.Errno
	err := l.raw.Control(func(fd uintptr) {
		_, _, errno = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
			uintptr(unsafe.Pointer(&mem[0])), uintptr(unsafe.Pointer(&size)), 0)
	})
	if err != nil || errno != 0 || size <= unix.SK_MEMINFO_DROPS*4 {
		return seen
	}
	return max(seen, uint64(mem[unix.SK_MEMINFO_DROPS]))
}

// Pending reports whether datagrams wait in the socket's receive buffer: a
// receive that ends on an idle timeout reads them first.
func (l *Listener) Pending() bool {
	pending := false
	l.raw.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		pending = err == nil && n > 0 && pfd[0].Revents&unix.POLLIN != 0
	})
	return pending
}
