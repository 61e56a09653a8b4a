package fingerprint

import (
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestSTFTAgree compares the Gabor and STFT responses on a few images.
func TestSTFTAgree(t *testing.T) {
	root := os.Getenv("ASSENT_FINGERPRINT_DATA")
	if root == "" {
		t.Skip()
	}
	for _, name := range []string{"fvc2002/db1_b/101_1.tif", "fvc2002/db3_b/105_8.tif", "fvc2000/db2_b/108_1.tif"} {
		raw, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		img, _ := DecodeImage(raw)
		pix, _ := greyPixels(img)
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		f := estimateFields(pix, w, h, true)
		norm := normalise(pix, w, h, f)
		var st filtered
		enhance(norm, w, h, f, gaborBank{}, &st)
		g := append([]float32(nil), st.resp...)
		gr := append([]uint8(nil), st.ridges...)
		t0 := time.Now()
		stftEnhance(norm, w, h, f, nil, &st)
		el := time.Since(t0)
		var sxy, sxx, syy float64
		agree, n := 0, 0
		var cs []float64
		for b := range f.mask {
			if f.mask[b] {
				cs = append(cs, f.coherence[b])
			}
		}
		for y := range h {
			for x := range w {
				if !f.inMask(x, y) {
					continue
				}
				a, b := float64(g[y*w+x]), float64(st.resp[y*w+x])
				sxy += a * b
				sxx += a * a
				syy += b * b
				n++
				if gr[y*w+x] == st.ridges[y*w+x] {
					agree++
				}
			}
		}
		t.Logf("%s: corr %.3f agree %.3f rms gabor %.2f stft %.2f, %v; coherence q10/50/90 %.2f %.2f %.2f", name, sxy/math.Sqrt(sxx*syy), float64(agree)/float64(n), math.Sqrt(sxx/float64(n)), math.Sqrt(syy/float64(n)), el, q(cs, .1), q(cs, .5), q(cs, .9))
	}
}

func BenchmarkSTFT(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(dataDir(b), "fvc2000/db3_b/102_1.tif"))
	if err != nil {
		b.Fatal(err)
	}
	img, _ := DecodeImage(raw)
	pix, _ := greyPixels(img)
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	f := estimateFields(pix, w, h, true)
	norm := normalise(pix, w, h, f)
	var st filtered
	enhance(norm, w, h, f, gaborBank{}, &st)
	for b.Loop() {
		stftEnhance(norm, w, h, f, nil, &st)
	}
}

func stftCPUNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestSTFTCPU reports the CPU time of Extract and of stftEnhance alone on
// FVC2000 DB3_B's 80 images (the largest).
func TestSTFTCPU(t *testing.T) {
	imps, err := ListDataset(filepath.Join(dataDir(t), "fvc2000", "db3_b"))
	if err != nil {
		t.Fatal(err)
	}
	var imgs []image.Image
	for _, im := range imps {
		raw, _ := os.ReadFile(im.Path)
		img, _ := DecodeImage(raw)
		imgs = append(imgs, img)
	}
	c0 := stftCPUNow()
	for _, img := range imgs {
		Extract(img, 500)
	}
	c1 := stftCPUNow()
	var sum time.Duration
	for _, img := range imgs {
		pix, _ := greyPixels(img)
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		f := estimateFields(pix, w, h, true)
		norm := normalise(pix, w, h, f)
		var st filtered
		enhance(norm, w, h, f, gaborBank{}, &st)
		a := stftCPUNow()
		stftEnhance(norm, w, h, f, nil, &st)
		sum += stftCPUNow() - a
	}
	t.Logf("CPU a DB3 image: Extract %v, stftEnhance alone %v", (c1-c0)/time.Duration(len(imgs)), sum/time.Duration(len(imgs)))
}

