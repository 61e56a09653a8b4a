package fingerprint

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// TestDB3Pairs lists the genuine pairs of FVC2000 DB3_B that reach the
// out-of-sample EER threshold in the cache $ASSENT_FP_EXPLORE (main) and
// miss it in $ASSENT_FP_EXPLORE2 (the STFT variant), with both scores and
// the templates' minutia counts (eleventh pass of issue 17).
func TestDB3Pairs(t *testing.T) {
	other := os.Getenv("ASSENT_FP_EXPLORE2")
	if other == "" {
		t.Skip()
	}
	a := exploreLoad(t, false)
	t.Setenv("ASSENT_FP_EXPLORE", other)
	b := exploreLoad(t, false)
	var s scratch
	for k := range a {
		if a[k].dir != "fvc2000/db3_b" {
			continue
		}
		imps := a[k].imps
		n := func(ts []*Template, i int) int {
			if ts[i] == nil {
				return 0
			}
			return len(ts[i].Minutiae)
		}
		for i := range imps {
			for j := i + 1; j < len(imps); j++ {
				if imps[i].Finger != imps[j].Finger {
					continue
				}
				sa, sb := 0.0, 0.0
				if a[k].ts[i] != nil && a[k].ts[j] != nil {
					sa = match(&a[k].ts[i].cyl, &a[k].ts[j].cyl, &s)
				}
				if b[k].ts[i] != nil && b[k].ts[j] != nil {
					sb = match(&b[k].ts[i].cyl, &b[k].ts[j].cyl, &s)
				}
				tag := ""
				switch {
				case sa >= 0.0228 && sb < 0.0239:
					tag = "LOST"
				case sa < 0.0228 && sb >= 0.0239:
					tag = "won"
				case sa < 0.0228:
					tag = "both fail"
				default:
					continue
				}
				t.Logf("%-9s %d_%d-%d_%d main %.4f stft %.4f minutiae %d,%d -> %d,%d mates %d -> %d", tag, imps[i].Finger, imps[i].Index, imps[j].Finger, imps[j].Index, sa, sb, n(a[k].ts, i), n(a[k].ts, j), n(b[k].ts, i), n(b[k].ts, j),
					houghMates(a[k].ts[i].Minutiae, a[k].ts[j].Minutiae), houghMates(b[k].ts[i].Minutiae, b[k].ts[j].Minutiae))
			}
		}
	}
}

