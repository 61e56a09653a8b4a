package iris

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
)

// pupilSpread returns the standard deviation of g inside 0.7 of the
// pupil's radius (highlights already filled).
func pupilSpread(g gray, p circle) float64 {
	var s, ss float64
	n := 0
	r := 0.7 * p.r
	for y := int(p.y - r); y <= int(p.y+r); y++ {
		for x := int(p.x - r); x <= int(p.x+r); x++ {
			if x < 0 || y < 0 || x >= g.w || y >= g.h || math.Hypot(float64(x)-p.x, float64(y)-p.y) > r {
				continue
			}
			v := float64(g.p[y*g.w+x])
			s += v
			ss += v * v
			n++
		}
	}
	if n == 0 {
		return math.Inf(1)
	}
	m := s / float64(n)
	return math.Sqrt(max(0, ss/float64(n)-m*m))
}

// TestDevNoise8 counts the random-noise images (uniform grey levels, 200
// seeds) that segment and enrol, and compares the grey-level spread inside
// their "pupil" with that of the real pupils of both data sets (when
// ASSENT_IRIS_DATA and ASSENT_IITD_DATA are set). A development aid:
// ASSENT_IRIS_DEV=1.
func TestDevNoise8(t *testing.T) {
	if os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1")
	}
	c := defaultConfig()
	var enrolled int
	var spreads []float64
	for seed := range uint64(200) {
		noise := image.NewGray(image.Rect(0, 0, 320, 280))
		rng := rand.New(rand.NewPCG(9+seed, 9))
		for i := range noise.Pix {
			noise.Pix[i] = uint8(rng.IntN(256))
		}
		g := toGray(noise, c.maxSide)
		fillHighlights(g)
		seg, ok := segmentWith(g, c)
		tp, _ := extract(noise, c)
		if tp != nil {
			enrolled++
		}
		if ok {
			spreads = append(spreads, pupilSpread(g, seg.pupil))
			t.Logf("NOISE seed %d: lidY %.1f pupil r %.1f edge %.1f spread %.1f iris r %.1f contrast %.1f enrolled %v", seed, seg.lidY, seg.pupil.r, seg.pupilEdge, pupilSpread(g, seg.pupil), seg.iris.r, seg.contrast, tp != nil)
		}
	}
	t.Logf("NOISE: %d of 200 segment, %d enrol", len(spreads), enrolled)
	for _, name := range []string{"ASSENT_IRIS_DATA", "ASSENT_IITD_DATA"} {
		dir := os.Getenv(name)
		if dir == "" {
			continue
		}
		_, _, paths, err := listEyes(dir)
		if err != nil {
			t.Fatal(err)
		}
		sp := make([]float64, len(paths))
		rp := make([]float64, len(paths))
		for i := range sp {
			sp[i] = math.NaN()
		}
		forEachSetImage(dir, paths, c, func(i int, g gray) {
			if seg, ok := segmentWith(g, c); ok {
				sp[i], rp[i] = pupilSpread(g, seg.pupil), seg.pupil.r
			}
		})
		var v, r []float64
		for i := range sp {
			if !math.IsNaN(sp[i]) {
				v = append(v, sp[i])
				r = append(r, rp[i])
			}
		}
		slices.Sort(v)
		slices.Sort(r)
		q := func(x []float64, f float64) float64 { return x[min(int(f*float64(len(x))), len(x)-1)] }
		line := fmt.Sprintf("REAL %s: %d segmented; pupil spread median %.1f p99 %.1f p99.9 %.1f max %.1f; pupil r min %.1f p1 %.1f", name, len(v), q(v, 0.5), q(v, 0.99), q(v, 0.999), v[len(v)-1], r[0], q(r, 0.01))
		t.Log(line)
		for i := range sp {
			if sp[i] > q(v, 0.995) {
				t.Logf("REAL %s %s: spread %.1f r %.1f", name, paths[i], sp[i], rp[i])
			}
		}
	}
}
