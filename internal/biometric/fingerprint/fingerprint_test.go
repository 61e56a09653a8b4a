package fingerprint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/assent-registry/assent/internal/biometric/fingerprint/iso19794"
)

// synthetic draws a ridge pattern of period 9 pixels: concentric ridges
// around (cx, cy), with a phase singularity (one minutia each) at every
// point in sing, rotated by rot radians and shifted by (dx, dy).
func synthetic(w, h int, rot, dx, dy float64) *image.Gray {
	sing := [][2]float64{{110, 90}, {180, 120}, {90, 190}, {200, 210}, {150, 250}, {240, 160},
		{120, 140}, {70, 240}, {230, 80}, {160, 180}, {60, 120}, {250, 250}}
	img := image.NewGray(image.Rect(0, 0, w, h))
	c, s := math.Cos(rot), math.Sin(rot)
	for y := range h {
		for x := range w {
			// Undo the rotation and shift to find the pattern coordinates.
			ux, uy := float64(x)-dx-float64(w)/2, float64(y)-dy-float64(h)/2
			px, py := c*ux+s*uy+float64(w)/2, -s*ux+c*uy+float64(h)/2
			if math.Hypot(px-150, (py-160)*0.8) > 130 {
				img.Pix[y*img.Stride+x] = 230
				continue
			}
			ph := 2 * math.Pi * math.Hypot(px-150, py-40) / 9
			for i, p := range sing {
				sgn := 1.0
				if i%2 == 1 {
					sgn = -1
				}
				ph += sgn * math.Atan2(py-p[1], px-p[0])
			}
			img.Pix[y*img.Stride+x] = uint8(128 + 90*math.Cos(ph))
		}
	}
	return img
}