// TestSTFTHarmonic measures, per set, the spectral power near twice the
// ridge frequency (within 0.4 rad of the ridge normal) relative to the
// power near the ridge frequency, in the raw windows, after the STFT
// filter (H²) and after a Gabor-like radial response (a Gaussian across the
// ridges of 0.5 period, as the shipped kernels): medians over the windows
// of 16 images a set.
func TestSTFTHarmonic(t *testing.T) {
	root := dataDir(t)
	for _, s := range sets {
		imps, err := ListDataset(filepath.Join(root, s.dir))
		if err != nil {
			t.Fatal(err)
		}
		var raw, filt, gab, per []float64
		for ii := 0; ii < len(imps); ii += 5 {
			b, err := os.ReadFile(imps[ii].Path)
			if err != nil {
				t.Fatal(err)
			}
			img, _ := DecodeImage(b)
			pix, _ := greyPixels(img)
			w, h := img.Bounds().Dx(), img.Bounds().Dy()
			if s.dpi != 500 {
				pix, w, h = resample(pix, w, h, 500/float64(s.dpi))
			}
			f := estimateFields(pix, w, h, true)
			norm := normalise(pix, w, h, f)
			sw := stftAnalyse(norm, w, h, f)
			cfg := fastCfg
			cfg.period, cfg.sector = 2, 0.4
			normals, cohs, rho0s := windowParams(sw, w, h, f, cfg)
			tw := len(sw.x0s)
			pairs := (tw + 1) / 2
			var hf [stftN * stftN]float32
			for ty := range sw.y0s {
				for tx := range sw.x0s {
					k := ty*tw + tx
					r0 := float64(rho0s[k])
					if r0 == 0 {
						continue
					}
					clear(hf[:])
					windowFilter(&hf, normals[k], cohs[k], rho0s[k], cfg)
					z := sw.spec[ty*pairs+tx/2]
					sig := 0.5 * stftN / r0 // Gaussian across, pixels
					var p1, p2, f1, f2, g1, g2 float64
					for i := range stftN * stftN {
						d := float64(fftTab.ang[i] - normals[k])
						for d > math.Pi/2 {
							d -= math.Pi
						}
						for d < -math.Pi/2 {
							d += math.Pi
						}
						if math.Abs(d) > 0.4 {
							continue
						}
						rho := float64(fftTab.rho[i])
						zi, m := z[i], z[fftTab.mirror[i]]
						var pr, pi float32
						if tx%2 == 0 {
							pr, pi = real(zi)+real(m), imag(zi)-imag(m)
						} else {
							pr, pi = imag(zi)+imag(m), real(m)-real(zi)
						}
						p := float64(pr*pr + pi*pi)
						hv := float64(hf[i])
						df := (rho - r0) / stftN
						g := math.Exp(-2 * math.Pi * math.Pi * sig * sig * df * df)
						switch {
						case math.Abs(rho-r0) < 0.2*r0:
							p1, f1, g1 = p1+p, f1+hv*hv*p, g1+g*g*p
						case math.Abs(rho-2*r0) < 0.3*r0:
							p2, f2, g2 = p2+p, f2+hv*hv*p, g2+g*g*p
						}
					}
					if p1 > 0 && f1 > 0 && g1 > 0 {
						raw = append(raw, p2/p1)
						filt = append(filt, f2/f1)
						gab = append(gab, g2/g1)
						per = append(per, stftN/r0)
					}
				}
			}
		}
		t.Logf("%s: period median %.2f | power at 2f / at f: raw median %.3f q90 %.3f | STFT-filtered median %.4f q90 %.4f | Gabor-like median %.5f q90 %.5f",
			s.dir, q(per, .5), q(raw, .5), q(raw, .9), q(filt, .5), q(filt, .9), q(gab, .5), q(gab, .9))
	}
}

// TestSTFTMates prints, per set, the median number of rigid mates of the
// genuine pairs and of a sample of impostor pairs in the caches
// $ASSENT_FP_EXPLORE and $ASSENT_FP_EXPLORE2.
func TestSTFTMates(t *testing.T) {
	other := os.Getenv("ASSENT_FP_EXPLORE2")
	if other == "" {
		t.Skip()
	}
	a := exploreLoad(t, false)
	t.Setenv("ASSENT_FP_EXPLORE", other)
	b := exploreLoad(t, false)
	for k := range a {
		var ga, gb, ia, ib []float64
		e := a[k]
		for i := range e.imps {
			for j := i + 1; j < len(e.imps); j++ {
				gen := e.imps[i].Finger == e.imps[j].Finger
				if !gen && (i*7+j)%40 != 0 {
					continue
				}
				x := float64(houghMates(a[k].ts[i].Minutiae, a[k].ts[j].Minutiae))
				y := float64(houghMates(b[k].ts[i].Minutiae, b[k].ts[j].Minutiae))
				if gen {
					ga, gb = append(ga, x), append(gb, y)
				} else {
					ia, ib = append(ia, x), append(ib, y)
				}
			}
		}
		t.Logf("%s: genuine mates q10 %.0f -> %.0f q50 %.0f -> %.0f | impostor q50 %.0f -> %.0f q99 %.0f -> %.0f", e.dir, q(ga, .1), q(gb, .1), q(ga, .5), q(gb, .5), q(ia, .5), q(ib, .5), q(ia, .99), q(ib, .99))
	}
}

