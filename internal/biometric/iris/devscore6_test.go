package iris

import (
	"encoding/gob"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
)

// TestDevScore6 (sixth round of issue 17) scores the TestDevCache templates
// of both sets with the shipped distance and prints, per set, the figures
// an encoder variant is judged by: FTE, usable bits, the code's mean
// correlation sums within rows (lags ±6, RowCorrelation) and between
// neighbouring rows (lags ±4), in-sample EER and FMR1000-100000, the
// out-of-sample EER and FMR multiples at the other set's thresholds, the
// set's own impostor model (single-shift mean and dof, effective shifts)
// with its measured FMR at 1e-3..1e-5, and the genuine pairs above the EER
// threshold. A development aid: ASSENT_IRIS_DEV=1 ASSENT_IRIS_DEV_CACHE.
func TestDevScore6(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if dir == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	sets := map[string]*EvalResult{}
	for _, name := range []string{"casia", "iitd"} {
		s, ts := loadDevSet(t, filepath.Join(dir, name+".gob"))
		m := DefaultMatcher()
		g := NewGallery(GalleryOptions{Matcher: m})
		stride := 2 * g.words
		packed := make([][]uint64, len(ts))
		preps := make([]prepared, len(ts))
		within := make([]float64, len(ts))
		between := make([]float64, len(ts))
		var wg sync.WaitGroup
		W := runtime.GOMAXPROCS(0)
		for w := range W {
			wg.Go(func() {
				for i := w; i < len(ts); i += W {
					tp := ts[i]
					if tp == nil {
						continue
					}
					packed[i] = make([]uint64, stride)
					g.packEntry(packed[i], tp.Code, tp.Mask)
					preps[i] = g.prepare(tp)
					within[i] = tp.RowCorrelation()
					r, n, dr, _ := codeCorrN(tp, 1, 4)
					for o := range r {
						if dr[o] != 0 && n[o] > 0 {
							between[i] += float64(r[o])*float64(r[o]) - 1/float64(n[o])
						}
					}
				}
			})
		}
		wg.Wait()
		var fails int
		var usable, win, bet []float64
		for i, tp := range ts {
			if tp == nil {
				fails++
				continue
			}
			usable = append(usable, float64(tp.UsableBits()))
			win = append(win, within[i])
			bet = append(bet, between[i])
		}
		same := map[[2]int]bool{}
		for _, p := range s.Same {
			a, b := slices.Index(s.Eyes, p[0]), slices.Index(s.Eyes, p[1])
			same[[2]int{a, b}], same[[2]int{b, a}] = true, true
		}
		type part struct {
			gen, imp, single []float64
			genIdx           [][2]int
		}
		parts := make([]part, W)
		mid := m.Rotations * stride
		for w := range W {
			wg.Go(func() {
				var p part
				for i := w; i < len(ts); i += W {
					for j := i + 1; j < len(ts); j++ {
						genuine := s.Eye[i] == s.Eye[j]
						if !genuine && same[[2]int{s.Eye[i], s.Eye[j]}] {
							continue
						}
						d := 2.0
						if packed[i] != nil && packed[j] != nil {
							norm := pairNorm(float64(m.NormBits), preps[i].q, preps[j].q)
							if x := best(preps[i].full, packed[j], preps[i].shifts, m.MinBits, norm); x < 1 {
								d = x
							}
							if !genuine && (i+j)%8 == 0 {
								if x := best(preps[i].full[mid:mid+stride], packed[j], 1, m.MinBits, norm); x < 1 {
									p.single = append(p.single, x)
								}
							}
						}
						if genuine {
							p.gen = append(p.gen, d)
							p.genIdx = append(p.genIdx, [2]int{i, j})
						} else {
							p.imp = append(p.imp, d)
						}
					}
				}
				parts[w] = p
			})
		}
		wg.Wait()
		var gen, imp, single []float64
		var genIdx [][2]int
		for _, p := range parts {
			gen = append(gen, p.gen...)
			imp = append(imp, p.imp...)
			single = append(single, p.single...)
			genIdx = append(genIdx, p.genIdx...)
		}
		genRaw := slices.Clone(gen)
		r := &EvalResult{Dataset: name}
		rates(r, gen, imp)
		r.gen, r.imp = gen, imp
		m1, sd := meanStd(single)
		r.ImpostorSingleMean = m1
		r.ImpostorDOF = 0.25 / (sd * sd)
		r.EffectiveShifts, r.ShiftsFittedAt = fitShifts(imp, m1, sd)
		sets[name] = r
		um, us := meanStd(usable)
		wm, ws := meanStd(win)
		bm, bs := meanStd(bet)
		t.Logf("SET %s: FTE %d of %d, usable %.0f ± %.0f, S within ±6 %.3f ± %.3f, between ±4 %.3f ± %.3f, genuine %d impostor %d",
			name, fails, len(ts), um, us, wm, ws, bm, bs, len(gen), len(imp))
		t.Logf("SET %s: EER %.3f %% (thr %.4f) FMR1000 %.3f FMR10000 %.3f FMR100000 %.3f ZeroFMR %.3f lowest impostor %.4f",
			name, 100*r.EER, r.EERThreshold, 100*r.FMR1000, 100*r.FMR10000, 100*r.FMR100000, 100*r.ZeroFMR, imp[0])
		t.Logf("SET %s: own model mean %.4f dof %.0f k %.1f (fitted at %v); shipped model check:", name, m1, r.ImpostorDOF, r.EffectiveShifts, r.ShiftsFittedAt)
		for _, mp := range [][]ModelPoint{CheckModel(r.Model(), r), CheckModel(DefaultModel(), r)} {
			line := ""
			for _, p := range mp[:3] {
				line += fmt.Sprintf(" %g: thr %.4f %d pairs %.2fx FNMR %.3f%%;", p.Target, p.Threshold, p.Impostors, p.FMR/p.Target, 100*p.FNMR)
			}
			t.Logf("SET %s: model%s", name, line)
		}
		var bad []string
		for k, d := range genRaw {
			if d > r.EERThreshold {
				i, j := genIdx[k][0], genIdx[k][1]
				bad = append(bad, fmt.Sprintf("%s~%s %.4f", s.Paths[i], filepath.Base(s.Paths[j]), d))
			}
		}
		slices.Sort(bad)
		t.Logf("SET %s: %d genuine pairs above the EER threshold: %v", name, len(bad), bad)
	}
	for _, p := range [][2]string{{"casia", "iitd"}, {"iitd", "casia"}} {
		tr, cal := sets[p[0]], sets[p[1]]
		cr, err := CrossFrom(tr, cal)
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("OUT %s at %s's thresholds: EER %.3f %% (FMR %.3f FNMR %.3f)", p[0], p[1], 100*cr.Out.EER, 100*cr.Out.At[0].FMR, 100*cr.Out.At[0].FNMR)
		for _, a := range cr.Out.At[1:] {
			line += fmt.Sprintf(" %g: %.2fx FNMR %.3f", a.Target, a.FMR/a.Target, 100*a.FNMR)
		}
		t.Log(line)
	}
}

