package iris

import (
	"fmt"
	"math"
	"os"
	"testing"
)

// TestDevLimbus11 prints, for the images of ASSENT_IRIS_DEV_LIMB, the
// limbus search's landscape: for each sideways offset of the centre from
// the pupil's, the best radius and edge strength of each lateral arc
// alone and of the weakest-arc rule, and where each arc's edge lies
// measured from the pupil centre. A development aid: ASSENT_IRIS_DEV=1.
func TestDevLimbus11(t *testing.T) {
	if os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1")
	}
	c, err := tuneConfig(os.Getenv("ASSENT_IRIS_TUNE"))
	if err != nil {
		t.Fatal(err)
	}
	for p, g := range devImages(t, "ASSENT_IRIS_DEV_LIMB", c) {
		seg, ok := segmentWith(g, c)
		s := boxBlur(g, 2)
		pr := seg.pupil
		t.Logf("%s ok %v pupil (%.1f,%.1f) r %.1f iris (%.1f,%.1f) r %.1f dx %.1f d %.2f alt r %.1f d %.2f", p, ok, pr.x, pr.y, pr.r, seg.iris.x, seg.iris.y, seg.iris.r, seg.iris.x-pr.x, seg.contrast, seg.alt.r, seg.altD)
		irisArcs := [][2]float64{{-math.Pi / 8, math.Pi / 5}, {4 * math.Pi / 5, 9 * math.Pi / 8}}
		t.Logf("split %.1f reach %.1f", limbusSplit(s, pr, seg.iris, math.Max(3, pr.r*0.1), irisArcs, c.limbusSplitInner), math.Max(3, pr.r*0.1)+1)
		minSide := float64(min(g.w, g.h))
		r0 := int(math.Max(pr.r*1.5, pr.r+10))
		r1 := int(math.Min(pr.r*4, minSide*0.5))
		span := math.Max(3, pr.r*0.1)
		for dx := -math.Ceil(span + 1); dx <= span+1+1e-9; dx += 1 {
			line := fmt.Sprintf("dx %+4.1f:", dx)
			for a := range irisArcs {
				b, d := bestEdge(s, pr.x+dx, pr.y, 0, 0, 1, r0, r1, 5, irisArcs[a:a+1], 96, 0)
				line += fmt.Sprintf(" arc%d r %.0f d %.2f;", a, b.r, d)
			}
			b, d := bestEdge(s, pr.x+dx, pr.y, 0, 0, 1, r0, r1, 5, irisArcs, 96, c.oneArc)
			line += fmt.Sprintf(" both r %.0f d %.2f", b.r, d)
			t.Log(line)
		}
		// Each arc's derivative profile from the pupil centre.
		for a := range irisArcs {
			prof := arcProfile(s, pr.x, pr.y, r0-5, r1+5, irisArcs[a:a+1], 96)
			line := fmt.Sprintf("arc %d from pupil:", a)
			for i := 5; i+5 < len(prof); i += 2 {
				var d float64
				for k := 1; k <= 5; k++ {
					d += prof[i+k] - prof[i-k]
				}
				line += fmt.Sprintf(" %d:%.0f/%.1f", r0-5+i, prof[i], d/5)
			}
			t.Log(line)
		}
	}
}