// houghMatePairs is houghMates returning the mated pairs of its best
// alignment.
func houghMatePairs(a, b []Minutia) [][2]Minutia {
	type key struct{ r, x, y int }
	votes := map[key]int{}
	for _, ma := range a {
		for _, mb := range b {
			rot := angleDiff(float64(ma.Dir), float64(mb.Dir))
			if math.Abs(rot) > math.Pi/3 {
				continue
			}
			ri := int(math.Round(rot / (4 * math.Pi / 180)))
			r := float64(ri) * 4 * math.Pi / 180
			c, s := math.Cos(r), math.Sin(r)
			tx := float64(ma.X) - (c*float64(mb.X) - s*float64(mb.Y))
			ty := float64(ma.Y) - (s*float64(mb.X) + c*float64(mb.Y))
			votes[key{ri, int(math.Floor(tx / 8)), int(math.Floor(ty / 8))}]++
		}
	}
	type kv struct {
		k key
		v int
	}
	var top []kv
	for k, v := range votes {
		top = append(top, kv{k, v})
	}
	slices.SortFunc(top, func(x, y kv) int { return y.v - x.v })
	var best [][2]Minutia
	for _, e := range top[:min(10, len(top))] {
		for dr := -1; dr <= 1; dr++ {
			r := float64(e.k.r+dr) * 4 * math.Pi / 180
			c, s := math.Cos(r), math.Sin(r)
			for dx := -1; dx <= 1; dx++ {
				for dy := -1; dy <= 1; dy++ {
					tx, ty := (float64(e.k.x+dx)+0.5)*8, (float64(e.k.y+dy)+0.5)*8
					used := make([]bool, len(b))
					var got [][2]Minutia
					for _, ma := range a {
						for j, mb := range b {
							if used[j] {
								continue
							}
							x := c*float64(mb.X) - s*float64(mb.Y) + tx
							y := s*float64(mb.X) + c*float64(mb.Y) + ty
							if math.Hypot(x-float64(ma.X), y-float64(ma.Y)) < 12 && math.Abs(angleDiff(float64(ma.Dir), float64(mb.Dir)+r)) < 25*math.Pi/180 {
								used[j] = true
								got = append(got, [2]Minutia{ma, mb})
								break
							}
						}
					}
					if len(got) > len(best) {
						best = got
					}
				}
			}
		}
	}
	return best
}

// TestSTFTDirSpread prints, per set, the spread of the mates' rotation
// (a's direction minus b's, less the pair's median) over the genuine pairs,
// in degrees, for the caches $ASSENT_FP_EXPLORE and $ASSENT_FP_EXPLORE2.
func TestSTFTDirSpread(t *testing.T) {
	other := os.Getenv("ASSENT_FP_EXPLORE2")
	if other == "" {
		t.Skip()
	}
	a := exploreLoad(t, false)
	t.Setenv("ASSENT_FP_EXPLORE", other)
	b := exploreLoad(t, false)
	spread := func(e exploreSet) (abs []float64) {
		for i := range e.imps {
			for j := i + 1; j < len(e.imps); j++ {
				if e.imps[i].Finger != e.imps[j].Finger || e.ts[i] == nil || e.ts[j] == nil {
					continue
				}
				ps := houghMatePairs(e.ts[i].Minutiae, e.ts[j].Minutiae)
				var rs []float64
				for _, p := range ps {
					rs = append(rs, angleDiff(float64(p[0].Dir), float64(p[1].Dir)))
				}
				if len(rs) < 3 {
					continue
				}
				m := q(rs, .5)
				for _, r := range rs {
					abs = append(abs, math.Abs(r-m)*180/math.Pi)
				}
			}
		}
		return abs
	}
	for k := range a {
		x, y := spread(a[k]), spread(b[k])
		t.Logf("%s: |rotation - pair median| of mates q50 %.1f -> %.1f q90 %.1f -> %.1f degrees (%d -> %d mates)", a[k].dir, q(x, .5), q(y, .5), q(x, .9), q(y, .9), len(x), len(y))
	}
}

// countHoles counts the 4-connected components of 0 pixels of at most
// maxA pixels not touching the frame.
func countHoles(m []uint8, w, h, maxA int) int {
	seen := make([]bool, len(m))
	n := 0
	var stack, comp []int
	for s := range m {
		if m[s] != 0 || seen[s] {
			continue
		}
		stack, comp = append(stack[:0], s), comp[:0]
		seen[s] = true
		edge := false
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, p)
			x, y := p%w, p/w
			if x == 0 || y == 0 || x == w-1 || y == h-1 {
				edge = true
				continue
			}
			for _, q := range [4]int{p - 1, p + 1, p - w, p + w} {
				if m[q] == 0 && !seen[q] {
					seen[q] = true
					stack = append(stack, q)
				}
			}
		}
		if !edge && len(comp) <= maxA {
			n++
		}
	}
	return n
}

