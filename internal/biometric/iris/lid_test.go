package iris

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"slices"
	"testing"
)

// lidTestGeometry is a pupil of radius 40 in an iris of 100, concentric.
func lidTestGeometry() (*segmentation, config) {
	c := defaultConfig()
	c.lidCurve, c.lidMin, c.lidInlier, c.lidUpperOnly, c.lidMaxSigma = true, 40, 0.8, true, 3
	return &segmentation{pupil: circle{200, 150, 40}, iris: circle{200, 150, 100}}, c
}

// lidRow is the first band row of column j beyond the curve y = f(x)
// (pupil-centred coordinates, upper side), or rows if none.
func lidRow(s *segmentation, c config, j int, f func(x float64) float64) int {
	for i := range c.polarRows {
		x, y := bandPoint(s, c, i, j)
		if y-s.pupil.y < f(x-s.pupil.x) {
			return i
		}
	}
	return c.polarRows
}

// An upper eyelid found in only some columns (a faint stretch between):
// the fitted curve covers the columns between them where the lid really is.
func TestLidCurveFillsGaps(t *testing.T) {
	s, c := lidTestGeometry()
	lid := func(x float64) float64 { return 0.006*x*x - 58 }
	want := make([]int, c.polarCols)
	front := make([]int, c.polarCols)
	found := 0
	for j := range c.polarCols {
		want[j] = lidRow(s, c, j, lid)
		front[j] = c.polarRows
		sn := math.Sin(2 * math.Pi * float64(j) / float64(c.polarCols))
		// Detected on the outer thirds of the upper sector only.
		if sn < -0.3 && want[j] < c.polarRows && (j < 320 || j > 448) {
			front[j] = want[j]
			found++
		}
	}
	if found < c.lidMin {
		t.Fatalf("test geometry: only %d fronts found", found)
	}
	lidCurves(front, s, c)
	filled := 0
	for j := 320; j <= 448; j++ {
		if want[j] >= c.polarRows {
			continue
		}
		if d := front[j] - want[j]; d < -1 || d > 1 {
			t.Errorf("column %d: front %d, the lid crosses at row %d", j, front[j], want[j])
		}
		filled++
	}
	if filled == 0 {
		t.Fatal("test geometry: the lid never crosses the gap")
	}
}

// Scattered fronts (texture, not a lid) and too few fronts leave the
// fronts as they were: no curve, no extra mask.
func TestLidCurveIgnoresNoise(t *testing.T) {
	s, c := lidTestGeometry()
	r := rand.New(rand.NewPCG(1, 2))
	front := make([]int, c.polarCols)
	for j := range front {
		front[j] = c.polarRows
		if math.Sin(2*math.Pi*float64(j)/float64(c.polarCols)) < -0.3 && r.IntN(2) == 0 {
			front[j] = r.IntN(c.polarRows)
		}
	}
	before := slices.Clone(front)
	lidCurves(front, s, c)
	if !slices.Equal(front, before) {
		t.Error("scattered fronts were fitted as an eyelid")
	}
	lid := func(x float64) float64 { return 0.006*x*x - 58 }
	for j := range front {
		front[j] = c.polarRows
	}
	for j := 340; j < 340+c.lidMin-1; j++ {
		front[j] = lidRow(s, c, j, lid)
	}
	before = slices.Clone(front)
	lidCurves(front, s, c)
	if !slices.Equal(front, before) {
		t.Errorf("a curve was fitted through %d fronts, fewer than lidMin %d", c.lidMin-1, c.lidMin)
	}
}