func encode(t *testing.T, img image.Image, format string) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "bmp":
		err = bmp.Encode(&b, img)
	case "tiff":
		err = tiff.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeImage(t *testing.T) {
	grey := synthetic(300, 320, 0, 0, 0)
	colour := image.NewRGBA(image.Rect(0, 0, 20, 20))
	colour.Set(3, 3, color.RGBA{R: 200, G: 10, B: 10, A: 255})
	greyRGBA := image.NewRGBA(image.Rect(0, 0, 20, 20))
	for i := range greyRGBA.Pix {
		greyRGBA.Pix[i] = 77
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"png", encode(t, grey, "png"), nil},
		{"bmp", encode(t, grey, "bmp"), nil},
		{"tiff", encode(t, grey, "tiff"), nil},
		{"grey pixels in an RGBA png", encode(t, greyRGBA, "png"), nil},
		{"empty", nil, ErrNotImage},
		{"text", []byte("hello, not an image"), ErrNotImage},
		{"truncated png", encode(t, grey, "png")[:100], ErrNotImage},
		{"colour", encode(t, colour, "png"), ErrColour},
		{"too wide", encode(t, image.NewGray(image.Rect(0, 0, MaxSide+1, 1)), "png"), ErrTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeImage(tc.in)
			if !errors.Is(err, tc.want) {
				t.Errorf("DecodeImage: got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestExtractRejects(t *testing.T) {
	blank := image.NewGray(image.Rect(0, 0, 300, 300))
	for i := range blank.Pix {
		blank.Pix[i] = 250
	}
	noise := image.NewGray(image.Rect(0, 0, 300, 300))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range noise.Pix {
		noise.Pix[i] = uint8(r.IntN(256))
	}
	tests := []struct {
		name string
		img  image.Image
		dpi  int
		want error
	}{
		{"blank", blank, 500, ErrQualityTooLow},
		{"noise", noise, 500, ErrQualityTooLow},
		{"tiny", image.NewGray(image.Rect(0, 0, 40, 40)), 500, ErrTooSmall},
		{"dpi too low", blank, 100, ErrDPI},
		{"too large once scaled", image.NewGray(image.Rect(0, 0, 2500, 10)), 250, ErrTooLarge},
		{"nil", nil, 500, ErrNotImage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp, err := Extract(tc.img, tc.dpi)
			if !errors.Is(err, tc.want) {
				n := -1
				if tp != nil {
					n = len(tp.Minutiae)
				}
				t.Errorf("Extract: got %v (%d minutiae), want %v", err, n, tc.want)
			}
		})
	}
}

func TestExtractSynthetic(t *testing.T) {
	a, err := Extract(synthetic(300, 320, 0, 0, 0), 500)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Extract(synthetic(300, 320, 0, 0, 0), 500)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(a.Minutiae, again.Minutiae, cmp.AllowUnexported(Minutia{})); d != "" {
		t.Errorf("extraction is not deterministic:\n%s", d)
	}
	moved, err := Extract(synthetic(300, 320, 0.2, 12, -8), 500)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Extract(synthetic(300, 320, 0, 0, 0).SubImage(image.Rect(0, 0, 300, 320)), 500)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("minutiae %d, moved %d", len(a.Minutiae), len(moved.Minutiae))
	if s := Score(a, other); s < DefaultVerifyThreshold() {
		t.Errorf("same image scores %.4f, below the default threshold %.4f", s, DefaultVerifyThreshold())
	}
	if s := Score(a, moved); s < DefaultVerifyThreshold() {
		t.Errorf("rotated and shifted image scores %.4f, below the default threshold %.4f", s, DefaultVerifyThreshold())
	}
}

func TestExtractScalesByDPI(t *testing.T) {
	img := synthetic(300, 320, 0, 0, 0)
	t500, err := Extract(img, 500)
	if err != nil {
		t.Fatal(err)
	}
	t1000, err := Extract(img, 1000)
	if err != nil && !errors.Is(err, ErrQualityTooLow) {
		t.Fatal(err)
	}
	if t1000 != nil && t1000.Width != 150 {
		t.Errorf("width at 1000 dpi scaled to %d, want 150", t1000.Width)
	}
	if t500.Width != 300 || t500.Height != 320 {
		t.Errorf("size %dx%d, want 300x320", t500.Width, t500.Height)
	}
}

func sampleTemplate() *Template {
	r := rand.New(rand.NewPCG(3, 4))
	ms := make([]Minutia, 40)
	for i := range ms {
		ms[i] = Minutia{X: float32(20 + r.IntN(260)), Y: float32(20 + r.IntN(300)),
			Dir: float32(r.Float64() * 2 * math.Pi), Type: uint8(1 + r.IntN(2)), Quality: uint8(1 + r.IntN(100))}
	}
	return NewTemplate(300, 340, ms)
}

func TestTemplateRoundTrip(t *testing.T) {
	want := sampleTemplate()
	opt := []cmp.Option{cmpopts.EquateApprox(0, 0.01), cmpopts.IgnoreUnexported(Template{}, Minutia{})}
	t.Run("binary", func(t *testing.T) {
		b, err := want.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Template
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, &got, opt...); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
		if s := Score(want, &got); s < 0.5 {
			t.Errorf("template scores %.3f against its own round trip", s)
		}
	})
	t.Run("iso", func(t *testing.T) {
		b, err := iso19794.Encode(want.ToISO(2))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := iso19794.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := FromISO(rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		// ISO rounds positions to pixels and angles to 1/256 turn.
		isoOpt := []cmp.Option{cmpopts.EquateApprox(0, 0.6), cmpopts.IgnoreUnexported(Template{}, Minutia{})}
		if d := cmp.Diff(want, got, isoOpt...); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		b, _ := want.MarshalBinary()
		huge := append([]byte("AFP1\x01\x00\x01\x00\xff\xff"), make([]byte, 65535*minutiaSize)...)
		for _, in := range [][]byte{nil, b[:5], b[:len(b)-1], append([]byte("XXXX"), b[4:]...), huge} {
			var got Template
			if err := got.UnmarshalBinary(in); !errors.Is(err, ErrTemplate) {
				t.Errorf("%d bytes: got %v, want ErrTemplate", len(in), err)
			}
		}
	})
}

func FuzzUnmarshalBinary(f *testing.F) {
	b, _ := sampleTemplate().MarshalBinary()
	f.Add(b)
	f.Add([]byte("AFP1\x00\x10\x00\x10\x00\x00"))
	f.Add(b[:10+40*minutiaSize])
	f.Add(append([]byte("AFP1"), b[4:10+40*minutiaSize]...))
	withDesc := sampleTemplate()
	desc := make([]uint32, len(withDesc.Minutiae))
	for i := range desc {
		desc[i] = uint32(i) * 0x9e3779b9
	}
	withDesc.setDesc(desc)
	if d, err := withDesc.MarshalBinary(); err == nil {
		f.Add(d)
	}
	withTex := sampleTemplate()
	withTex.setDesc(desc)
	for i := range withTex.Minutiae {
		withTex.Minutiae[i].tex = uint8(i * 7)
	}
	withTex.setTex()
	if d, err := withTex.MarshalBinary(); err == nil && string(d[:4]) == magicTex {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var tp Template
		if err := tp.UnmarshalBinary(in); err != nil {
			return
		}
		// An input may be AFP1, or carry cylinders of another cylinder
		// code, or name a minutia's duplicate: its encoding differs, but
		// encoding is then stable and keeps the template.
		out, err := tp.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded template does not encode: %v", err)
		}
		var again Template
		if err := again.UnmarshalBinary(out); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
		if d := cmp.Diff(tp, again, cmp.AllowUnexported(Template{}, cylinders{}, Minutia{}), cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("re-encoding changes the template")
		}
		if out2, _ := again.MarshalBinary(); !bytes.Equal(out, out2) {
			t.Fatalf("re-encoding is not stable")
		}
	})
}