// TestSTFTCriteria prints, per set, the quantiles over its images of
// candidate per-image criteria measured on the pipeline as built: the
// median block period, small holes (<= 40 px) in the binarised ridges and
// minutiae (cap lifted), both per 10,000 foreground pixels.
func TestSTFTCriteria(t *testing.T) {
	root := dataDir(t)
	for _, s := range sets {
		imps, err := ListDataset(filepath.Join(root, s.dir))
		if err != nil {
			t.Fatal(err)
		}
		var per, holes, mins []float64
		for ii := 0; ii < len(imps); ii += 2 {
			b, err := os.ReadFile(imps[ii].Path)
			if err != nil {
				t.Fatal(err)
			}
			img, _ := DecodeImage(b)
			pix, _ := greyPixels(img)
			w, h := img.Bounds().Dx(), img.Bounds().Dy()
			if s.dpi != 500 {
				pix, w, h = resample(pix, w, h, 500/float64(s.dpi))
			}
			nh := 0
			debugRidges = func(_ []float32, r []uint8) { nh = countHoles(r, w, h, 40) }
			ms, f, _, err := extractMinutiae(pix, w, h)
			debugRidges = nil
			if err != nil {
				continue
			}
			area := float64(countTrue(f.mask) * blk * blk)
			per = append(per, medianPeriod(f))
			holes = append(holes, 1e4*float64(nh)/area)
			mins = append(mins, 1e4*float64(len(ms))/area)
		}
		t.Logf("%s: period q10 %.2f q50 %.2f q90 %.2f | holes/1e4px q10 %.1f q50 %.1f q90 %.1f | minutiae/1e4px q10 %.2f q50 %.2f q90 %.2f",
			s.dir, q(per, .1), q(per, .5), q(per, .9), q(holes, .1), q(holes, .5), q(holes, .9), q(mins, .1), q(mins, .5), q(mins, .9))
	}
}

// TestSTFTSameImage prints, per set, the score and rigid mates of each
// image's template in $ASSENT_FP_EXPLORE against the same image's template
// in $ASSENT_FP_EXPLORE2 (quantiles over the images).
func TestSTFTSameImage(t *testing.T) {
	other := os.Getenv("ASSENT_FP_EXPLORE2")
	if other == "" {
		t.Skip()
	}
	a := exploreLoad(t, false)
	t.Setenv("ASSENT_FP_EXPLORE", other)
	b := exploreLoad(t, false)
	var s scratch
	for k := range a {
		var sc, mates, frac, direct []float64
		for i := range a[k].ts {
			x, y := a[k].ts[i], b[k].ts[i]
			if x == nil || y == nil {
				continue
			}
			sc = append(sc, match(&x.cyl, &y.cyl, &s))
			m := float64(houghMates(x.Minutiae, y.Minutiae))
			mates = append(mates, m)
			frac = append(frac, m/float64(min(len(x.Minutiae), len(y.Minutiae))))
			n := 0
			for _, a := range x.Minutiae {
				for _, b := range y.Minutiae {
					if math.Hypot(float64(a.X-b.X), float64(a.Y-b.Y)) < 6 && math.Abs(angleDiff(float64(a.Dir), float64(b.Dir))) < math.Pi/6 {
						n++
						break
					}
				}
			}
			direct = append(direct, float64(n)/float64(len(x.Minutiae)))
		}
		t.Logf("%s: same image across caches: score q10 %.3f q50 %.3f | mates q50 %.0f | mates / smaller template q10 %.2f q50 %.2f | within 6 px and 30 degrees unaligned q10 %.2f q50 %.2f", a[k].dir, q(sc, .1), q(sc, .5), q(mates, .5), q(frac, .1), q(frac, .5), q(direct, .1), q(direct, .5))
	}
}

