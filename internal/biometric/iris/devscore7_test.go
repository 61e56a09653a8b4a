package iris

import (
	"encoding/gob"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Seventh round of issue 17 (docs/iris.md): matcher-side variants of the
// degrees-of-freedom count, scored on the TestDevEncodeCache templates.
//
// The rescaled distance of a pair is 0.5 - z / sqrt(N), z the largest over
// shifts of (0.5 - raw) sqrt(n), N the pair's NormBits; since N does not
// depend on the shift, the best shift does not either, so z is computed
// once per pair and every variant of N is scored from it in a fraction of a
// second.

// devFeat is one template's features a variant of N may use.
type devFeat struct {
	S     float64 // RowCorrelation (lags ±6)
	S12   float64 // the same over lags ±12
	Q     float64 // corrRoot(S), as the gallery keeps it
	Slope float64 // spectral slope of the bands along the angle (0 if unknown)
	Bits  float64 // usable bits
	R1    float64 // mean correlation of a bit with the same kind one column on
}

// devPairSet is one set's pairs: z of the best shift and, for every 8th
// impostor pair, z at shift 0 (NaN when the shift had too few bits).
type devPairSet struct {
	name   string
	set    devSet
	feat   []devFeat
	ok     []bool
	gi, gj []int32 // genuine pairs (template indices)
	gz     []float32
	ii, ij []int32 // impostor pairs
	iz     []float32
	si, sj []int32 // single-shift impostor samples
	sz     []float32
	ei, ej []int32 // assent eval iris's single-shift sample
	ez     []float32
}

// devSlopes returns each image's spectral slope (TestDevSlopes' measure),
// read from ASSENT_IRIS_DEV_BANDS/<name>.slopes.gob or computed from the
// cached bands and written there.
func devSlopes(t *testing.T, dir, name string) []float64 {
	if dir == "" {
		return nil
	}
	sp := filepath.Join(dir, name+".slopes.gob")
	if f, err := os.Open(sp); err == nil {
		defer f.Close()
		var s []float64
		if err := gob.NewDecoder(f).Decode(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	c := defaultConfig()
	centre := int(float64(c.polarCols)/c.wavelength + 0.5)
	b := readDevBands(t, filepath.Join(dir, name+".bands.gob"))
	s := make([]float64, len(b.Band))
	for i := range b.Band {
		if b.Band[i] == nil {
			continue
		}
		s[i] = devBandSlope(b, i, c, centre)
	}
	f, err := os.Create(sp)
	if err != nil {
		t.Fatal(err)
	}
	if err := gob.NewEncoder(f).Encode(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return s
}

// rowCorrLags is rowCorrelation over lags 0..maxLag.
func rowCorrLags(code, mask []uint64, rows, cols, maxLag int) (s, r1 float64) {
	w := len(code)
	rc := make([]uint64, w)
	rm := make([]uint64, w)
	term := func(kk int) (float64, int) {
		var diff, n int
		for i := range w {
			c, m := rc[i], rm[i]
			if kk == 1 {
				c, m = swapKinds(c), swapKinds(m)
			}
			mk := mask[i] & m
			diff += popcount((code[i] ^ c) & mk)
			n += popcount(mk)
		}
		if n < 64 {
			return 0, 0
		}
		return 1 - 2*float64(diff)/float64(n), n
	}
	for lag := 0; lag <= maxLag; lag++ {
		rotate(rc, code, rows, cols, lag)
		rotate(rm, mask, rows, cols, lag)
		for kk := range 2 {
			if lag == 0 && kk == 0 {
				continue
			}
			r, n := term(kk)
			if n == 0 {
				continue
			}
			u := r*r - 1/float64(n)
			if lag > 0 {
				u *= 2
			}
			s += u
			if lag == 1 && kk == 0 {
				r1 = r
			}
		}
	}
	return s, r1
}

func popcount(x uint64) int {
	n := 0
	for x != 0 {
		x &= x - 1
		n++
	}
	return n
}

// devPairsZ computes every pair's z for one cached set.
func devPairsZ(t *testing.T, name, cache, bands string) *devPairSet {
	s, ts := loadDevSet(t, filepath.Join(cache, name+".gob"))
	slopes := devSlopes(t, bands, name)
	m := DefaultMatcher()
	g := NewGallery(GalleryOptions{Matcher: m})
	stride := 2 * g.words
	ps := &devPairSet{name: name, set: s, feat: make([]devFeat, len(ts)), ok: make([]bool, len(ts))}
	packed := make([][]uint64, len(ts))
	preps := make([]prepared, len(ts))
	var wg sync.WaitGroup
	W := runtime.GOMAXPROCS(0)
	for w := range W {
		wg.Go(func() {
			for i := w; i < len(ts); i += W {
				tp := ts[i]
				if tp == nil {
					continue
				}
				ps.ok[i] = true
				packed[i] = make([]uint64, stride)
				g.packEntry(packed[i], tp.Code, tp.Mask)
				preps[i] = g.prepare(tp)
				f := &ps.feat[i]
				f.S = tp.RowCorrelation()
				f.Q = corrRoot(f.S)
				f.S12, f.R1 = rowCorrLags(tp.Code, tp.Mask, tp.Rows, tp.Cols, 12)
				f.Bits = float64(tp.UsableBits())
				if slopes != nil {
					f.Slope = slopes[i]
				}
			}
		})
	}
	wg.Wait()
	same := map[[2]int]bool{}
	for _, p := range s.Same {
		a, b := slices.Index(s.Eyes, p[0]), slices.Index(s.Eyes, p[1])
		same[[2]int{a, b}], same[[2]int{b, a}] = true, true
	}
	// The single-shift sample `assent eval iris` fits its model on: the
	// first 50,000 comparable impostor pairs in order.
	for i := 0; i < len(ts) && len(ps.ei) < 50000; i++ {
		for j := i + 1; j < len(ts) && len(ps.ei) < 50000; j++ {
			if s.Eye[i] == s.Eye[j] || same[[2]int{s.Eye[i], s.Eye[j]}] || packed[i] == nil || packed[j] == nil {
				continue
			}
			found := false
			for k := range preps[i].shifts {
				if _, n := masked(preps[i].full[k*stride:(k+1)*stride], packed[j]); n >= m.MinBits && n > 0 {
					found = true
					break
				}
			}
			if !found {
				continue
			}
			k := m.Rotations
			diff, n := masked(preps[i].full[k*stride:(k+1)*stride], packed[j])
			if n >= m.MinBits && n > 0 {
				ps.ei, ps.ej = append(ps.ei, int32(i)), append(ps.ej, int32(j))
				ps.ez = append(ps.ez, float32((float64(n)/2-float64(diff))/math.Sqrt(float64(n))))
			}
		}
	}
	parts := make([]devPairSet, W)
	mid := m.Rotations
	for w := range W {
		wg.Go(func() {
			p := &parts[w]
			for i := w; i < len(ts); i += W {
				for j := i + 1; j < len(ts); j++ {
					genuine := s.Eye[i] == s.Eye[j]
					if !genuine && same[[2]int{s.Eye[i], s.Eye[j]}] {
						continue
					}
					z := float32(math.NaN())
					if packed[i] != nil && packed[j] != nil {
						bz := math.Inf(-1)
						for k := range preps[i].shifts {
							diff, n := masked(preps[i].full[k*stride:(k+1)*stride], packed[j])
							if n < m.MinBits || n == 0 {
								continue
							}
							x := (float64(n)/2 - float64(diff)) / math.Sqrt(float64(n))
							bz = max(bz, x)
							if k == mid && !genuine && (i+j)%8 == 0 {
								p.si, p.sj, p.sz = append(p.si, int32(i)), append(p.sj, int32(j)), append(p.sz, float32(x))
							}
						}
						if !math.IsInf(bz, -1) {
							z = float32(bz)
						}
					}
					if genuine {
						p.gi, p.gj, p.gz = append(p.gi, int32(i)), append(p.gj, int32(j)), append(p.gz, z)
					} else {
						p.ii, p.ij, p.iz = append(p.ii, int32(i)), append(p.ij, int32(j)), append(p.iz, z)
					}
				}
			}
		})
	}
	wg.Wait()
	for _, p := range parts {
		ps.gi, ps.gj, ps.gz = append(ps.gi, p.gi...), append(ps.gj, p.gj...), append(ps.gz, p.gz...)
		ps.ii, ps.ij, ps.iz = append(ps.ii, p.ii...), append(ps.ij, p.ij...), append(ps.iz, p.iz...)
		ps.si, ps.sj, ps.sz = append(ps.si, p.si...), append(ps.sj, p.sj...), append(ps.sz, p.sz...)
	}
	return ps
}

// devNorm is a variant: the log of a pair's N (up to a constant, which
// only sets the distance's scale) from the two templates' features.
type devNorm struct {
	name string
	f    func(a, b *devFeat) float64
}

// devScored is one set scored by one variant.
type devScored struct {
	r   *EvalResult
	bad []string // genuine pairs above the EER threshold
	m   Model
	mp  []ModelPoint
	// evalFit is the model fitted as assent eval iris fits it (the first
	// 50,000 impostor pairs' single shift), the one match.go ships.
	evalFit Model
}

func (ps *devPairSet) score(v devNorm, scale float64) devScored {
	dist := func(i, j int32, z float32) float64 {
		if math.IsNaN(float64(z)) {
			return 2
		}
		ln := v.f(&ps.feat[i], &ps.feat[j]) - scale
		return min(max(0.5-float64(z)/math.Sqrt(DefaultNormBits*math.Exp(ln)), 0), 1)
	}
	gen := make([]float64, len(ps.gz))
	for k := range gen {
		gen[k] = dist(ps.gi[k], ps.gj[k], ps.gz[k])
	}
	imp := make([]float64, len(ps.iz))
	var wg sync.WaitGroup
	W := runtime.GOMAXPROCS(0)
	for w := range W {
		wg.Go(func() {
			for k := w; k < len(imp); k += W {
				imp[k] = dist(ps.ii[k], ps.ij[k], ps.iz[k])
			}
		})
	}
	wg.Wait()
	var single []float64
	for k := range ps.sz {
		if d := dist(ps.si[k], ps.sj[k], ps.sz[k]); d < 1 {
			single = append(single, d)
		}
	}
	genRaw := slices.Clone(gen)
	r := &EvalResult{Dataset: ps.name}
	rates(r, gen, imp)
	r.gen, r.imp = gen, imp
	m1, sd := meanStd(single)
	r.ImpostorSingleMean = m1
	r.ImpostorDOF = 0.25 / (sd * sd)
	r.EffectiveShifts, r.ShiftsFittedAt = fitShifts(imp, m1, sd)
	var evalSingle []float64
	for k := range ps.ez {
		if d := dist(ps.ei[k], ps.ej[k], ps.ez[k]); d < 1 {
			evalSingle = append(evalSingle, d)
		}
	}
	em, esd := meanStd(evalSingle)
	ek, _ := fitShifts(imp, em, esd)
	evalFit := Model{Mean: em, DOF: 0.25 / (esd * esd), Shifts: ek}
	var bad []string
	for k, d := range genRaw {
		if d > r.EERThreshold {
			i, j := ps.gi[k], ps.gj[k]
			bad = append(bad, fmt.Sprintf("%s~%s", ps.set.Paths[i], filepath.Base(ps.set.Paths[j])))
		}
	}
	slices.Sort(bad)
	return devScored{r: r, bad: bad, m: r.Model(), mp: CheckModel(r.Model(), r), evalFit: evalFit}
}

// TestDevScore7 scores matcher-side variants of the pair's N on both
// cached sets (ASSENT_IRIS_DEV=1 ASSENT_IRIS_DEV_CACHE, and
// ASSENT_IRIS_DEV_BANDS for the slope variants; ASSENT_IRIS_DEV_VARIANTS
// a comma-separated list of name prefixes to keep).
func TestDevScore7(t *testing.T) {
	cache := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if cache == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	bands := os.Getenv("ASSENT_IRIS_DEV_BANDS")
	sets := map[string]*devPairSet{}
	for _, name := range []string{"casia", "iitd"} {
		sets[name] = devPairsZ(t, name, cache, bands)
		ps := sets[name]
		var S, sl, r1 []float64
		for i, f := range ps.feat {
			if ps.ok[i] {
				S, sl, r1 = append(S, f.S), append(sl, f.Slope), append(r1, f.R1)
			}
		}
		a, b := meanStd(S)
		c, d := meanStd(sl)
		e, f := meanStd(r1)
		t.Logf("FEAT %s: S %.3f ± %.3f (within eye %.3f), slope %.3f ± %.3f (within eye %.3f), r1 %.3f ± %.3f (within eye %.3f)", name, a, b,
			ps.withinEye(func(f *devFeat) float64 { return f.S }), c, d,
			ps.withinEye(func(f *devFeat) float64 { return f.Slope }), e, f,
			ps.withinEye(func(f *devFeat) float64 { return f.R1 }))
	}
	lq := func(a, b *devFeat) float64 { return math.Log(1 + a.Q*b.Q) }
	var vs []devNorm
	vs = append(vs, devNorm{"fifth", lq}) // the fifth round's weight, 1
	vs = append(vs, devNorm{"shipped", func(a, b *devFeat) float64 { return math.Log(pairNorm(1, a.Q, b.Q)) }})
	for _, g := range []float64{1.25, 1.5, 1.75, 2, 2.25, 2.5, 2.75, 3} {
		vs = append(vs, devNorm{fmt.Sprintf("g%.3g", g), func(a, b *devFeat) float64 { return g * lq(a, b) }})
	}
	for _, beta := range []float64{0.25, 0.5, 0.75, 1, 1.5} {
		for _, g := range []float64{0, 1, 1.5, 2} {
			vs = append(vs, devNorm{fmt.Sprintf("slope%.2g+g%.2g", beta, g), func(a, b *devFeat) float64 {
				return g*lq(a, b) - beta*(a.Slope+b.Slope)/2
			}})
		}
	}
	minQ := func(a, b *devFeat) float64 { m := min(a.Q, b.Q); return math.Log(1 + m*m) }
	for _, g := range []float64{2, 2.5, 3} {
		vs = append(vs, devNorm{fmt.Sprintf("min%.2g", g), func(a, b *devFeat) float64 { return lq(a, b) + (g-1)*minQ(a, b) }})
		vs = append(vs, devNorm{fmt.Sprintf("minonly%.2g", g), func(a, b *devFeat) float64 { return g * minQ(a, b) }})
		vs = append(vs, devNorm{fmt.Sprintf("maxq%.2g", g), func(a, b *devFeat) float64 { m := max(a.Q, b.Q); return lq(a, b) + (g-1)*math.Log(1+m*m) }})
		for _, k := range []float64{1.0, 1.2, 1.4} {
			vs = append(vs, devNorm{fmt.Sprintf("knee%.2g@%.2g", g, k), func(a, b *devFeat) float64 {
				return lq(a, b) + (g-1)*max(0, lq(a, b)-math.Log(1+k))
			}})
			vs = append(vs, devNorm{fmt.Sprintf("kneemin%.2g@%.2g", g, k), func(a, b *devFeat) float64 {
				return lq(a, b) + (g-1)*max(0, minQ(a, b)-math.Log(1+k))
			}})
		}
	}
	for _, beta := range []float64{2, 4, 6, 8} {
		vs = append(vs, devNorm{fmt.Sprintf("r1x%.2g", beta), func(a, b *devFeat) float64 { return lq(a, b) + beta*(a.R1+b.R1)/2 }})
		vs = append(vs, devNorm{fmt.Sprintf("r1min%.2g", beta), func(a, b *devFeat) float64 { return lq(a, b) + beta*min(a.R1, b.R1) }})
	}
	for _, g := range []float64{1, 1.5, 2, 2.5} {
		vs = append(vs, devNorm{fmt.Sprintf("s12g%.2g", g), func(a, b *devFeat) float64 {
			return g * math.Log(1+math.Sqrt(max(a.S12, 0)*max(b.S12, 0)))
		}})
	}
	if keep := os.Getenv("ASSENT_IRIS_DEV_VARIANTS"); keep != "" {
		vs = slices.DeleteFunc(vs, func(v devNorm) bool {
			for _, p := range strings.Split(keep, ",") {
				if strings.HasPrefix(v.name, p) {
					return false
				}
			}
			return true
		})
	}
	var base map[string]devScored
	for _, v := range vs {
		scale := 0.0 // N exactly as pairNorm gives it (the scale only moves the own models)
		res := map[string]devScored{}
		for _, name := range []string{"casia", "iitd"} {
			res[name] = sets[name].score(v, scale)
		}
		if base == nil {
			base = res
		}
		line := fmt.Sprintf("VAR %-16s", v.name)
		var outSum float64
		for _, p := range [][2]string{{"casia", "iitd"}, {"iitd", "casia"}} {
			tr, cal := res[p[0]], res[p[1]]
			cr, err := CrossFrom(tr.r, cal.r)
			if err != nil {
				t.Fatal(err)
			}
			outSum += cr.Out.EER
			x := ""
			for _, a := range cr.Out.At[1:] {
				x += fmt.Sprintf(" %.2f", a.FMR/a.Target)
			}
			lost, won := diffList(base[p[0]].bad, tr.bad)
			line += fmt.Sprintf(" | %s EER %.3f (%d, -%d +%d) FMR1000 %.3f 1e5 %.3f out %.3f (x%s) own %.2fx %.2fx",
				p[0], 100*tr.r.EER, len(tr.bad), won, lost, 100*tr.r.FMR1000, 100*tr.r.FMR100000, 100*cr.Out.EER, x,
				tr.mp[1].FMR/tr.mp[1].Target, tr.mp[2].FMR/tr.mp[2].Target)
		}
		line += fmt.Sprintf(" | mean out %.3f", 50*outSum)
		t.Log(line)
		if os.Getenv("ASSENT_IRIS_DEV_SHIP") != "" {
			// The shipped model (match.go's constants) on each set, the 1:N
			// thresholds' FNMR, and the out-of-sample FNMR at the other
			// set's FMR thresholds.
			for _, p := range [][2]string{{"casia", "iitd"}, {"iitd", "casia"}} {
				tr := res[p[0]]
				cr, _ := CrossFrom(tr.r, res[p[1]].r)
				l := fmt.Sprintf("SHIP %s %s: own model %+v, as assent eval fits it %+v; lowest impostor %.4f; shipped model:", v.name, p[0], tr.m, tr.evalFit, tr.r.imp[0])
				for _, mp := range CheckModel(DefaultModel(), tr.r) {
					l += fmt.Sprintf(" %g: thr %.4f %d pairs %.2fx FNMR %.3f%%;", mp.Target, mp.Threshold, mp.Impostors, mp.FMR/mp.Target, 100*mp.FNMR)
				}
				for _, f := range []float64{5e-8, 5e-9, 2.5e-10} {
					th := ThresholdForFMR(f)
					ng, _ := slices.BinarySearch(tr.r.gen, math.Nextafter(th, 3))
					l += fmt.Sprintf(" 1:N %g: thr %.4f FNMR %.3f%%;", f, th, 100*(1-float64(ng)/float64(len(tr.r.gen))))
				}
				l += " out:"
				for _, a := range cr.Out.At {
					l += fmt.Sprintf(" %g: FMR %.4f%% FNMR %.3f%% at %.4f;", a.Target, 100*a.FMR, 100*a.FNMR, -a.Threshold)
				}
				t.Log(l)
			}
		}
		if os.Getenv("ASSENT_IRIS_DEV_PAIRS") != "" {
			for _, name := range []string{"casia", "iitd"} {
				t.Logf("PAIRS %s %s: %v", v.name, name, res[name].bad)
			}
		}
	}
}

// diffList counts the entries of b not in a (lost) and of a not in b (won).
func diffList(a, b []string) (lost, won int) {
	for _, x := range b {
		if !slices.Contains(a, x) {
			lost++
		}
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			won++
		}
	}
	return lost, won
}

// withinEye is the pooled deviation of a feature about each eye's mean.
func (ps *devPairSet) withinEye(f func(*devFeat) float64) float64 {
	byEye := map[int][]float64{}
	for i := range ps.feat {
		if ps.ok[i] {
			byEye[ps.set.Eye[i]] = append(byEye[ps.set.Eye[i]], f(&ps.feat[i]))
		}
	}
	var ss float64
	var dof int
	for _, v := range byEye {
		em, _ := meanStd(v)
		for _, x := range v {
			ss += (x - em) * (x - em)
		}
		dof += len(v) - 1
	}
	return math.Sqrt(ss / float64(max(dof, 1)))
}

// TestDevTail7 looks at where each set's impostor tail comes from, with the
// shipped distance (the figures in docs/iris.md are the fifth round's): how concentrated the lowest 0.1 % of impostor pairs are
// on few templates, the features of those templates against the rest, and
// the population's bit bias per code position (the agreement two
// unrelated codes have by chance beyond 0.5).
func TestDevTail7(t *testing.T) {
	cache := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if cache == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	bands := os.Getenv("ASSENT_IRIS_DEV_BANDS")
	for _, name := range []string{"casia", "iitd"} {
		ps := devPairsZ(t, name, cache, bands)
		v := devNorm{"shipped", func(a, b *devFeat) float64 { return math.Log(pairNorm(1, a.Q, b.Q)) }}
		idx := make([]int, len(ps.iz))
		d := make([]float64, len(ps.iz))
		for k := range idx {
			idx[k] = k
			z := ps.iz[k]
			if math.IsNaN(float64(z)) {
				d[k] = 2
				continue
			}
			d[k] = 0.5 - float64(z)/math.Sqrt(DefaultNormBits*math.Exp(v.f(&ps.feat[ps.ii[k]], &ps.feat[ps.ij[k]])))
		}
		slices.SortFunc(idx, func(a, b int) int { return cmpF(d[a], d[b]) })
		nt := len(idx) / 1000
		cnt := make([]int, len(ps.feat))
		for _, k := range idx[:nt] {
			cnt[ps.ii[k]]++
			cnt[ps.ij[k]]++
		}
		order := make([]int, len(cnt))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cnt[b] - cnt[a] })
		var top, all int
		for r, i := range order {
			if r < len(order)/10 {
				top += cnt[i]
			}
			all += cnt[i]
		}
		t.Logf("TAIL %s: %d pairs (thr %.4f); top 10 %% of templates hold %.0f %% of the tail's ends; top 5: %v %v %v %v %v", name, nt, d[idx[nt-1]],
			100*float64(top)/float64(max(all, 1)), cnt[order[0]], cnt[order[1]], cnt[order[2]], cnt[order[3]], cnt[order[4]])
		// Features: weighted by tail count against all templates.
		var fw, fa [4]float64
		var nw, na float64
		for i, f := range ps.feat {
			if !ps.ok[i] {
				continue
			}
			x := [4]float64{f.S, f.Slope, f.Bits, f.R1}
			for k := range x {
				fw[k] += float64(cnt[i]) * x[k]
				fa[k] += x[k]
			}
			nw += float64(cnt[i])
			na++
		}
		t.Logf("TAIL %s: tail-weighted S %.3f slope %.3f bits %.0f r1 %.3f; all S %.3f slope %.3f bits %.0f r1 %.3f", name,
			fw[0]/nw, fw[1]/nw, fw[2]/nw, fw[3]/nw, fa[0]/na, fa[1]/na, fa[2]/na, fa[3]/na)
		for r := range 8 {
			i := order[r]
			f := ps.feat[i]
			t.Logf("TAIL %s: %s %d: S %.3f slope %.3f bits %.0f r1 %.3f", name, ps.set.Paths[i], cnt[i], f.S, f.Slope, f.Bits, f.R1)
		}
		// Population bias per code bit.
		_, ts := loadDevSet(t, filepath.Join(cache, name+".gob"))
		var ones, used []float64
		for _, tp := range ts {
			if tp == nil {
				continue
			}
			if ones == nil {
				ones, used = make([]float64, 64*len(tp.Code)), make([]float64, 64*len(tp.Code))
			}
			for b := range ones {
				if tp.Mask[b>>6]>>(b&63)&1 == 1 {
					used[b]++
					ones[b] += float64(tp.Code[b>>6] >> (b & 63) & 1)
				}
			}
		}
		var agree, agreeRe, agreeIm float64
		var nb float64
		for b := range ones {
			if used[b] < 10 {
				continue
			}
			p := ones[b] / used[b]
			e := (2*p-1)*(2*p-1) - 1/used[b] // 1 - 2 P(differ) for two independent codes, less sampling noise
			agree += e
			if b%2 == 0 {
				agreeRe += e
			} else {
				agreeIm += e
			}
			nb++
		}
		t.Logf("BIAS %s: mean (2p-1)^2 over bits %.5f (real %.5f, imaginary %.5f): the impostor distance at shift 0 falls by about %.5f", name,
			agree/nb, 2*agreeRe/nb, 2*agreeIm/nb, agree/nb/2)
	}
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// TestDevFitG7 fits the weight g of N = NormBits ((1 + qa qb) rowCorrRef)^g
// on one set at a time, from the set's own impostors only: the impostor
// pairs are split into five bins of the pair's log(1 + qa qb), and g is
// the weight at which the bins' distance at FMR 1e-3 (and 1e-4) are
// closest (a count of degrees of freedom that is right makes the impostor
// tail independent of the count); also the slope of log E[z^2] at one
// shift against log(1 + qa qb) (g for the single-shift variance).
func TestDevFitG7(t *testing.T) {
	cache := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if cache == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	for _, name := range []string{"casia", "iitd"} {
		ps := devPairsZ(t, name, cache, "")
		x := func(i, j int32) float64 { return math.Log(1 + ps.feat[i].Q*ps.feat[j].Q) }
		// Single shift: bins of x, mean z^2.
		type xy struct{ x, y float64 }
		var s []xy
		for k := range ps.sz {
			if !math.IsNaN(float64(ps.sz[k])) {
				z := float64(ps.sz[k])
				s = append(s, xy{x(ps.si[k], ps.sj[k]), z * z})
			}
		}
		slices.SortFunc(s, func(a, b xy) int { return cmpF(a.x, b.x) })
		const B = 5
		var bx, by []float64
		for b := range B {
			part := s[b*len(s)/B : (b+1)*len(s)/B]
			var sx, sy float64
			for _, p := range part {
				sx, sy = sx+p.x, sy+p.y
			}
			bx, by = append(bx, sx/float64(len(part))), append(by, math.Log(sy/float64(len(part))))
		}
		mx, _ := meanStd(bx)
		my, _ := meanStd(by)
		var sxy, sxx float64
		for b := range bx {
			sxy += (bx[b] - mx) * (by[b] - my)
			sxx += (bx[b] - mx) * (bx[b] - mx)
		}
		t.Logf("FITG %s: single shift, log E[z^2] against log(1+qa qb) over %d bins: slope %.2f (bins x %.3f..%.3f)", name, B, sxy/sxx, bx[0], bx[B-1])
		// Best shift: the bins' tails.
		type imp struct {
			x float64
			z float32
		}
		var im []imp
		for k := range ps.iz {
			if !math.IsNaN(float64(ps.iz[k])) {
				im = append(im, imp{x(ps.ii[k], ps.ij[k]), ps.iz[k]})
			}
		}
		slices.SortFunc(im, func(a, b imp) int { return cmpF(a.x, b.x) })
		for _, fmr := range []float64{1e-3, 1e-4} {
			line := ""
			bestG, bestR := 0.0, math.Inf(1)
			for g := 1.0; g <= 4.01; g += 0.25 {
				var q []float64
				for b := range B {
					part := im[b*len(im)/B : (b+1)*len(im)/B]
					d := make([]float64, len(part))
					for k, p := range part {
						d[k] = 0.5 - float64(p.z)/math.Sqrt(DefaultNormBits*math.Exp(g*p.x))
					}
					slices.Sort(d)
					n := int(fmr * float64(len(d)))
					if n < 5 {
						n = 5
					}
					q = append(q, d[n-1])
				}
				// Spread: the slope of the bins' quantile against their mean x.
				xs := make([]float64, B)
				for b := range B {
					part := im[b*len(im)/B : (b+1)*len(im)/B]
					xs[b] = part[len(part)/2].x
				}
				mx, _ := meanStd(xs)
				mq, _ := meanStd(q)
				var sxy, sxx float64
				for b := range xs {
					sxy += (xs[b] - mx) * (q[b] - mq)
					sxx += (xs[b] - mx) * (xs[b] - mx)
				}
				sl := sxy / sxx
				line += fmt.Sprintf(" g%.2f:%+.4f", g, sl)
				if math.Abs(sl) < bestR {
					bestG, bestR = g, math.Abs(sl)
				}
			}
			t.Logf("FITG %s: FMR %g per bin (%d pairs a bin), slope of the bins' threshold against x:%s -> g %.2f", name, fmr, len(im)/B, line, bestG)
		}
	}
}

// TestDevBias7 prints each set's population bit bias ((2p-1)^2 less its
// sampling noise, p the fraction of ones among usable bits) per code row
// and bit kind, and per group of 32 columns.
func TestDevBias7(t *testing.T) {
	cache := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if cache == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	for _, name := range []string{"casia", "iitd"} {
		_, ts := loadDevSet(t, filepath.Join(cache, name+".gob"))
		var ones, used []float64
		var R, C int
		for _, tp := range ts {
			if tp == nil {
				continue
			}
			if ones == nil {
				R, C = tp.Rows, tp.Cols
				ones, used = make([]float64, 2*R*C), make([]float64, 2*R*C)
			}
			for b := range ones {
				if tp.Mask[b>>6]>>(b&63)&1 == 1 {
					used[b]++
					ones[b] += float64(tp.Code[b>>6] >> (b & 63) & 1)
				}
			}
		}
		e := func(b int) float64 {
			if used[b] < 10 {
				return 0
			}
			p := ones[b] / used[b]
			return (2*p-1)*(2*p-1) - 1/used[b]
		}
		row := ""
		for r := range R {
			for k := range 2 {
				var s float64
				for c := range C {
					s += e((c*R+r)*2 + k)
				}
				row += fmt.Sprintf(" r%d%c %.4f", r, "ri"[k], s/float64(C))
			}
		}
		t.Logf("BIAS %s rows:%s", name, row)
		col := ""
		for c0 := 0; c0 < C; c0 += 16 {
			var s float64
			for c := c0; c < c0+16; c++ {
				for r := range R {
					for k := range 2 {
						s += e((c*R+r)*2 + k)
					}
				}
			}
			col += fmt.Sprintf(" c%d %.4f", c0, s/float64(16*R*2))
		}
		t.Logf("BIAS %s columns:%s", name, col)
		// Mean sign pattern along the angle of row 0's real bit (is the bias
		// a constant or an angular pattern?).
		var sgn string
		for c := 0; c < C; c += 8 {
			b := (c*R + 0) * 2
			sgn += fmt.Sprintf(" %+.2f", 2*ones[b]/max(used[b], 1)-1)
		}
		t.Logf("BIAS %s row 0 real, 2p-1 every 8 columns:%s", name, sgn)
	}
}
