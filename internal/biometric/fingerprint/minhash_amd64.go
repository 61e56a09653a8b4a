package fingerprint

import "golang.org/x/sys/cpu"

// useSSE41 selects minhashSSE41 for cylinderKeys; read-only after init.
var useSSE41 = cpu.X86.HasSSE41

// minhashSSE41 sets out[f] to the least rank[p][f] over the positions p in
// pos (0xffff when pos is empty), 8 functions per PMINUW instruction (an
// SSE4.1 instruction, which the caller must have checked for). Every p
// must be below len(rank).
//
//go:noescape
func minhashSSE41(rank *[cylWords * 64][minhashFuncs]uint16, pos []uint16, out *[minhashFuncs]uint16)