func FuzzDecodeImage(f *testing.F) {
	for _, n := range []string{"tiny.png", "tiny.bmp", "tiny.tif"} {
		if b, err := os.ReadFile(filepath.Join("testdata", n)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		img, err := DecodeImage(in)
		if err != nil {
			return
		}
		if b := img.Bounds(); b.Dx() > MaxSide || b.Dy() > MaxSide {
			t.Fatalf("accepted a %v image", b)
		}
	})
}

func TestCylinderLayout(t *testing.T) {
	if want := (len(cellU)*mccND + 63) / 64; cylWords != want {
		t.Fatalf("cylWords = %d, cells need %d", cylWords, want)
	}
}

// jittered moves, turns and thins a template, like another impression.
func jittered(r *rand.Rand, t *Template) *Template {
	a := (r.Float64() - 0.5) * 0.4
	c, s := math.Cos(a), math.Sin(a)
	var ms []Minutia
	for _, m := range t.Minutiae {
		if r.IntN(6) == 0 {
			continue
		}
		x, y := float64(m.X)-150, float64(m.Y)-170
		m.X = float32(c*x - s*y + 150 + r.NormFloat64()*1.5 + 10)
		m.Y = float32(s*x + c*y + 170 + r.NormFloat64()*1.5 - 5)
		m.Dir = float32(math.Mod(float64(m.Dir)+a+2*math.Pi, 2*math.Pi))
		ms = append(ms, m)
	}
	return NewTemplate(t.Width, t.Height, ms)
}

func TestScore(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	a := sampleTemplate()
	mate := jittered(r, a)
	stranger := jittered(r, NewTemplate(300, 340, nil))
	for range 3 {
		stranger = NewTemplate(300, 340, append(stranger.Minutiae, sampleTemplateSeed(r).Minutiae...))
	}
	tests := []struct {
		name    string
		a, b    *Template
		atLeast float64
		below   float64
	}{
		{"itself", a, a, 0.3, 1.0001},
		{"mate", a, mate, DefaultVerifyThreshold(), 1.0001},
		{"stranger", a, sampleTemplateSeed(r), 0, DefaultVerifyThreshold()},
		{"empty", a, NewTemplate(300, 340, nil), 0, 1e-9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s1, s2 := Score(tc.a, tc.b), Score(tc.b, tc.a)
			if s1 < tc.atLeast || s1 >= tc.below {
				t.Errorf("score %.4f, want in [%.4f, %.4f)", s1, tc.atLeast, tc.below)
			}
			if math.Abs(s1-s2) > 0.02 {
				t.Errorf("asymmetric: %.4f vs %.4f", s1, s2)
			}
			if again := Score(tc.a, tc.b); again != s1 {
				t.Errorf("not deterministic: %.6f then %.6f", s1, again)
			}
		})
	}
}

