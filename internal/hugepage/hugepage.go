// Package hugepage asks the kernel to back large arrays with huge pages
// (2 MiB) before they are first written, unless the environment variable
// ASSENT_HUGEPAGES is "0". On the virtual machines of this project
// (transparent huge pages in "madvise" mode) the first touch of fresh
// memory is dear, and a first touch in 4 KiB pages dearer still: about
// 3.3 s of CPU a GB against 0.2 in huge pages when the host has the
// memory at hand, 4.9 against 2.0 when it has to provide it again (the
// guest reports freed memory to the host: docs/galleries.md,
// "Seventeenth round"). Advise reaches the aligned 2 MiB blocks inside
// one large array; Prepare, before a load, the heap's address space
// that the load's arrays and objects will take. ASSENT_HUGEPAGES=0
// turns both off to measure a machine without them.
package hugepage

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"unsafe"
)

// Size is the huge page size the advice is aligned to.
const Size = 2 << 20

// enabled unless ASSENT_HUGEPAGES=0 (read once, at start).
var enabled = os.Getenv("ASSENT_HUGEPAGES") != "0"

// Advise advises huge pages for the aligned 2 MiB blocks inside s's
// backing array (its capacity), when enabled (see the package comment).
// Only advice: nothing changes if the kernel does not follow it or the
// platform has none. Call it on a fresh array before writing it.
func Advise[T any](s []T) {
	if !enabled {
		return
	}
	var z T
	n := uintptr(cap(s)) * unsafe.Sizeof(z)
	if n < Size {
		return
	}
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s[:cap(s)])))
	lo := (p + Size - 1) &^ (Size - 1)
	hi := (p + n) &^ (Size - 1)
	if hi <= lo {
		return
	}
	advise(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(s[:cap(s)])), lo-p)), hi-lo))
}

// Prepare readies the Go heap for a load that is about to allocate about
// n bytes of long-lived arrays and objects, when enabled (see the package
// comment), and returns the function to call when the load ends:
//
//   - It takes n bytes of address space from the runtime without
//     touching or zeroing them, advises huge pages over them and over the
//     heap's address space already mapped, and hands them back (a
//     collection, then the heap's free memory returned to the system).
//     The runtime places later allocations at the lowest free addresses,
//     so the load's arrays and small objects alike land on advised
//     address space and are first touched in 2 MiB pages, not only the
//     aligned blocks inside large arrays that Advise reaches. Address
//     space the runtime maps later (beyond n) is not advised.
//   - A thread that runs only when a core is otherwise idle makes the
//     heap's pages resident in address order, until done is called or
//     the process's resident memory has grown by four fifths of n: the
//     first touches the load would make itself (about 2 s of CPU a GB
//     on this project's machines) are made in the moments the load
//     leaves a core idle (between reads, or in its one serial step).
//
// Memory already resident stays as it is. A page made resident ahead
// holds zeros, as a fresh one, and is the load's to use. What the load
// did not reach by the time done is called stays resident until the heap
// allocates it: the runtime counts it as released, so its scavenger does
// not return it. The bound above keeps that below four fifths of n. A
// platform without the advice does nothing.
//
// n is capped at half the machine's memory: the runtime asks the kernel
// for the address space in one mapping, which a kernel that limits
// overcommitment may refuse when it is larger than the memory it has (a
// fatal error in the runtime).
func Prepare(n int64) (done func()) {
	n = min(n, int64(totalMemory()/2), math.MaxInt/2)
	if !enabled || !supported || n < Size {
		return func() {}
	}
	// strings.Builder.Grow allocates without zeroing: the runtime maps
	// fresh address space (or reuses free space) without writing a byte
	// of it, which make would do for space used before.
	var sb strings.Builder
	sb.Grow(int(n))
	sb.WriteByte(0)
	p := uintptr(unsafe.Pointer(unsafe.StringData(sb.String())))
	lo := adviseHeap(unsafe.Slice(unsafe.StringData(sb.String()), n))
	runtime.KeepAlive(&sb)
	sb = strings.Builder{}
	// Collected and handed back at once: the runtime then counts the n
	// bytes as released (they were never touched), not as free memory
	// it holds, which a memory limit would count.
	debug.FreeOSMemory()
	if lo == 0 {
		return func() {}
	}
	stop := make(chan struct{})
	go populate(lo, p+uintptr(n)/5*4, resident()+uintptr(n)/5*4, stop)
	var once sync.Once
	return func() { once.Do(func() { close(stop) }) }
}
