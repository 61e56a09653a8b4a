package fingerprint

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestDebugViz draws one extraction to $ASSENT_VIZ_OUT when
// ASSENT_VIZ_IMAGE is set (development aid; ASSENT_VIZ_DPI, default 500):
// left the image at 500 dpi, tinted red where the first mask rejects it and
// blue where the clarity step removed it; right the skeleton the minutiae
// came from; the minutiae (endings red, bifurcations green) with their
// directions on both. It runs the shipped pipeline (refinement and clarity
// step included), so the picture is what Extract sees.
func TestDebugViz(t *testing.T) {
	in := os.Getenv("ASSENT_VIZ_IMAGE")
	if in == "" {
		t.Skip("set ASSENT_VIZ_IMAGE and ASSENT_VIZ_OUT to draw an extraction")
	}
	raw, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	img, err := DecodeImage(raw)
	if err != nil {
		t.Fatal(err)
	}
	dpi := 500
	if v := os.Getenv("ASSENT_VIZ_DPI"); v != "" {
		if dpi, err = strconv.Atoi(v); err != nil {
			t.Fatal(err)
		}
	}
	pix, _ := greyPixels(img)
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	if dpi != 500 {
		pix, w, h = resample(pix, w, h, 500/float64(dpi))
	}
	first := estimateFields(pix, w, h)
	var bin []uint8
	debugRidges = func(_ []float32, r []uint8) { bin = append([]uint8(nil), r...) }
	defer func() { debugRidges = nil }()
	ms, f, sk, err := extractMinutiae(pix, w, h)
	if err != nil {
		t.Fatal(err)
	}
	out := image.NewRGBA(image.Rect(0, 0, 3*w, h))
	for y := range h {
		for x := range w {
			v := uint8(pix[y*w+x])
			c := color.RGBA{v, v, v, 255}
			switch {
			case !first.inMask(x, y):
				c.R = 255
			case !f.inMask(x, y):
				c.B = 255
			}
			out.Set(x, y, c)
			c = color.RGBA{255, 255, 255, 255}
			if sk[y*w+x] != 0 {
				c = color.RGBA{0, 0, 0, 255}
			}
			out.Set(w+x, y, c)
			c = color.RGBA{255, 255, 255, 255}
			if bin[y*w+x] != 0 {
				c = color.RGBA{0, 0, 0, 255}
			}
			out.Set(2*w+x, y, c)
		}
	}
	for _, m := range ms {
		col := color.RGBA{255, 0, 0, 255}
		if m.Type == TypeBifurcation {
			col = color.RGBA{0, 160, 0, 255}
		}
		for k := range 10 {
			x := int(m.X) + int(float64(k)*math.Cos(float64(m.Dir)))
			y := int(m.Y) + int(float64(k)*math.Sin(float64(m.Dir)))
			out.Set(w+x, y, col)
			out.Set(x, y, col)
		}
		for dy := -2; dy <= 2; dy++ {
			for dx := -2; dx <= 2; dx++ {
				out.Set(w+int(m.X)+dx, int(m.Y)+dy, col)
			}
		}
	}
	if c := os.Getenv("ASSENT_VIZ_CROP"); c != "" {
		var x0, y0, cw, ch, sc int
		if _, err := fmt.Sscanf(c, "%d,%d,%d,%d,%d", &x0, &y0, &cw, &ch, &sc); err != nil {
			t.Fatal(err)
		}
		z := image.NewRGBA(image.Rect(0, 0, 3*cw*sc, ch*sc))
		for p := range 3 {
			for y := range ch * sc {
				for x := range cw * sc {
					z.Set(p*cw*sc+x, y, out.At(p*w+x0+x/sc, y0+y/sc))
				}
			}
		}
		out = z
	}
	fo, err := os.Create(filepath.Clean(os.Getenv("ASSENT_VIZ_OUT")))
	if err != nil {
		t.Fatal(err)
	}
	defer fo.Close()
	if err := png.Encode(fo, out); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d minutiae", len(ms))
}
