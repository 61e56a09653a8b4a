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
