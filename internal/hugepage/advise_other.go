//go:build !linux

package hugepage

const supported = false

func advise([]byte) {}

func adviseHeap([]byte) uintptr { return 0 }

func populate(lo, hi, limit uintptr, stop <-chan struct{}) {}

func resident() uintptr { return 0 }

func totalMemory() uint64 { return 0 }
