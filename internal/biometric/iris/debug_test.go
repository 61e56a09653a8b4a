package iris

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDebugOverlays writes segmentation overlays for the images listed in
// ASSENT_IRIS_DEBUG (comma-separated paths) into ASSENT_IRIS_DEBUG_OUT; a
// development aid, skipped otherwise.
func TestDebugOverlays(t *testing.T) {
	list, out := os.Getenv("ASSENT_IRIS_DEBUG"), os.Getenv("ASSENT_IRIS_DEBUG_OUT")
	if list == "" || out == "" {
		t.Skip("set ASSENT_IRIS_DEBUG and ASSENT_IRIS_DEBUG_OUT to write segmentation overlays")
	}
	c, err := tuneConfig(os.Getenv("ASSENT_IRIS_TUNE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Split(list, ",") {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		img, err := DecodeImage(data)
		if err != nil {
			t.Fatal(err)
		}
		g := toGray(img, c.maxSide)
		hl := fillHighlights(g)
		seg, ok := segmentWith(g, c)
		t.Logf("%s: ok=%v pupil=%+v iris=%+v contrast=%.1f pupil edge=%.1f", p, ok, seg.pupil, seg.iris, seg.contrast, seg.pupilEdge)
		band, occ := unwrap(g, hl, seg, c)
		maskOcclusionsSeg(band, occ, &seg, c)
		H := g.h + c.polarRows*2 + 4
		W := max(g.w, c.polarCols)
		o := image.NewRGBA(image.Rect(0, 0, W, H))
		for y := range g.h {
			for x := range g.w {
				v := uint8(g.p[y*g.w+x])
				o.SetRGBA(x, y, color.RGBA{v, v, v, 255})
			}
		}
		for _, cc := range []struct {
			c   circle
			col color.RGBA
		}{{seg.pupil, color.RGBA{255, 0, 0, 255}}, {seg.iris, color.RGBA{0, 255, 0, 255}}, {seg.alt, color.RGBA{0, 128, 255, 255}}} {
			for k := range 720 {
				a := float64(k) * math.Pi / 360
				x, y := int(cc.c.x+cc.c.r*math.Cos(a)), int(cc.c.y+cc.c.r*math.Sin(a))
				if x >= 0 && y >= 0 && x < g.w && y < g.h {
					o.SetRGBA(x, y, cc.col)
				}
			}
		}
		for i := range c.polarRows {
			for j := range c.polarCols {
				v := uint8(band[i*c.polarCols+j])
				col := color.RGBA{v, v, v, 255}
				o.SetRGBA(j, g.h+4+i, col)
				if occ[i*c.polarCols+j] {
					col = color.RGBA{v, v / 3, v / 3, 255}
				}
				o.SetRGBA(j, g.h+4+c.polarRows+i, col)
			}
		}
		f, err := os.Create(filepath.Join(out, filepath.Base(filepath.Dir(p))+"_"+strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, o); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
}