// TestSTFTVizDiff draws $ASSENT_VIZ_IMAGE with the minutiae of the shipped
// pipeline and of the STFT variant of $ASSENT_FP_STFT2 (cap lifted): both
// within 6 px and 30 degrees green, the Gabor's only red, the STFT's only
// blue; left the grey image, middle the Gabor ridges, right the STFT ridges
// ($ASSENT_VIZ_OUT, scaled by $ASSENT_VIZ_SCALE).
func TestSTFTVizDiff(t *testing.T) {
	in := os.Getenv("ASSENT_VIZ_IMAGE")
	if in == "" || !fastCfg.on {
		t.Skip()
	}
	raw, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	img, _ := DecodeImage(raw)
	pix, _ := greyPixels(img)
	w, h := img.Bounds().Dx(), img.Bounds().Dy()
	saved := fastCfg
	defer func() { fastCfg = saved; debugRidges = nil }()
	var binG, binS []uint8
	fastCfg = fastConfig{angBW: saved.angBW, angBWLow: saved.angBWLow, radBW: saved.radBW, maxMin: 255}
	debugRidges = func(_ []float32, r []uint8) { binG = slices.Clone(r) }
	mg, _, _, err := extractMinutiae(pix, w, h)
	if err != nil {
		t.Fatal(err)
	}
	fastCfg = saved
	fastCfg.maxMin = 255
	debugRidges = func(_ []float32, r []uint8) { binS = slices.Clone(r) }
	ms, _, _, err := extractMinutiae(pix, w, h)
	if err != nil {
		t.Fatal(err)
	}
	near := func(a Minutia, bs []Minutia) bool {
		for _, b := range bs {
			if math.Hypot(float64(a.X-b.X), float64(a.Y-b.Y)) < 6 && math.Abs(angleDiff(float64(a.Dir), float64(b.Dir))) < math.Pi/6 {
				return true
			}
		}
		return false
	}
	sc := 2
	if v := os.Getenv("ASSENT_VIZ_SCALE"); v != "" {
		sc, _ = strconv.Atoi(v)
	}
	out := image.NewRGBA(image.Rect(0, 0, 3*w*sc, h*sc))
	for y := range h * sc {
		for x := range w * sc {
			v := uint8(pix[(y/sc)*w+x/sc])
			out.Set(x, y, color.RGBA{v, v, v, 255})
			c := color.RGBA{255, 255, 255, 255}
			if binG[(y/sc)*w+x/sc] != 0 {
				c = color.RGBA{120, 120, 120, 255}
			}
			out.Set(w*sc+x, y, c)
			c = color.RGBA{255, 255, 255, 255}
			if binS[(y/sc)*w+x/sc] != 0 {
				c = color.RGBA{120, 120, 120, 255}
			}
			out.Set(2*w*sc+x, y, c)
		}
	}
	mark := func(m Minutia, col color.RGBA, panels ...int) {
		for _, p := range panels {
			for k := range 6 * sc {
				x := int(m.X)*sc + int(float64(k)*math.Cos(float64(m.Dir)))
				y := int(m.Y)*sc + int(float64(k)*math.Sin(float64(m.Dir)))
				out.Set(p*w*sc+x, y, col)
			}
			for dy := -sc; dy <= sc; dy++ {
				for dx := -sc; dx <= sc; dx++ {
					out.Set(p*w*sc+int(m.X)*sc+dx, int(m.Y)*sc+dy, col)
				}
			}
		}
	}
	shared, onlyG, onlyS := 0, 0, 0
	for _, m := range mg {
		if near(m, ms) {
			shared++
			mark(m, color.RGBA{0, 170, 0, 255}, 0, 1, 2)
		} else {
			onlyG++
			mark(m, color.RGBA{230, 0, 0, 255}, 0, 1)
		}
	}
	for _, m := range ms {
		if !near(m, mg) {
			onlyS++
			mark(m, color.RGBA{0, 0, 255, 255}, 0, 2)
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
	t.Logf("Gabor %d, STFT %d minutiae: %d shared, %d Gabor only, %d STFT only", len(mg), len(ms), shared, onlyG, onlyS)
}

// TestSTFTShift measures how much of each pipeline's minutiae survive a
// shift of the image by (4, 4) and (12, 12) pixels (edges replicated): per
// set, over every fourth image, the fraction of the minutiae within 6 px and
// 30 degrees of one found in the shifted image, for the shipped (Gabor)
// pipeline and for the STFT variant of $ASSENT_FP_STFT2 (cap lifted).
func TestSTFTShift(t *testing.T) {
	if !fastCfg.on {
		t.Skip()
	}
	root := dataDir(t)
	saved := fastCfg
	defer func() { fastCfg = saved }()
	near := func(a Minutia, bs []Minutia, s float32) bool {
		for _, b := range bs {
			if math.Hypot(float64(a.X-(b.X-s)), float64(a.Y-(b.Y-s))) < 6 && math.Abs(angleDiff(float64(a.Dir), float64(b.Dir))) < math.Pi/6 {
				return true
			}
		}
		return false
	}
	for _, set := range sets {
		imps, err := ListDataset(filepath.Join(root, set.dir))
		if err != nil {
			t.Fatal(err)
		}
		var res [2][2][]float64
		for ii := 0; ii < len(imps); ii += 4 {
			b, _ := os.ReadFile(imps[ii].Path)
			img, _ := DecodeImage(b)
			pix, _ := greyPixels(img)
			w, h := img.Bounds().Dx(), img.Bounds().Dy()
			if set.dpi != 500 {
				pix, w, h = resample(pix, w, h, 500/float64(set.dpi))
			}
			for k, cfg := range []fastConfig{{angBW: saved.angBW, angBWLow: saved.angBWLow, radBW: saved.radBW, maxMin: 255}, saved} {
				cfg.maxMin = 255
				fastCfg = cfg
				m0, _, _, err := extractMinutiae(pix, w, h)
				if err != nil {
					continue
				}
				for si, s := range []int{4, 12} {
					w2, h2 := w+s, h+s
					p2 := make([]float32, w2*h2)
					for y := range h2 {
						for x := range w2 {
							p2[y*w2+x] = pix[max(0, y-s)*w+max(0, x-s)]
						}
					}
					m1, _, _, err := extractMinutiae(p2, w2, h2)
					if err != nil {
						continue
					}
					n := 0
					for _, m := range m0 {
						if near(m, m1, float32(s)) {
							n++
						}
					}
					res[k][si] = append(res[k][si], float64(n)/float64(len(m0)))
				}
			}
		}
		t.Logf("%s: minutiae kept under a shift of 4 / 12 px, median: Gabor %.2f / %.2f, STFT %.2f / %.2f", set.dir, q(res[0][0], .5), q(res[0][1], .5), q(res[1][0], .5), q(res[1][1], .5))
	}
}

// TestSTFTOrientDiff prints, per set, how far the final orientation field
// of the STFT variant ($ASSENT_FP_STFT2) lies from the shipped pipeline's
// (both refined on their own responses): the median and 90th percentile
// over every fourth image's common foreground blocks, in degrees, and the
// fraction of blocks more than 20 degrees apart.
func TestSTFTOrientDiff(t *testing.T) {
	if !fastCfg.on {
		t.Skip()
	}
	root := dataDir(t)
	saved := fastCfg
	defer func() { fastCfg = saved }()
	for _, set := range sets {
		imps, err := ListDataset(filepath.Join(root, set.dir))
		if err != nil {
			t.Fatal(err)
		}
		var ds []float64
		far := 0
		for ii := 0; ii < len(imps); ii += 4 {
			b, _ := os.ReadFile(imps[ii].Path)
			img, _ := DecodeImage(b)
			pix, _ := greyPixels(img)
			w, h := img.Bounds().Dx(), img.Bounds().Dy()
			if set.dpi != 500 {
				pix, w, h = resample(pix, w, h, 500/float64(set.dpi))
			}
			fastCfg = fastConfig{angBW: saved.angBW, angBWLow: saved.angBWLow, radBW: saved.radBW}
			_, fg, _, err := extractMinutiae(pix, w, h)
			if err != nil {
				continue
			}
			fastCfg = saved
			_, fs, _, err := extractMinutiae(pix, w, h)
			if err != nil {
				continue
			}
			for k := range fg.mask {
				if fg.mask[k] && fs.mask[k] {
					d := math.Abs(angleDiff(2*fg.orient[k], 2*fs.orient[k])) / 2 * 180 / math.Pi
					ds = append(ds, d)
					if d > 20 {
						far++
					}
				}
			}
		}
		t.Logf("%s: |Gabor orientation - STFT orientation| q50 %.1f q90 %.1f degrees, %.1f %% of blocks beyond 20", set.dir, q(ds, .5), q(ds, .9), 100*float64(far)/float64(len(ds)))
	}
}
