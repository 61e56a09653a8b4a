//go:build !amd64

package fingerprint

// useSSE41 is false: cylinderKeys takes the minima in Go.
const useSSE41 = false

func minhashSSE41(rank *[cylWords * 64][minhashFuncs]uint16, pos []uint16, out *[minhashFuncs]uint16) {
	minhashGo(rank, pos, out)
}
