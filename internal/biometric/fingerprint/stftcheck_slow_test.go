package fingerprint

import (
	"image"
	"math"
	"os"
	"path/filepath"
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
		f := estimateFields(pix, w, h)
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
	f := estimateFields(pix, w, h)
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
		f := estimateFields(pix, w, h)
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
