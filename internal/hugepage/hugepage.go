// Package hugepage asks the kernel to back large arrays with huge pages
// (2 MiB) before they are first written, unless the environment variable
// ASSENT_HUGEPAGES is "0". On the virtual machines of this project
// (transparent huge pages in "madvise" mode) the first touch of fresh
// memory is dear, and whether huge pages make it cheaper depends on the
// machine and the size: the eleventh session's machine took less CPU
// without the advice for a 100,000-person load but more at a million
// (a start from a snapshot 35.5 / 39.3 s with it, 42.4 / 46.0 s without;
// docs/galleries.md, "At a million people, eleventh session"), so the
// advice stays on by default and ASSENT_HUGEPAGES=0 turns it off to
// measure a machine.
package hugepage

import (
	"os"
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