func sampleTemplateSeed(r *rand.Rand) *Template {
	ms := make([]Minutia, 35)
	for i := range ms {
		ms[i] = Minutia{X: float32(20 + r.IntN(260)), Y: float32(20 + r.IntN(300)),
			Dir: float32(r.Float64() * 2 * math.Pi), Type: uint8(1 + r.IntN(2)), Quality: 50}
	}
	return NewTemplate(300, 340, ms)
}

func TestFMRCalibration(t *testing.T) {
	for _, c := range []struct {
		name      string
		fmr, th   func(float64) float64
		threshold float64
	}{{"gallery", FMR, Threshold, DefaultThreshold()}, {"1:1", VerifyFMR, VerifyThreshold, DefaultVerifyThreshold()}} {
		prev := 2.0
		for s := 0.0; s <= 0.3; s += 0.001 {
			f := c.fmr(s)
			if f > prev || f < minFMR || f > 1 {
				t.Fatalf("%s: FMR(%.3f) = %g after %g: not monotone in [minFMR, 1]", c.name, s, f, prev)
			}
			prev = f
		}
		for _, f := range []float64{0.5, 1e-2, 1e-3, 1e-4, 1e-5, 1e-7} {
			if got := c.fmr(c.th(f)); math.Abs(math.Log10(got)-math.Log10(f)) > 1e-6 {
				t.Errorf("%s: FMR(Threshold(%g)) = %g", c.name, f, got)
			}
		}
		if c.threshold != c.th(1e-4) {
			t.Errorf("%s: default threshold is not at FMR 1e-4", c.name)
		}
	}
	// 1:1 scores (all cylinders, descriptors, texture weights) run higher
	// than a gallery's: the same FMR needs a higher 1:1 score.
	if VerifyThreshold(1e-3) <= Threshold(1e-3) {
		t.Errorf("1:1 threshold %.4f not above the gallery's %.4f", VerifyThreshold(1e-3), Threshold(1e-3))
	}
}

