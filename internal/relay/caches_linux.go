package relay

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeSlots allocates the table of transmissions seen outside the Go heap,
// in huge pages where the kernel has them (transparent huge pages on
// madvise): every datagram looks up a random slot of the table, and with
// 4 KiB pages such a lookup would also walk the page tables. It falls back
// to the Go heap.
func hugeSlots(n int) ([]seenSlot, func()) {
	const huge = 2 << 20
	size := n * int(unsafe.Sizeof(seenSlot{}))
	// Mapped a huge page larger, to start on a huge page boundary.
	m, err := unix.Mmap(-1, 0, size+huge, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return make([]seenSlot, n), nil
	}
	off := (huge - int(uintptr(unsafe.Pointer(&m[0]))%huge)) % huge
	b := m[off : off+size]
	unix.Madvise(b, unix.MADV_HUGEPAGE)
	// Fault every page in now, or the first datagrams after a start wait
	// for it (zeroing, and compaction for huge pages): 10 to 17 ms added to
	// the first datagrams in the lab before this.
	for i := 0; i < len(b); i += 4096 {
		b[i] = 0
	}
	// It holds no Go pointers, so the collector need not see it.
	return unsafe.Slice((*seenSlot)(unsafe.Pointer(&b[0])), n), func() { unix.Munmap(m) }
}
