//go:build !linux

package hugepage

const supported = false

func advise([]byte) {}

func adviseHeap([]byte) {}

func totalMemory() uint64 { return 0 }
