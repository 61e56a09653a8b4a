// Package hugepage asks the kernel to back large arrays with huge pages
// (2 MiB) before they are first written: on this project's machines (a
// virtual machine; transparent huge pages in "madvise" mode) the first
// touch of a 4 KiB page costs about 10 us of CPU, and a gallery load
// touches a gigabyte of fresh pages (docs/galleries.md, "Sixth round").
package hugepage

import "unsafe"

// Size is the huge page size the advice is aligned to.
const Size = 2 << 20

// Advise advises huge pages for the aligned 2 MiB blocks inside s's
// backing array (its capacity). Only advice: nothing changes if the
// kernel does not follow it or the platform has none. Call it on a fresh
// array before writing it.
func Advise[T any](s []T) {
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
