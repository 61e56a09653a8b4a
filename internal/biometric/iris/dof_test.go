package iris

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRowCorrelation: the packed computation equals the bit-by-bit
// correlations (bias-corrected squares over lags up to ±6 along the rows,
// both bit kinds), is near 0 for a code of independent bits, and is large
// for a code whose neighbouring columns repeat each other, which then
// counts fewer degrees of freedom (its distances from 0.5 shrink).
func TestRowCorrelation(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	random := randomTemplate(r)
	for i := range random.Code {
		random.Code[i] = r.Uint64() // independent bits
	}
	smooth := randomTemplate(r)
	for i := range smooth.Code {
		smooth.Code[i] = r.Uint64()
	}
	R := smooth.Rows
	for col := 1; col < smooth.Cols; col += 2 {
		for row := range R {
			for k := range 2 {
				b, prev := (col*R+row)*2+k, ((col-1)*R+row)*2+k
				w, pw := b>>6, prev>>6
				smooth.Code[w] &^= 1 << (b & 63)
				smooth.Code[w] |= (smooth.Code[pw] >> (prev & 63) & 1) << (b & 63)
			}
		}
	}
	for _, tp := range []*Template{random, smooth} {
		rs, ns, _, _ := codeCorrN(tp, 0, RowCorrelationLags)
		var want float64
		for o := range rs {
			want += float64(rs[o])*float64(rs[o]) - 1/float64(ns[o])
		}
		if got := tp.RowCorrelation(); math.Abs(got-want) > 1e-4 {
			t.Errorf("RowCorrelation %v, bit by bit %v", got, want)
		}
	}
	sr, ss := random.RowCorrelation(), smooth.RowCorrelation()
	if math.Abs(sr) > 0.05 || ss < 0.3 {
		t.Errorf("independent bits: S %.3f (want about 0); repeated columns: S %.3f (want at least 0.3)", sr, ss)
	}
	// The same differing fraction counts for less between smooth codes.
	if a, b := pairNorm(2000, corrRoot(ss), corrRoot(ss)), pairNorm(2000, corrRoot(sr), corrRoot(sr)); !(a > b) {
		t.Errorf("pairNorm smooth %v, random %v: smooth codes must need more bits", a, b)
	}
}

// BenchmarkRowCorrelation times the per-template degrees of freedom (what
// Add, AddForms and Distance pay per template).
func BenchmarkRowCorrelation(b *testing.B) {
	tp := randomTemplate(rand.New(rand.NewPCG(7, 7)))
	for b.Loop() {
		tp.RowCorrelation()
	}
}

// TestPairNormWeight checks pairNorm against its definition,
// norm ((1 + qa qb) rowCorrRef)^dofWeight.
func TestPairNormWeight(t *testing.T) {
	for _, q := range [][2]float64{{0, 0}, {1, 1}, {1.2, 0.9}, {1.5, 1.4}} {
		want := 2000 * math.Pow((1+q[0]*q[1])*rowCorrRef, dofWeight)
		if got := pairNorm(2000, q[0], q[1]); math.Abs(got-want) > 1e-9*want {
			t.Errorf("pairNorm(2000, %g, %g) = %g, want %g", q[0], q[1], got, want)
		}
	}
}