// TestDevSameAsCache re-extracts every 10th image of the cached sets with
// ASSENT_IRIS_TUNE and counts the templates that differ from the cache's
// (an encoder refactor must leave the default templates byte-identical).
func TestDevSameAsCache(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if dir == "" || os.Getenv("ASSENT_IRIS_DEV_CHECK") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV_CHECK=1 and ASSENT_IRIS_DEV_CACHE")
	}
	c, err := tuneConfig(os.Getenv("ASSENT_IRIS_TUNE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"casia", "iitd"} {
		s, _ := loadDevSet(t, filepath.Join(dir, name+".gob"))
		var n, differ int
		for i := 0; i < len(s.Paths); i += 10 {
			tp, _, _ := extractFileSum(filepath.Join(s.Dir, s.Paths[i]), c)
			var b []byte
			if tp != nil {
				b, _ = tp.MarshalBinary()
			}
			n++
			if !slices.Equal(b, s.Templates[i]) {
				differ++
			}
		}
		t.Logf("%s: %d of %d templates differ from the cache", name, differ, n)
	}
}

// devBands is one data set's unwrapped bands and their occlusions before
// the eyelid and lash mask (nil for an image whose segmentation failed),
// cached by TestDevBandCache so mask and encoder variants can be scored
// without segmenting again.
type devBands struct {
	Set  devSet
	Band [][]float32
	Occ  [][]bool
}

// TestDevBandCache segments CASIA-IrisV1 and IITD with the default
// parameters and writes each image's unwrapped band to
// ASSENT_IRIS_DEV_BANDS/{casia,iitd}.bands.gob; a development aid (the
// cache holds licensed data: keep it outside the repository).
func TestDevBandCache(t *testing.T) {
	out := os.Getenv("ASSENT_IRIS_DEV_BANDS")
	if out == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_BANDS")
	}
	c := defaultConfig()
	for _, x := range []struct {
		name, dir string
		same      [][2]string
	}{{"casia", os.Getenv("ASSENT_IRIS_DATA"), nil}, {"iitd", os.Getenv("ASSENT_IITD_DATA"), sameEyesIITD(t)}} {
		eyes, eye, paths, err := listEyes(x.dir)
		if err != nil {
			t.Fatal(err)
		}
		b := devBands{Set: devSet{Dir: x.dir, Eyes: eyes, Eye: eye, Paths: paths, Same: x.same},
			Band: make([][]float32, len(paths)), Occ: make([][]bool, len(paths))}
		var wg sync.WaitGroup
		W := runtime.GOMAXPROCS(0)
		for w := range W {
			wg.Go(func() {
				for i := w; i < len(paths); i += W {
					data, err := os.ReadFile(filepath.Join(x.dir, paths[i]))
					if err != nil {
						continue
					}
					img, err := DecodeImage(data)
					if err != nil {
						continue
					}
					bd := img.Bounds()
					if checkSize(bd.Dx(), bd.Dy()) != nil {
						continue
					}
					g := toGray(img, c.maxSide)
					hl := fillHighlights(g)
					seg, ok := segmentWith(g, c)
					if !ok || seg.contrast < c.minContrast {
						continue
					}
					b.Band[i], b.Occ[i] = unwrap(g, hl, seg, c)
				}
			})
		}
		wg.Wait()
		f, err := os.Create(filepath.Join(out, x.name+".bands.gob"))
		if err != nil {
			t.Fatal(err)
		}
		if err := gob.NewEncoder(f).Encode(&b); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d images' bands cached", x.name, len(paths))
	}
}

