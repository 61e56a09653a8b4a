package iris

import (
	"math"
	"math/bits"
)

// Degrees of freedom per template (issue 17, fifth round; docs/iris.md).
//
// An impostor distance over n compared bits has variance 0.25 (1 + S) / n,
// where S sums, over the offsets at which code bits are correlated, the
// product of the two codes' correlations: the more a code's bits follow
// their neighbours, the fewer independent bits it has and the wider, and
// closer to 0, its impostor distances reach. CASIA-IrisV1's codes are more
// correlated along the angle than IITD's (S 1.44 against 1.22 on average),
// so a threshold fitted on one sensor lets more impostors through on the
// other. Each template's S over the lags along its rows is computed once
// (RowCorrelation); the matcher takes the pair's S as the geometric mean
// of the two templates' and scales n by ((1 / (1 + S)) / rowCorrRef) to
// the power dofWeight (pairNorm; the power 2.5 since the seventh round).

// RowCorrelationLags is the largest lag, in columns, of RowCorrelation.
const RowCorrelationLags = 6

// rowCorrRef is the degrees of freedom per bit (1 / (1 + S)) at which the
// factor is 1: it only sets the scale of the distance (every pair's
// distance from 0.5 is multiplied by the same function of S), chosen near
// the middle of both sets' templates so distances stay close to those of
// the plain rescaling.
const rowCorrRef = 0.43

// RowCorrelation returns the sum, over lags of 0 to ±RowCorrelationLags
// columns along the rows and over both bit kinds (the real bit of a sample
// against the imaginary bit at the lag, and the same kind at a non-zero
// lag), of the squared correlation of t's code with itself, each less its
// sampling variance 1/n (n the bit pairs usable at both ends), so that an
// uncorrelated code gives about 0. Computed on the packed code in a few
// microseconds. A template with too few usable bits gives 0.
func (t *Template) RowCorrelation() float64 {
	return rowCorrelation(t.Code, t.Mask, t.Rows, t.Cols)
}

// rowCorrelation is RowCorrelation on a code and its mask.
func rowCorrelation(code, mask []uint64, rows, cols int) float64 {
	w := len(code)
	rc := make([]uint64, w)
	rm := make([]uint64, w)
	var s float64
	term := func(kk int, twice bool) {
		var diff, n int
		for i := range w {
			c, m := rc[i], rm[i]
			if kk == 1 {
				c, m = swapKinds(c), swapKinds(m)
			}
			mk := mask[i] & m
			diff += bits.OnesCount64((code[i] ^ c) & mk)
			n += bits.OnesCount64(mk)
		}
		if n < 64 {
			return
		}
		r := 1 - 2*float64(diff)/float64(n)
		u := r*r - 1/float64(n)
		if twice {
			u *= 2
		}
		s += u
	}
	fast := 2*rows*cols == 64*w
	for lag := 0; lag <= RowCorrelationLags; lag++ {
		if fast {
			rotateBits(rc, code, lag*2*rows)
			rotateBits(rm, mask, lag*2*rows)
		} else {
			rotate(rc, code, rows, cols, lag)
			rotate(rm, mask, rows, cols, lag)
		}
		if lag > 0 {
			term(0, true)
		}
		term(1, lag > 0)
	}
	return s
}

// corrRoot is the square root of a template's RowCorrelation (0 when it
// is negative), rounded to the float32 a gallery keeps per entry (so that
// Distance and the gallery agree exactly): a pair's S is the product of
// the two.
func corrRoot(s float64) float64 { return float64(float32(math.Sqrt(max(s, 0)))) }

// pairNorm is the matcher's NormBits for a pair whose corrRoots are qa
// and qb: norm ((1 + qa qb) rowCorrRef)^dofWeight, so that the rescaled
// distance 0.5 - (0.5 - raw) sqrt(n / pairNorm) scales n by the pair's
// degrees of freedom per bit 1 / (1 + S) relative to rowCorrRef, raised
// to dofWeight.
func pairNorm(norm, qa, qb float64) float64 {
	x := (1 + qa*qb) * rowCorrRef
	return norm * x * x * math.Sqrt(x)
}

// dofWeight is the power of the degrees-of-freedom factor in pairNorm
// (issue 17, seventh round; 1 before it): 2.5, written out in pairNorm
// as x x sqrt(x). Within one sensor a weight of 1 to 1.75 makes the
// impostor tail independent of S (TestDevFitG7); between CASIA-IrisV1
// and IITD the tail differs by more than their S explains, and 2.5 is the
// weight at which each set's thresholds give the other the asked FMR
// within 1.1x (docs/iris.md, "Issue 17, seventh round").
const dofWeight = 2.5

// rotateBits is rotateWords without a division per word (s < 64
// len(src)): bit i of src moves to bit (i+s) mod 64 len(src) of dst.
func rotateBits(dst, src []uint64, s int) {
	w := len(src)
	q, r := s/64, uint(s%64)
	for i := range w {
		hi := i - q
		if hi < 0 {
			hi += w
		}
		lo := hi - 1
		if lo < 0 {
			lo += w
		}
		if r == 0 {
			dst[i] = src[hi]
		} else {
			dst[i] = src[hi]<<r | src[lo]>>(64-r)
		}
	}
}

// swapKinds swaps the two bits of every sample (bit 2j, the real part,
// with bit 2j+1, the imaginary part) of one code word.
func swapKinds(x uint64) uint64 {
	const even = 0x5555555555555555
	return (x>>1)&even | (x&even)<<1
}
