package fingerprint

import "golang.org/x/sys/cpu"

// usePOPCNT selects hammingRunPOPCNT for hammingRun; read-only after init.
var usePOPCNT = cpu.X86.HasPOPCNT

// hammingRunPOPCNT is hammingRunGo in assembly with the POPCNT
// instruction, which the caller must have checked for; len(out) must be at
// least len(b).
//
//go:noescape
func hammingRunPOPCNT(a *cylBits, b []cylBits, out []uint32)
