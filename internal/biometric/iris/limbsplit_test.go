package iris

import (
	"math"
	"testing"
)

// TestLimbusSplit: a synthetic eye whose left limbus is weak and has a
// stronger inner edge (a lash shadow's border) 86 px from the pupil centre
// (the left limbus at 106 px, the right at 104: CASIA-IrisV1 101_2_3).
// Without the rule the
// weaker-arc search settles off centre between the two edges; with it
// the limbus is centred on the pupil at the real radius. An iris that is
// really off centre, within the search's reach, is left where it is.
func TestLimbusSplit(t *testing.T) {
	render := func(px, ix float64, shadow bool) gray {
		g := gray{w: 320, h: 280, p: make([]float32, 320*280)}
		const py = 140.0
		for y := range g.h {
			for x := range g.w {
				fx, fy := float64(x), float64(y)
				rp := math.Hypot(fx-px, fy-py)
				ri := math.Hypot(fx-ix, fy-py)
				// Soft edges (ramps of 10 px), as CASIA's limbus.
				ramp := func(r, at float64) float64 { return math.Min(1, math.Max(0, (r-at+5)/10)) }
				v := 112 + 38*ramp(ri, 104)
				if shadow && fx < px {
					v = 112 + 20*ramp(rp, 86) + 14*ramp(rp, 106)
				}
				if rp < 50 {
					v = 30
				}
				g.p[y*g.w+x] = float32(v)
			}
		}
		return g
	}
	off := defaultConfig()
	off.limbusSplit = 0
	on := defaultConfig()

	g := render(160, 160, true)
	s0, ok0 := segmentWith(g, off)
	s1, ok1 := segmentWith(g, on)
	if !ok0 || !ok1 {
		t.Fatalf("segment failed: %v %v", ok0, ok1)
	}
	t.Logf("without: iris %+v; with: iris %+v", s0.iris, s1.iris)
	if dx := s0.iris.x - s0.pupil.x; dx < 3 {
		t.Errorf("without the rule the limbus centre is %.1f px off; the case needs it off centre", dx)
	}
	if dx := math.Abs(s1.iris.x - s1.pupil.x); dx > 1 {
		t.Errorf("with the rule the limbus centre is %.1f px off, want at most 1", dx)
	}
	if math.Abs(s1.iris.r-104) > 3 {
		t.Errorf("with the rule the limbus radius is %.1f, want 104 ± 3", s1.iris.r)
	}

	// A real offset of 5 px (within reach, both arcs on the limbus).
	g = render(158, 163, false)
	s0, _ = segmentWith(g, off)
	s1, ok1 = segmentWith(g, on)
	if !ok1 || s1.iris != s0.iris {
		t.Errorf("an iris really 5 px off: %+v with the rule, %+v without", s1.iris, s0.iris)
	}
	if dx := s1.iris.x - s1.pupil.x; math.Abs(dx-5) > 1 {
		t.Errorf("an iris really 5 px off found %.1f px off", dx)
	}
}