func TestComputeRates(t *testing.T) {
	tests := []struct {
		name     string
		gen, imp []float64
		want     Rates
	}{
		{"separated", []float64{0.5, 0.6, 0.7, 0.8}, []float64{0.1, 0.2, 0.3, 0.4},
			Rates{EER: 0, FMR100: 0, FMR1000: 0, ZeroFMR: 0, Genuine: 4, Impostor: 4}},
		{"one genuine fails to enrol", []float64{-1, 0.6, 0.7, 0.8}, []float64{0.1, 0.2, 0.3, 0.4},
			Rates{EER: 0.25, FMR100: 0.25, FMR1000: 0.25, ZeroFMR: 0.25, Genuine: 4, Impostor: 4}},
		{"overlap", []float64{0.3, 0.6, 0.7, 0.8}, []float64{0.1, 0.2, 0.35, 0.4},
			Rates{EER: 0.25, FMR100: 0.25, FMR1000: 0.25, ZeroFMR: 0.25, Genuine: 4, Impostor: 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ComputeRates(tc.gen, tc.imp)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got, cmpopts.EquateApprox(0, 1e-9)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	if _, err := ComputeRates(nil, []float64{1}); !errors.Is(err, ErrNoScores) {
		t.Errorf("empty genuine: got %v", err)
	}
}

func TestGallery(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	g := NewGallery()
	base := make([]*Template, 50)
	for i := range base {
		base[i] = sampleTemplateSeed(r)
		g.Add(fmt.Sprint("p", i), base[i])
	}
	ctx := context.Background()
	thr := DefaultThreshold()
	t.Run("finds the mate", func(t *testing.T) {
		got, err := g.Search(ctx, jittered(r, base[17]), thr, SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[0].Key != "p17" {
			t.Fatalf("candidates %v, want p17 first", got)
		}
	})
	t.Run("remove and replace", func(t *testing.T) {
		if !g.Remove("p17") || g.Remove("p17") {
			t.Fatal("Remove should report true once")
		}
		got, _ := g.Search(ctx, base[17], thr, SearchOptions{})
		for _, c := range got {
			if c.Key == "p17" {
				t.Fatal("removed entry still found")
			}
		}
		g.Add("p3", base[17]) // replaces p3
		got, _ = g.Search(ctx, base[17], thr, SearchOptions{})
		if len(got) == 0 || got[0].Key != "p3" {
			t.Fatalf("candidates %v, want p3", got)
		}
		got, _ = g.Search(ctx, base[3], thr, SearchOptions{})
		if len(got) > 0 && got[0].Key == "p3" {
			t.Fatalf("replaced template still matched: %v", got)
		}
	})
	t.Run("compaction keeps the rest", func(t *testing.T) {
		for i := range 40 {
			g.Remove(fmt.Sprint("p", i))
		}
		if g.Len() != 10 {
			t.Fatalf("Len %d, want 10", g.Len())
		}
		got, _ := g.Search(ctx, base[45], thr, SearchOptions{})
		if len(got) == 0 || got[0].Key != "p45" {
			t.Fatalf("candidates %v, want p45", got)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g.Add(fmt.Sprint("c", i), base[i])
				if _, err := g.Search(ctx, base[45], thr, SearchOptions{Workers: 2}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	})
}

func TestHammingMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	a, b := sampleTemplateSeed(r), sampleTemplateSeed(r)
	for i := range a.cyl.n() {
		for j := range b.cyl.n() {
			want := 0
			for k := range cylWords {
				want += bits.OnesCount64(a.cyl.bits[i][k] ^ b.cyl.bits[j][k])
			}
			if got := hamming(&a.cyl.bits[i], &b.cyl.bits[j]); got != want {
				t.Fatalf("hamming %d, want %d", got, want)
			}
		}
	}
}

// TestWeightTables: the tabulated cylinder weights stay within 1e-6 of the
// exact formulas.
func TestWeightTables(t *testing.T) {
	for i := range 10000 {
		dt := -math.Pi + 2*math.Pi*float64(i)/10000
		w := directionalWeights(dt)
		for k := range mccND {
			if d := math.Abs(w[k] - directionalWeight(dt, k)); d > 1e-6 {
				t.Fatalf("directional weight at %v layer %d off by %g", dt, k, d)
			}
		}
		d2 := spatialReach2 * float64(i) / 10000
		exact := 1 / (mccSigmaS * math.Sqrt(2*math.Pi)) * math.Exp(-d2/(2*mccSigmaS*mccSigmaS))
		if d := math.Abs(spatialWeight(d2) - exact); d > 1e-6 {
			t.Fatalf("spatial weight at %v off by %g", d2, d)
		}
	}
}

// referenceCylinders is the plain form of buildCylinders: every cell tested
// against the hull, every neighbour against every cell, in image
// coordinates. The fast form must give the same bits.
func referenceCylinders(ms []Minutia) []cylBits {
	hull := convexHull(ms)
	nc := len(cellU)
	reach := 3 * mccSigmaS
	var out []cylBits
	for i, m := range ms {
		mx, my, md := float64(m.X), float64(m.Y), float64(m.Dir)
		cs, sn := math.Cos(md), math.Sin(md)
		vals := make([]float64, nc*mccND)
		valid := make([]bool, nc)
		nvalid, neighbours := 0, 0
		for ci := range nc {
			if hull.near(mx+cs*cellU[ci]-sn*cellV[ci], my+sn*cellU[ci]+cs*cellV[ci], mccOmega) {
				valid[ci] = true
				nvalid++
			}
		}
		for j, t := range ms {
			tx, ty := float64(t.X), float64(t.Y)
			if j == i || (tx-mx)*(tx-mx)+(ty-my)*(ty-my) > (mccR+reach)*(mccR+reach) {
				continue
			}
			neighbours++
			w := directionalWeights(angleDiff(md, float64(t.Dir)))
			for ci := range nc {
				px, py := mx+cs*cellU[ci]-sn*cellV[ci], my+sn*cellU[ci]+cs*cellV[ci]
				if d2 := (tx-px)*(tx-px) + (ty-py)*(ty-py); valid[ci] && d2 <= reach*reach {
					for k := range mccND {
						vals[ci*mccND+k] += spatialWeight(d2) * w[k]
					}
				}
			}
		}
		if float64(nvalid) < mccMinVC*float64(nc) || neighbours < mccMinM {
			continue
		}
		var b cylBits
		for bit, v := range vals {
			if v >= mccMuPsi {
				b[bit/64] |= 1 << (bit % 64)
			}
		}
		out = append(out, b)
	}
	return out
}

func TestCylindersMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for n := range 300 {
		var ms []Minutia
		for range 5 + r.IntN(60) {
			ms = append(ms, Minutia{X: float32(r.Float64() * 400), Y: float32(r.Float64() * 400),
				Dir: float32(r.Float64() * 2 * math.Pi), Type: 1, Quality: 50})
		}
		want := referenceCylinders(ms)
		got := buildCylinders(ms)
		if len(got.bits) != len(want) {
			t.Fatalf("template %d: %d cylinders, reference %d", n, len(got.bits), len(want))
		}
		// buildCylinders sorts by direction; compare as multisets.
		key := func(b cylBits) string { return fmt.Sprint(b) }
		count := map[string]int{}
		for _, b := range want {
			count[key(b)]++
		}
		for _, b := range got.bits {
			if count[key(b)]--; count[key(b)] < 0 {
				t.Fatalf("template %d: a cylinder differs from the reference", n)
			}
		}
	}
}

func TestSelectHighest(t *testing.T) {
	r := rand.New(rand.NewPCG(27, 28))
	for _, n := range []int{0, 1, 2, 3, 10, 50, 200} {
		for k := 0; k <= n; k++ {
			keys := make([]uint64, n)
			for i := range keys {
				keys[i] = r.Uint64()%1000<<32 | uint64(i) // distinct, many equal high parts
			}
			selectHighest(keys, k)
			if k == 0 || k == n {
				continue
			}
			if firstMin, restMax := slices.Min(keys[:k]), slices.Max(keys[k:]); firstMin <= restMax {
				t.Fatalf("n %d k %d: %d among the first, %d after", n, k, firstMin, restMax)
			}
		}
	}
}

// TestScoreMinutiaTypes checks the type evidence: the same mate scores
// higher when its minutiae keep their types than when every type is
// flipped, and types unknown on one side score in between.
func TestScoreMinutiaTypes(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	a := sampleTemplate()
	// A weak mate (a small overlap: 12 shared minutiae among strangers), so
	// that the score stays below its cap of 1.
	j := jittered(r, a)
	mate := NewTemplate(j.Width, j.Height, append(slices.Clone(j.Minutiae[:12]), sampleTemplateSeed(r).Minutiae[:20]...))
	retyped := func(f func(uint8) uint8) *Template {
		ms := slices.Clone(mate.Minutiae)
		for i := range ms {
			ms[i].Type = f(ms[i].Type)
		}
		return NewTemplate(mate.Width, mate.Height, ms)
	}
	same := Score(a, mate)
	unknown := Score(a, retyped(func(uint8) uint8 { return TypeOther }))
	flipped := Score(a, retyped(func(t uint8) uint8 { return 3 - t }))
	t.Logf("same %.4f unknown %.4f flipped %.4f", same, unknown, flipped)
	if !(same > unknown && unknown > flipped) {
		t.Errorf("scores same %.4f, unknown %.4f, flipped %.4f: want decreasing", same, unknown, flipped)
	}
	// The gallery's packed form keeps the types.
	g := NewGallery()
	g.Add("a", a)
	cs, err := g.Search(context.Background(), retyped(func(t uint8) uint8 { return 3 - t }), 0, SearchOptions{})
	if err != nil || len(cs) != 1 {
		t.Fatalf("search: %v %v", cs, err)
	}
	if math.Abs(cs[0].Score-flipped) > 0.005 {
		t.Errorf("gallery score %.4f, matcher %.4f", cs[0].Score, flipped)
	}
}
