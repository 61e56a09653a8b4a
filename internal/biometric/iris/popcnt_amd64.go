package iris

import "golang.org/x/sys/cpu"

// usePOPCNT selects maskedPOPCNT for masked; read-only after init.
var usePOPCNT = cpu.X86.HasPOPCNT

// maskedPOPCNT is maskedGo in assembly with the POPCNT instruction, which
// the caller must have checked for. It reads len(e)/2 word pairs of p and
// e; len(p) must be at least len(e).
//
//go:noescape
func maskedPOPCNT(p, e []uint64) (diff, n int)