// TestDevEncodeCache masks and encodes the bands TestDevBandCache wrote
// with the parameters of ASSENT_IRIS_TUNE (segmentation parameters and
// lidCurve are ignored: the bands are the default segmentation's) and
// writes the templates to ASSENT_IRIS_DEV_CACHE as TestDevCache would.
func TestDevEncodeCache(t *testing.T) {
	in, out := os.Getenv("ASSENT_IRIS_DEV_BANDS"), os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if in == "" || out == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1, ASSENT_IRIS_DEV_BANDS and ASSENT_IRIS_DEV_CACHE")
	}
	c, err := tuneConfig(os.Getenv("ASSENT_IRIS_TUNE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"casia", "iitd"} {
		b := readDevBands(t, filepath.Join(in, name+".bands.gob"))
		s := b.Set
		s.Templates = make([][]byte, len(s.Paths))
		var wg sync.WaitGroup
		W := runtime.GOMAXPROCS(0)
		for w := range W {
			wg.Go(func() {
				for i := w; i < len(s.Paths); i += W {
					if b.Band[i] == nil {
						continue
					}
					maskOcclusions(b.Band[i], b.Occ[i], c)
					tp := encode(b.Band[i], b.Occ[i], c)
					if tp.UsableBits() >= c.minUsable {
						s.Templates[i], _ = tp.MarshalBinary()
					}
				}
			})
		}
		wg.Wait()
		g, err := os.Create(filepath.Join(out, name+".gob"))
		if err != nil {
			t.Fatal(err)
		}
		if err := gob.NewEncoder(g).Encode(&s); err != nil {
			t.Fatal(err)
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDevSlopes prints, per cached set, the mean and deviation over images
// of the spectral slope of the bands along the angle (spectrumSlope around
// the filter's centre bin), masked with the default parameters.
func TestDevSlopes(t *testing.T) {
	in := os.Getenv("ASSENT_IRIS_DEV_BANDS")
	if in == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_BANDS")
	}
	c := defaultConfig()
	centre := int(float64(c.polarCols)/c.wavelength + 0.5)
	for _, name := range []string{"casia", "iitd"} {
		b := readDevBands(t, filepath.Join(in, name+".bands.gob"))
		var sl []float64
		byEye := map[int][]float64{}
		for i := range b.Band {
			if b.Band[i] == nil {
				continue
			}
			sl = append(sl, devBandSlope(b, i, c, centre))
			byEye[b.Set.Eye[i]] = append(byEye[b.Set.Eye[i]], sl[len(sl)-1])
		}
		// Pooled deviation of an image's slope about its eye's mean.
		var ss float64
		var dof int
		for _, v := range byEye {
			em, _ := meanStd(v)
			for _, x := range v {
				ss += (x - em) * (x - em)
			}
			dof += len(v) - 1
		}
		t.Logf("%s: slope deviation within an eye %.3f (pooled over %d eyes)", name, math.Sqrt(ss/float64(max(dof, 1))), len(byEye))
		m, sd := meanStd(sl)
		slices.Sort(sl)
		t.Logf("%s: spectral slope %.3f ± %.3f (median %.3f, 10-90 %% %.3f..%.3f) over %d images", name, m, sd, sl[len(sl)/2], sl[len(sl)/10], sl[9*len(sl)/10], len(sl))
	}
}

// devBandSlope masks the cached band i with c (in place) and returns the
// spectral slope of its rows' summed power along the angle around bin
// centre.
func devBandSlope(b devBands, i int, c config, centre int) float64 {
	maskOcclusions(b.Band[i], b.Occ[i], c)
	spec, _ := bandSpectra(b.Band[i], b.Occ[i], c, DefaultRows, DefaultRows)
	p := make([]float64, c.polarCols)
	for _, x := range spec {
		for k, z := range x {
			p[k] += real(z)*real(z) + imag(z)*imag(z)
		}
	}
	return spectrumSlope(p, centre)
}

// readDevBands reads a set's cached bands (TestDevBandCache's file).
func readDevBands(t *testing.T, path string) devBands {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b devBands
	if err := gob.NewDecoder(f).Decode(&b); err != nil {
		t.Fatal(err)
	}
	return b
}
