package iris

import (
	"fmt"
	"math"
	"os"
	"testing"
)

// Ninth round of issue 17 (docs/iris.md): the collarette check's outer
// edge, for every image of both sets.

// TestDevColl9 writes, for every image of CASIA-IrisV1 and IITD, the
// shipped segmentation and the collarette check's outer edge searched
// beyond the limbus found (whether or not the check would run), one line
// an image, to ASSENT_IRIS_DEV_OUT: set, path, pupil r, limbus r, its
// edge, outer r, its edge, the limbus's fraction of the way from the
// pupil to the outer edge, and whether the check replaced the limbus.
func TestDevColl9(t *testing.T) {
	out := os.Getenv("ASSENT_IRIS_DEV_OUT")
	if out == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_OUT")
	}
	c := defaultConfig()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, x := range []struct{ name, dir string }{{"casia", os.Getenv("ASSENT_IRIS_DATA")}, {"iitd", os.Getenv("ASSENT_IITD_DATA")}} {
		_, _, paths, err := listEyes(x.dir)
		if err != nil {
			t.Fatal(err)
		}
		lines := make([]string, len(paths))
		forEachSetImage(x.dir, paths, c, func(i int, g gray) {
			seg, ok := segmentWith(g, c)
			if seg.pupil.r == 0 {
				lines[i] = fmt.Sprintf("%s %s nopupil", x.name, paths[i])
				return
			}
			pr, ic := seg.pupil, seg.iris
			fired := seg.alt.r > 0 && seg.alt == seg.iris
			s := boxBlur(g, 2)
			irisArcs := [][2]float64{{-math.Pi / 8, math.Pi / 5}, {4 * math.Pi / 5, 9 * math.Pi / 8}}
			minSide := float64(min(g.w, g.h))
			span := math.Max(3, pr.r*0.1)
			spanY := span * c.limbusDy
			r1c := int(math.Min(pr.r*c.collaretteBound, minSide*0.5))
			var oc circle
			od := math.NaN()
			if o0 := int(ic.r * 1.25); o0 < r1c-6 {
				oc, _ = bestEdge(s, ic.x, ic.y, span, spanY, 1, o0, r1c, 5, irisArcs, 48, c.oneArc)
				oc, od = bestEdge(s, oc.x, oc.y, 1, min(1, spanY), 0.5, int(oc.r)-3, int(oc.r)+3, 5, irisArcs, 96, c.oneArc)
			}
			frac := (ic.r - pr.r) / (oc.r - pr.r)
			lines[i] = fmt.Sprintf("%s %s ok=%v pr %.1f ir %.1f d %.2f or %.1f od %.2f frac %.3f fired %v off %.1f", x.name, paths[i], ok, pr.r, ic.r, seg.contrast, oc.r, od, frac, fired, ic.x-pr.x)
		})
		for _, l := range lines {
			fmt.Fprintln(f, l)
		}
	}
}
