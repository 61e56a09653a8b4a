//go:build !amd64

package fingerprint

// usePOPCNT is false: hammingRun runs hammingRunGo.
const usePOPCNT = false

func hammingRunPOPCNT(a *cylBits, b []cylBits, out []uint32) { hammingRunGo(a, b, out) }