// TestSTFTCounts compares the minutia counts of two template caches.
func TestSTFTCounts(t *testing.T) {
	other := os.Getenv("ASSENT_FP_EXPLORE2")
	if other == "" {
		t.Skip()
	}
	a := exploreLoad(t, false)
	t.Setenv("ASSENT_FP_EXPLORE", other)
	b := exploreLoad(t, false)
	for k := range a {
		var na, nb, fa, fb int
		for i := range a[k].ts {
			if a[k].ts[i] != nil {
				na += len(a[k].ts[i].Minutiae)
			} else {
				fa++
			}
			if b[k].ts[i] != nil {
				nb += len(b[k].ts[i].Minutiae)
			} else {
				fb++
			}
		}
		t.Logf("%s: minutiae %d vs %d, failures %d vs %d", a[k].dir, na, nb, fa, fb)
	}
}

// TestSTFTScoreShift compares the genuine and impostor quantiles of two
// template caches, per set.
func TestSTFTScoreShift(t *testing.T) {
	other := os.Getenv("ASSENT_FP_EXPLORE2")
	if other == "" {
		t.Skip()
	}
	a := exploreLoad(t, false)
	t.Setenv("ASSENT_FP_EXPLORE", other)
	b := exploreLoad(t, false)
	for k := range a {
		ga, ia := PairScores(a[k].imps, a[k].ts)
		gb, ib := PairScores(b[k].imps, b[k].ts)
		t.Logf("%s: genuine q2.5 %.4f -> %.4f q10 %.4f -> %.4f q50 %.4f -> %.4f | impostor q97.5 %.4f -> %.4f q99.9 %.4f -> %.4f", a[k].dir,
			q(ga, .025), q(gb, .025), q(ga, .1), q(gb, .1), q(ga, .5), q(gb, .5), q(ia, .975), q(ib, .975), q(ia, .999), q(ib, .999))
	}
}

// TestSTFTFastSame checks the tenth pass's paired-window transform against
// the ninth pass's plain one (block orientation, spectral frequency,
// square-root windows) on the same fields.
func TestSTFTFastSame(t *testing.T) {
	root := os.Getenv("ASSENT_FINGERPRINT_DATA")
	if root == "" {
		t.Skip()
	}
	saved, savedFast := stftCfg, fastCfg
	defer func() { stftCfg, fastCfg = saved, savedFast }()
	stftCfg.mode, stftCfg.wola = 3, true
	fastCfg.sAlong = 0
	for _, name := range []string{"fvc2002/db1_b/101_1.tif", "fvc2000/db3_b/105_2.tif"} {
		raw, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		img, _ := DecodeImage(raw)
		pix, _ := greyPixels(img)
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		f := estimateFields(pix, w, h, true)
		norm := normalise(pix, w, h, f)
		var a, b filtered
		enhance(norm, w, h, f, gaborBank{}, &a)
		stftEnhance(norm, w, h, f, nil, &a)
		sw := stftAnalyse(norm, w, h, f)
		stftFilter(sw, w, h, f, &b, true)
		var maxd, rms float64
		diff := 0
		for i := range a.resp {
			if !f.inMask(i%w, i/w) {
				continue
			}
			d := math.Abs(float64(a.resp[i] - b.resp[i]))
			maxd = max(maxd, d)
			rms += float64(a.resp[i] * a.resp[i])
			if a.ridges[i] != b.ridges[i] {
				diff++
			}
		}
		near := make([]bool, len(f.mask))
		for by := range f.bh {
			for bx := range f.bw {
				near[by*f.bw+bx] = f.maskNear(bx, by)
			}
		}
		o1, c1 := orientationField(b.resp, w, h, f.bw, f.bh, orientSmooth, nil)
		o2, c2 := orientationField(b.resp, w, h, f.bw, f.bh, orientSmooth, near)
		if !slices.Equal(o1, o2) || !slices.Equal(c1, c2) {
			t.Errorf("%s: the orientation field near the mask differs from the whole image's", name)
		}
		t.Logf("%s: max |diff| %.2g (rms %.3g), ridge pixels differing %d", name, maxd, math.Sqrt(rms/float64(len(a.resp))), diff)
		if maxd > 1e-3 {
			t.Errorf("%s: responses differ by %g", name, maxd)
		}
	}
}

