//go:build !amd64

package iris

// usePOPCNT is false: masked runs maskedGo.
const usePOPCNT = false

func maskedPOPCNT(p, e []uint64) (diff, n int) { return maskedGo(p, e) }
