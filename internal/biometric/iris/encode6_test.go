package iris

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRadialPairs checks the sum and difference of neighbouring rows and
// that two correlated rows of equal variance come out uncorrelated.
func TestRadialPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 4096
	a, b := make([]complex128, n), make([]complex128, n)
	for j := range n {
		common, x, y := rng.NormFloat64(), rng.NormFloat64(), rng.NormFloat64()
		a[j] = complex(common+0.5*x, 0)
		b[j] = complex(common+0.5*y, 0)
	}
	corr := func(u, v []complex128) float64 {
		var uv, uu, vv float64
		for j := range u {
			uv += real(u[j]) * real(v[j])
			uu += real(u[j]) * real(u[j])
			vv += real(v[j]) * real(v[j])
		}
		return uv / math.Sqrt(uu*vv)
	}
	if r := corr(a, b); r < 0.7 {
		t.Fatalf("input rows correlated %.2f, want > 0.7", r)
	}
	a0, b0 := a[7], b[7]
	frac := [][]float64{make([]float64, n), make([]float64, n)}
	frac[0][7], frac[1][7] = 0.25, 0.5
	resp := [][]complex128{a, b}
	radialPairs(resp, frac)
	if resp[0][7] != (a0+b0)/2 || resp[1][7] != (a0-b0)/2 {
		t.Fatalf("pair at 7: %v %v, want %v %v", resp[0][7], resp[1][7], (a0+b0)/2, (a0-b0)/2)
	}
	if frac[0][7] != 0.5 || frac[1][7] != 0.5 {
		t.Fatalf("occluded fractions %v %v, want the larger, 0.5", frac[0][7], frac[1][7])
	}
	if r := corr(resp[0], resp[1]); math.Abs(r) > 0.1 {
		t.Fatalf("sum and difference correlated %.2f, want about 0", r)
	}
}

// TestWhiteningSlope checks that the power-law whitening brings a spectrum
// falling as k^-s to the reference slope, and that spectrumSlope reads s.
func TestWhiteningSlope(t *testing.T) {
	const n, centre = 512, 21
	for _, s := range []float64{-1.2, -0.6} {
		x := make([]complex128, n)
		for k := 1; k < n/2; k++ {
			x[k] = complex(math.Pow(float64(k), s/2), 0)
		}
		p := make([]float64, n)
		for k := range x {
			p[k] = real(x[k]) * real(x[k])
		}
		if got := spectrumSlope(p, centre); math.Abs(got-s) > 1e-9 {
			t.Fatalf("slope %.4f, want %.4f", got, s)
		}
		for _, ref := range []float64{0, -0.9} {
			w := whitening([][]complex128{x}, -centre, 1, ref, false, 0)
			q := make([]float64, n)
			for k := range x {
				v := real(x[k]) * w[k]
				q[k] = v * v
			}
			if got := spectrumSlope(q, centre); math.Abs(got-ref) > 1e-9 {
				t.Fatalf("slope %.2f whitened to %.2f: %.4f", s, ref, got)
			}
			// Only a steeper spectrum is moved with steepOnly.
			w = whitening([][]complex128{x}, -centre, 1, ref, true, 0)
			for k := range x {
				v := real(x[k]) * w[k]
				q[k] = v * v
			}
			want := s
			if s < ref {
				want = ref
			}
			if got := spectrumSlope(q, centre); math.Abs(got-want) > 1e-9 {
				t.Fatalf("slope %.2f, steeper only, reference %.2f: %.4f, want %.4f", s, ref, got, want)
			}
		}
	}
}