// BenchmarkSTFTFast is BenchmarkSTFT for the tenth pass's form (analysis
// and one filtering).
func BenchmarkSTFTFast(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(dataDir(b), "fvc2000/db3_b/102_1.tif"))
	if err != nil {
		b.Fatal(err)
	}
	img, _ := DecodeImage(raw)
	pix, _ := greyPixels(img)
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	f := estimateFields(pix, w, h, true)
	norm := normalise(pix, w, h, f)
	var st filtered
	for b.Loop() {
		stftFilter(stftAnalyse(norm, w, h, f), w, h, f, &st, true)
	}
}

// TestSTFTFingerShift lists, per set, the genuine pairs of each finger
// below 0.0225 in the cache $ASSENT_FP_EXPLORE and in $ASSENT_FP_EXPLORE2,
// with the two templates' minutia counts.
func TestSTFTFingerShift(t *testing.T) {
	other := os.Getenv("ASSENT_FP_EXPLORE2")
	if other == "" {
		t.Skip()
	}
	a := exploreLoad(t, false)
	t.Setenv("ASSENT_FP_EXPLORE", other)
	b := exploreLoad(t, false)
	var s scratch
	for k := range a {
		failA, failB := map[int]int{}, map[int]int{}
		nA, nB := map[int]int{}, map[int]int{}
		imps := a[k].imps
		for i := range imps {
			if a[k].ts[i] != nil {
				nA[imps[i].Finger] += len(a[k].ts[i].Minutiae)
			}
			if b[k].ts[i] != nil {
				nB[imps[i].Finger] += len(b[k].ts[i].Minutiae)
			}
			for j := i + 1; j < len(imps); j++ {
				if imps[i].Finger != imps[j].Finger {
					continue
				}
				if a[k].ts[i] == nil || a[k].ts[j] == nil || match(&a[k].ts[i].cyl, &a[k].ts[j].cyl, &s) < 0.0225 {
					failA[imps[i].Finger]++
				}
				if b[k].ts[i] == nil || b[k].ts[j] == nil || match(&b[k].ts[i].cyl, &b[k].ts[j].cyl, &s) < 0.0225 {
					failB[imps[i].Finger]++
				}
			}
		}
		line := ""
		for fg := range 200 {
			if failA[fg]+failB[fg] > 0 {
				line += fmt.Sprintf(" #%d %d->%d (minutiae %d->%d)", fg, failA[fg], failB[fg], nA[fg]/8, nB[fg]/8)
			}
		}
		t.Logf("%s:%s", a[k].dir, line)
	}
}

// TestSTFTPeriods prints the median block period and the median spectral
// period (all angles, and within 0.4 rad of the normal) of a few images.
func TestSTFTPeriods(t *testing.T) {
	root := os.Getenv("ASSENT_FINGERPRINT_DATA")
	if root == "" {
		t.Skip()
	}
	for _, name := range []string{"fvc2002/db1_b/101_1.tif", "fvc2002/db3_b/105_8.tif", "fvc2000/db3_b/105_4.tif", "fvc2000/db3_b/105_7.tif", "fvc2000/db3_b/102_1.tif", "fvc2000/db2_b/108_1.tif"} {
		raw, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		img, _ := DecodeImage(raw)
		pix, _ := greyPixels(img)
		w, h := img.Bounds().Dx(), img.Bounds().Dy()
		f := estimateFields(pix, w, h, true)
		norm := normalise(pix, w, h, f)
		sw := stftAnalyse(norm, w, h, f)
		med := func(v []float32) float64 {
			var ps []float64
			for _, r := range v {
				if r > 0 {
					ps = append(ps, stftN/float64(r))
				}
			}
			return q(ps, .5)
		}
		cfg := fastCfg
		cfg.period, cfg.sector = 2, 0.4
		_, _, sec := windowParams(sw, w, h, f, cfg)
		cfg.period = 0
		_, _, all := windowParams(sw, w, h, f, cfg)
		t.Logf("%s: block %.2f, spectral %.2f, in the sector %.2f", name, medianPeriod(f), med(all), med(sec))
	}
}
