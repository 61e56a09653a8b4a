package fingerprint

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestDebugViz draws the mask, skeleton and minutiae of one image to
// $ASSENT_VIZ_OUT when ASSENT_VIZ_IMAGE is set (development aid).
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
	pix, _ := greyPixels(img)
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	f := estimateFields(pix, w, h)
	var st filtered
	enhance(normalise(pix, w, h, f), w, h, f, gaborBank{}, &st)
	sk := st.ridges
	bin := append([]uint8(nil), sk...)
	thin(sk, w, h)
	ms := findMinutiae(sk, w, h, f)
	out := image.NewRGBA(image.Rect(0, 0, 2*w, h))
	for y := range h {
		for x := range w {
			v := uint8(pix[y*w+x])
			out.Set(x, y, color.RGBA{v, v, v, 255})
			c := color.RGBA{255, 255, 255, 255}
			if !f.inMask(x, y) {
				c = color.RGBA{200, 200, 255, 255}
			}
			if bin[y*w+x] != 0 {
				c = color.RGBA{190, 190, 190, 255}
			}
			if sk[y*w+x] != 0 {
				c = color.RGBA{0, 0, 0, 255}
			}
			out.Set(w+x, y, c)
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
