package iris

import (
	"fmt"
	"iter"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// TestDevProf8 prints, for the images of ASSENT_IRIS_DEV_PROF, the
// limbus search's two lateral arc profiles around the limbus centre found
// (radius: mean grey / smoothed derivative), every third radius.
func TestDevProf8(t *testing.T) {
	c := defaultConfig()
	for p, g := range devImages(t, "ASSENT_IRIS_DEV_PROF", c) {
		seg, _ := segmentWith(g, c)
		s := boxBlur(g, 2)
		arcs := [][2]float64{{-math.Pi / 8, math.Pi / 5}, {4 * math.Pi / 5, 9 * math.Pi / 8}}
		r0, r1 := int(seg.pupil.r*1.5), int(seg.pupil.r*4)
		t.Logf("%s pupil %.0f iris %.1f (dx %.1f) contrast %.1f", p, seg.pupil.r, seg.iris.r, seg.iris.x-seg.pupil.x, seg.contrast)
		for a := range arcs {
			pr := arcProfile(s, seg.iris.x, seg.iris.y, r0, r1, arcs[a:a+1], 96)
			line := ""
			for i := 5; i+5 < len(pr); i += 3 {
				var d float64
				for k := 1; k <= 5; k++ {
					d += pr[i+k] - pr[i-k]
				}
				line += fmt.Sprintf(" %d:%.0f/%.1f", r0+i, pr[i], d/5)
			}
			t.Logf("arc %d:%s", a, line)
		}
	}
}

// TestDevComps8 prints the dark components findPupil weighs (plausible
// size, any shape) for the images of ASSENT_IRIS_DEV_COMPS.
func TestDevComps8(t *testing.T) {
	for p, g := range devImages(t, "ASSENT_IRIS_DEV_COMPS", defaultConfig()) {
		s := boxBlur(g, 2)
		minSide := min(s.w, s.h)
		rMin, rMax := max(6, float64(minSide)/40), float64(minSide)/3.5
		base := percentile(s.p, 0.002)
		erode := max(2, minSide/60)
		t.Logf("%s: %dx%d base %.0f rMin %.1f rMax %.1f erode %d", p, s.w, s.h, base, rMin, rMax, erode)
		in := make([]bool, len(s.p))
		lab := make([]int32, len(s.p))
		var integral []int32
		for _, open := range []int{0, erode} {
			for _, dt := range []float32{4, 8, 12, 18, 26, 36, 48} {
				for i, v := range s.p {
					in[i] = v < base+dt
				}
				if open > 0 {
					integral = erodeMask(in, s.w, s.h, open, integral)
				}
				comps, _ := labelComponents(in, s.w, s.h, lab, nil)
				for _, cc := range comps {
					r := math.Sqrt(float64(cc.area)/math.Pi) + float64(open)
					if r < rMin || r > rMax*1.5 {
						continue
					}
					bw, bh := float64(cc.maxX-cc.minX+1+2*open), float64(cc.maxY-cc.minY+1+2*open)
					t.Logf("open %d dt %.0f: area %d r %.1f box x %d-%d y %d-%d (%.0fx%.0f) aspect %.2f fill %.2f", open, dt, cc.area, r, cc.minX, cc.maxX, cc.minY, cc.maxY, bw, bh, bw/bh, math.Pi*r*r/(math.Pi*bw*bh/4))
				}
			}
		}
	}
}

// devImages yields, for each image path in the comma-separated list of the
// environment variable env (the test skips when it is unset), its grey
// image with the highlights filled, as the pipeline's first steps make it.
func devImages(t *testing.T, env string, c config) iter.Seq2[string, gray] {
	list := os.Getenv(env)
	if list == "" {
		t.Skip("development aid; set " + env + " to comma-separated image paths")
	}
	return func(yield func(string, gray) bool) {
		for _, p := range strings.Split(list, ",") {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			img, err := DecodeImage(data)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			g := toGray(img, c.maxSide)
			fillHighlights(g)
			if !yield(p, g) {
				return
			}
		}
	}
}

// forEachSetImage calls fn(i, g) for each paths[i] under dir that reads
// and decodes, with g its grey image as extraction sees it (scaled,
// highlights filled), on every core: fn runs concurrently and must write
// only to index i of its outputs. Unreadable images are skipped.
func forEachSetImage(dir string, paths []string, c config, fn func(i int, g gray)) {
	var wg sync.WaitGroup
	w := runtime.GOMAXPROCS(0)
	for k := range w {
		wg.Go(func() {
			for i := k; i < len(paths); i += w {
				data, err := os.ReadFile(filepath.Join(dir, paths[i]))
				if err != nil {
					continue
				}
				img, err := DecodeImage(data)
				if err != nil {
					continue
				}
				g := toGray(img, c.maxSide)
				fillHighlights(g)
				fn(i, g)
			}
		})
	}
	wg.Wait()
}
