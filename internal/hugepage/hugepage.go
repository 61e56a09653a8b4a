// Package hugepage can ask the kernel to back large arrays with huge pages
// (2 MiB) before they are first written. It does so only when the
// environment variable ASSENT_HUGEPAGES is "1": on the virtual machine of
// the eleventh session (transparent huge pages in "madvise" mode) the
// first touch of fresh memory cost more in advised huge pages than in 4
// KiB pages (about 2.9 s of CPU a GiB against 0.4 to 2.4), and a snapshot
// load took less CPU without the advice (docs/galleries.md, "Eleventh
// round"); the sixth session's machine had found the opposite ("Sixth
// round"), so the advice stays to be measured on each machine.
package hugepage

import (
	"os"
	"unsafe"
)

// Size is the huge page size the advice is aligned to.
const Size = 2 << 20

// enabled: ASSENT_HUGEPAGES=1 (read once, at start).
var enabled = os.Getenv("ASSENT_HUGEPAGES") == "1"

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