// TestDetrendBand checks the band detrending (config detrend, off by
// default): a constant offset is removed, an occluded sample becomes 0 and
// a texture at the filter's wavelength passes unchanged where the window
// has no occlusion.
func TestDetrendBand(t *testing.T) {
	const n, width = 512, 24
	x := make([]complex128, n)
	want := make([]float64, n)
	for j := range x {
		want[j] = math.Sin(2 * math.Pi * float64(j) / (width + 1))
		x[j] = complex(100+want[j], 0)
	}
	for j := 200; j < 240; j++ {
		x[j] = cmplx.NaN()
	}
	detrendBand(x, width)
	for j, z := range x {
		if imag(z) != 0 || cmplx.IsNaN(z) {
			t.Fatalf("sample %d: %v", j, z)
		}
		switch {
		case j >= 200 && j < 240:
			if real(z) != 0 {
				t.Fatalf("occluded sample %d: %v, want 0", j, z)
			}
		case j >= width && j < 200-width || j >= 240+width && j < n-width:
			// The window (width+1 samples) holds one whole period, away
			// from the occlusion and the wrap: its mean is the offset.
			if d := math.Abs(real(z) - want[j]); d > 1e-9 {
				t.Fatalf("sample %d: %.6f, want %.6f", j, real(z), want[j])
			}
		}
	}
}

// A lower lid over the outer band (a step of 2 sigma from row 20 outward
// on the lower side) is masked from its edge by maskOcclusions; a slow
// illumination gradient of the same total rise, or a step that falls back
// (a bright ring of iris), is not. With lidStep off the lid is not masked:
// most of it is under the 3-sigma bright rule (single samples over it and
// their columns are masked).
func TestLowerLidStep(t *testing.T) {
	c := defaultConfig()
	rows, cols := c.polarRows, c.polarCols
	const sigma, med = 10.0, 120.0
	r := rand.New(rand.NewPCG(3, 4))
	lower := func(j int) bool { return math.Sin(2*math.Pi*float64(j)/float64(cols)) > 0.6 }
	mk := func(f func(i int) float64) []float32 {
		b := make([]float32, rows*cols)
		for i := range rows {
			for j := range cols {
				v := med + sigma*r.NormFloat64()
				if lower(j) {
					v += sigma * f(i)
				}
				b[i*cols+j] = float32(v)
			}
		}
		return b
	}
	// masked reports the share of occluded samples in the lower columns
	// at rows 24-31 and at rows 0-15.
	masked := func(band []float32, c config) (outer, inner float64) {
		occ := make([]bool, len(band))
		maskOcclusions(band, occ, c)
		var no, ni, n int
		for j := range cols {
			if !lower(j) {
				continue
			}
			n++
			for i := range rows {
				if occ[i*cols+j] {
					if i >= 24 {
						no++
					}
					if i < 16 {
						ni++
					}
				}
			}
		}
		return float64(no) / float64(8*n), float64(ni) / float64(16*n)
	}
	lid := mk(func(i int) float64 {
		if i >= 20 {
			return 2
		}
		return 0
	})
	gradient := mk(func(i int) float64 { return 1.5 * float64(i) / float64(rows-1) })
	ring := mk(func(i int) float64 {
		if i >= 12 && i < 18 {
			return 1.5
		}
		return 0
	})
	off := c
	off.lidStep = 0
	if o, in := masked(lid, c); o < 0.9 || in > 0.05 {
		t.Errorf("lower lid: %.2f of the outer rows and %.2f of the inner masked, want >= 0.9 and <= 0.05", o, in)
	}
	if o, _ := masked(lid, off); o > 0.5 {
		t.Errorf("lower lid with lidStep off: %.2f of the outer rows masked, want <= 0.5 (the test's lid must be mostly under the 3-sigma rule)", o)
	}
	for _, x := range []struct {
		name string
		band []float32
	}{{"gradient", gradient}, {"ring", ring}} {
		o, in := masked(x.band, c)
		o0, in0 := masked(x.band, off)
		if o-o0 > 0.03 || in-in0 > 0.03 {
			t.Errorf("%s: %.2f of the outer rows and %.2f of the inner masked, %.2f and %.2f with lidStep off, want at most 0.03 more", x.name, o, in, o0, in0)
		}
	}
}
