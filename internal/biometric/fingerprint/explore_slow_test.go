package fingerprint

// The exploratory harness of the fourth pass of issue 17 (development aid,
// not a regression test; docs/fingerprint.md, "What was tried"): with
// ASSENT_FP_EXPLORE set to a directory, the eight shared sets are extracted
// once and their templates cached there ("AFP4", one file a set;
// ASSENT_FP_FRESH=1 extracts again), so that a matcher change is judged on
// the cross-year protocol in seconds. TestExploreBaseline prints the
// figures, TestExploreTable the table of the docs, TestExploreFailures the
// rigid-alignment mates of the failing genuine pairs, TestExploreStripped
// the figures as a gallery scores (without descriptors),
// TestExploreSameTemplates checks that a change meant to be exact leaves
// every template byte-identical to the cache, and TestExploreSaveScores with
// TestExploreBootstrap tell a change from the noise of the eight sets (a
// paired bootstrap over fingers against the scores of a baseline build),
// and TestExploreCohort measures a cohort normalisation of the scores.

import (
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/biometric/crossset"
)

type exploreSet struct {
	dir  string
	imps []Impression
	ts   []*Template
}

func exploreLoad(t *testing.T, fresh bool) []exploreSet {
	t.Helper()
	cache := os.Getenv("ASSENT_FP_EXPLORE")
	if cache == "" {
		t.Skip("set ASSENT_FP_EXPLORE=<cache dir>")
	}
	root := dataDir(t)
	var out []exploreSet
	for _, s := range sets {
		imps, err := ListDataset(filepath.Join(root, s.dir))
		if err != nil {
			t.Fatal(err)
		}
		ts := make([]*Template, len(imps))
		if m, ok := exploreMem[s.dir]; ok {
			out = append(out, exploreSet{s.dir, imps, m})
			continue
		}
		file := filepath.Join(cache, strings.ReplaceAll(s.dir, "/", "_")+".bin")
		if b, err := os.ReadFile(file); err == nil && !fresh {
			for i := range ts {
				n := binary.LittleEndian.Uint32(b)
				b = b[4:]
				if n > 0 {
					ts[i] = new(Template)
					if err := ts[i].UnmarshalBinary(b[:n]); err != nil {
						t.Fatal(err)
					}
				}
				b = b[n:]
			}
		} else {
			parallel(len(imps), func(i int) {
				b, err := os.ReadFile(imps[i].Path)
				if err != nil {
					return
				}
				if img, err := DecodeImage(b); err == nil {
					ts[i], _ = Extract(img, s.dpi)
				}
			})
			var buf []byte
			for _, tp := range ts {
				var b []byte
				if tp != nil {
					b, _ = tp.MarshalBinary()
				}
				buf = binary.LittleEndian.AppendUint32(buf, uint32(len(b)))
				buf = append(buf, b...)
			}
			if err := os.WriteFile(file, buf, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if fresh {
			exploreMem[s.dir] = ts
		}
		out = append(out, exploreSet{s.dir, imps, ts})
	}
	return out
}

// exploreMem keeps the templates extracted afresh in this process, so that
// the tests run after the first use them unrounded (and with fields the
// binary form does not carry).
var exploreMem = map[string][]*Template{}

type crossFig struct {
	in, fmr1000, out, fnmr1e3, fmr1e3 float64
}

func crossYear(t *testing.T, sc map[string]setScores) (per map[string]crossFig, mean crossFig) {
	fits := fitYears(t, sc)
	per = map[string]crossFig{}
	for _, s := range sets {
		x := sc[s.dir]
		in, _ := ComputeRates(x.gen, x.imp)
		other := "fvc2000"
		if strings.HasPrefix(s.dir, "fvc2000") {
			other = "fvc2002"
		}
		o, _ := crossset.Apply(fits[other], s.dir, x.gen, x.imp)
		c := crossFig{100 * in.EER, 100 * in.FMR1000, 100 * o.EER, 100 * o.At[2].FNMR, 100 * o.At[2].FMR}
		per[s.dir] = c
		n := float64(len(sets))
		mean.in += c.in / n
		mean.fmr1000 += c.fmr1000 / n
		mean.out += c.out / n
		mean.fnmr1e3 += c.fnmr1e3 / n
		mean.fmr1e3 += c.fmr1e3 / n
	}
	return per, mean
}

func exploreScores(es []exploreSet, strip bool) map[string]setScores {
	sc := map[string]setScores{}
	for _, e := range es {
		ts := e.ts
		if strip {
			ts = make([]*Template, len(e.ts))
			for i, x := range e.ts {
				if x != nil {
					y := *x
					y.cyl.desc = nil
					ts[i] = &y
				}
			}
		}
		g, im := PairScores(e.imps, ts)
		sc[e.dir] = setScores{g, im}
	}
	return sc
}

func reportCross(t *testing.T, name string, sc map[string]setScores) crossFig {
	per, m := crossYear(t, sc)
	var b strings.Builder
	for _, s := range sets {
		c := per[s.dir]
		fmt.Fprintf(&b, " %s %.2f/%.2f", strings.TrimSuffix(strings.TrimPrefix(s.dir, "fvc20"), "_b"), c.out, c.in)
	}
	t.Logf("%-28s out %.2f%% fnmr1e3 %.2f%% (fmr %.3f%%) | in %.2f%% fmr1000 %.2f%% |%s", name, m.out, m.fnmr1e3, m.fmr1e3, m.in, m.fmr1000, b.String())
	return m
}

// TestExploreBaseline prints the cross-year figures of the code as built.
func TestExploreBaseline(t *testing.T) {
	es := exploreLoad(t, os.Getenv("ASSENT_FP_FRESH") != "")
	reportCross(t, "current", exploreScores(es, false))
}

func q(xs []float64, p float64) float64 {
	s := append([]float64(nil), xs...)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// TestExploreStats prints each set's score quantiles and template sizes.
func TestExploreStats(t *testing.T) {
	es := exploreLoad(t, false)
	sc := exploreScores(es, false)
	for _, e := range es {
		x := sc[e.dir]
		nm, ncyl, area := 0.0, 0.0, 0.0
		for _, tp := range e.ts {
			nm += float64(len(tp.Minutiae)) / float64(len(e.ts))
			ncyl += float64(tp.cyl.n()) / float64(len(e.ts))
			area += float64(tp.Width*tp.Height) / float64(len(e.ts))
		}
		t.Logf("%s imp q50 %.4f q90 %.4f q99 %.4f q999 %.4f max %.4f | gen q01 %.4f q05 %.4f q10 %.4f q50 %.4f | min %.1f cyl %.1f area %.0f",
			e.dir, q(x.imp, .5), q(x.imp, .9), q(x.imp, .99), q(x.imp, .999), q(x.imp, 1), q(x.gen, .01), q(x.gen, .05), q(x.gen, .1), q(x.gen, .5), nm, ncyl, area)
	}
}

// houghMates is the largest number of one-to-one minutia pairs within 12 px
// and 25 degrees after a rigid alignment found by voting (rotation steps of
// 4 degrees, translations in 8 px bins).
func houghMates(a, b []Minutia) int {
	best := 0
	type key struct{ r, x, y int }
	votes := map[key]int{}
	for _, ma := range a {
		for _, mb := range b {
			rot := angleDiff(float64(ma.Dir), float64(mb.Dir)) // a - b
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
	for _, e := range top[:min(10, len(top))] {
		for dr := -1; dr <= 1; dr++ {
			r := float64(e.k.r+dr) * 4 * math.Pi / 180
			c, s := math.Cos(r), math.Sin(r)
			for dx := -1; dx <= 1; dx++ {
				for dy := -1; dy <= 1; dy++ {
					tx, ty := (float64(e.k.x+dx)+0.5)*8, (float64(e.k.y+dy)+0.5)*8
					used := make([]bool, len(b))
					n := 0
					for _, ma := range a {
						for j, mb := range b {
							if used[j] {
								continue
							}
							x := c*float64(mb.X) - s*float64(mb.Y) + tx
							y := s*float64(mb.X) + c*float64(mb.Y) + ty
							if math.Hypot(x-float64(ma.X), y-float64(ma.Y)) < 12 && math.Abs(angleDiff(float64(ma.Dir), float64(mb.Dir)+r)) < 25*math.Pi/180 {
								used[j] = true
								n++
								break
							}
						}
					}
					best = max(best, n)
				}
			}
		}
	}
	return best
}

// TestExploreFailures lists the genuine pairs scoring below 0.0225 (about
// the out-of-sample EER thresholds) with their rigid-alignment mates, and
// per set the mates of failing and passing genuine pairs and of a sample
// of impostors.
func TestExploreFailures(t *testing.T) {
	es := exploreLoad(t, false)
	var s scratch
	for _, e := range es {
		var fail, ok, imp []int
		for i := range e.imps {
			for j := i + 1; j < len(e.imps); j++ {
				gen := e.imps[i].Finger == e.imps[j].Finger
				if !gen && (i*7+j)%40 != 0 {
					continue
				}
				v := match(&e.ts[i].cyl, &e.ts[j].cyl, &s)
				h := houghMates(e.ts[i].Minutiae, e.ts[j].Minutiae)
				switch {
				case !gen:
					imp = append(imp, h)
				case v < 0.0225:
					fail = append(fail, h)
					t.Logf("%s %d_%d-%d_%d score %.4f mates %d minutiae %d/%d", e.dir, e.imps[i].Finger, e.imps[i].Index, e.imps[j].Finger, e.imps[j].Index, v, h, len(e.ts[i].Minutiae), len(e.ts[j].Minutiae))
				default:
					ok = append(ok, h)
				}
			}
		}
		slices.Sort(fail)
		slices.Sort(ok)
		slices.Sort(imp)
		qi := func(x []int, p float64) int {
			if len(x) == 0 {
				return -1
			}
			return x[min(len(x)-1, int(p*float64(len(x))))]
		}
		t.Logf("%s: failing genuine %d mates q50 %d | passing q05 %d q50 %d | impostors q50 %d q99 %d max %d", e.dir, len(fail), qi(fail, .5), qi(ok, .05), qi(ok, .5), qi(imp, .5), qi(imp, .99), qi(imp, 1))
	}
}

// TestExploreTable prints the cross-year table of docs/fingerprint.md from
// the cached templates.
func TestExploreTable(t *testing.T) {
	es := exploreLoad(t, false)
	sc := exploreScores(es, false)
	fits := fitYears(t, sc)
	for year, f := range fits {
		t.Logf("fit %s: EER %.4f, thresholds %+v", year, f.EERThreshold, f.Thresholds)
	}
	var m [9]float64
	for _, s := range sets {
		x := sc[s.dir]
		in, _ := ComputeRates(x.gen, x.imp)
		other := "fvc2000"
		if strings.HasPrefix(s.dir, "fvc2000") {
			other = "fvc2002"
		}
		o, _ := crossset.Apply(fits[other], s.dir, x.gen, x.imp)
		v := [9]float64{100 * o.EER, 100 * o.At[0].FMR, 100 * o.At[0].FNMR, 100 * o.At[2].FMR, 100 * o.At[2].FNMR, 100 * o.At[3].FMR, 100 * o.At[3].FNMR, 100 * in.EER, 100 * in.FMR1000}
		for i := range v {
			m[i] += v[i] / float64(len(sets))
		}
		t.Logf("| %s | **%.2f %%** | %.2f / %.2f %% | %.2f / %.2f %% | %.3f / %.2f %% | %.2f %% | %.2f %% |", s.dir, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8])
	}
	t.Logf("| mean | **%.2f %%** | %.2f / %.2f %% | %.3f / %.2f %% | %.3f / %.2f %% | %.2f %% | %.2f %% |", m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8])
}

// BenchmarkExtractDB3 extracts every image of FVC2000 DB3_B (the largest,
// 448x478) once per iteration: ns/op / 80 is the time of one extraction.
func BenchmarkExtractDB3(b *testing.B) {
	imps, err := ListDataset(filepath.Join(dataDir(b), "fvc2000", "db3_b"))
	if err != nil {
		b.Fatal(err)
	}
	var imgs []image.Image
	for _, im := range imps {
		raw, err := os.ReadFile(im.Path)
		if err != nil {
			b.Fatal(err)
		}
		img, err := DecodeImage(raw)
		if err != nil {
			b.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	c0 := cpuNow()
	for b.Loop() {
		for _, img := range imgs {
			if _, err := Extract(img, 500); err != nil {
				b.Fatal(err)
			}
		}
	}
	// CPU (user + system) an image: with -test.cpu 1 this is one thread's
	// work however loaded the machine is, which ns/op is not.
	b.ReportMetric(float64(cpuNow()-c0)/1e6/float64(b.N*len(imgs)), "cpu-ms/image")
}

// TestExploreSameTemplates checks that a fresh extraction writes the same
// bytes as the cached templates (for a change meant to be exact).
func TestExploreSameTemplates(t *testing.T) {
	cached := exploreLoad(t, false)
	diff := 0
	for k, s := range sets {
		e := cached[k]
		parallel(len(e.imps), func(i int) {
			raw, _ := os.ReadFile(e.imps[i].Path)
			img, _ := DecodeImage(raw)
			tp, err := Extract(img, s.dpi)
			if err != nil || e.ts[i] == nil {
				return
			}
			a, _ := tp.MarshalBinary()
			b, _ := e.ts[i].MarshalBinary()
			if string(a) != string(b) {
				setCacheMu.Lock()
				diff++
				setCacheMu.Unlock()
			}
		})
	}
	if diff > 0 {
		t.Errorf("%d templates differ", diff)
	}
}

// TestExploreStripped prints the figures of the same templates without
// ring descriptors, as a gallery compares them.
func TestExploreStripped(t *testing.T) {
	es := exploreLoad(t, false)
	reportCross(t, "without descriptors", exploreScores(es, true))
}

// fitYears fits the thresholds of each FVC year on its sets' pooled scores.
func fitYears(t *testing.T, sc map[string]setScores) map[string]crossset.Fit {
	t.Helper()
	fits := map[string]crossset.Fit{}
	for _, year := range []string{"fvc2000", "fvc2002"} {
		var g, im []float64
		for dir, s := range sc {
			if strings.HasPrefix(dir, year) {
				g, im = append(g, s.gen...), append(im, s.imp...)
			}
		}
		f, err := crossset.FitScores([]string{year}, g, im)
		if err != nil {
			t.Fatal(err)
		}
		fits[year] = f
	}
	return fits
}

// pairRec is one comparison of a set: the two impressions' fingers (0 to 9
// in order of appearance) and the score (-1 when either failed to enrol).
type pairRec struct {
	fa, fb int
	v      float64
}

// explorePairs scores every pair of every set with the code as built, in
// the order of PairScores.
func explorePairs(es []exploreSet) [][]pairRec {
	out := make([][]pairRec, len(es))
	parallel(len(es), func(k int) {
		e := es[k]
		var s scratch
		fid := map[int]int{}
		for _, im := range e.imps {
			if _, ok := fid[im.Finger]; !ok {
				fid[im.Finger] = len(fid)
			}
		}
		for i := range e.imps {
			for j := i + 1; j < len(e.imps); j++ {
				v := -1.0
				if e.ts[i] != nil && e.ts[j] != nil {
					v = match(&e.ts[i].cyl, &e.ts[j].cyl, &s)
				}
				out[k] = append(out[k], pairRec{fid[e.imps[i].Finger], fid[e.imps[j].Finger], v})
			}
		}
	})
	return out
}

// crossOfCounts is the cross-year mean (out-of-sample EER, FNMR at the
// fitted 1e-3, in-sample EER) with each finger of each set counted
// cnt[set][finger] times (a genuine pair of finger f weighs cnt[f], an
// impostor pair of f and g cnt[f] cnt[g]); nil counts every finger once.
func crossOfCounts(t *testing.T, ps [][]pairRec, cnt [][]int) [3]float64 {
	sc := map[string]setScores{}
	for k, rs := range ps {
		var g, im []float64
		for _, r := range rs {
			w := 1
			if cnt != nil {
				w = cnt[k][r.fa]
				if r.fa != r.fb {
					w *= cnt[k][r.fb]
				}
			}
			for range w {
				if r.fa == r.fb {
					g = append(g, r.v)
				} else {
					im = append(im, r.v)
				}
			}
		}
		sc[sets[k].dir] = setScores{g, im}
	}
	_, m := crossYear(t, sc)
	return [3]float64{m.out, m.fnmr1e3, m.in}
}

// TestExploreSaveScores writes the pair scores of the code as built to
// $ASSENT_FP_SCORES (float64 little-endian, sets in the order of sets),
// the baseline for TestExploreBootstrap.
func TestExploreSaveScores(t *testing.T) {
	file := os.Getenv("ASSENT_FP_SCORES")
	if file == "" {
		t.Skip("set ASSENT_FP_SCORES=<file>")
	}
	var b []byte
	for _, rs := range explorePairs(exploreLoad(t, false)) {
		for _, r := range rs {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.v))
		}
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestExploreBootstrap compares the code as built with the baseline scores
// of $ASSENT_FP_BASELINE (TestExploreSaveScores run on the baseline build)
// on the same 400 resamples of fingers (ten drawn with replacement in each
// set, thresholds refitted on each resample of the other year): the
// baseline's own 90 % interval says how much the figures of 80 fingers
// move with the fingers drawn, the interval of the paired difference
// whether a change is beyond that noise.
func TestExploreBootstrap(t *testing.T) {
	file := os.Getenv("ASSENT_FP_BASELINE")
	if file == "" {
		t.Skip("set ASSENT_FP_BASELINE=<scores of the baseline build>")
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cur := explorePairs(exploreLoad(t, false))
	base := make([][]pairRec, len(cur))
	for k, rs := range cur {
		for _, r := range rs {
			if len(raw) < 8 {
				t.Fatal("baseline scores: too short")
			}
			r.v = math.Float64frombits(binary.LittleEndian.Uint64(raw))
			raw = raw[8:]
			base[k] = append(base[k], r)
		}
	}
	if len(raw) != 0 {
		t.Fatal("baseline scores: too long")
	}
	b0, c0 := crossOfCounts(t, base, nil), crossOfCounts(t, cur, nil)
	t.Logf("all fingers: baseline out %.2f%% fnmr1e3 %.2f%% in %.2f%%; as built %.2f%% / %.2f%% / %.2f%%", b0[0], b0[1], b0[2], c0[0], c0[1], c0[2])
	const reps = 400
	rng := uint64(12345) // xorshift: the same resamples on every run
	var bs, ds [3][]float64
	for range reps {
		cnt := make([][]int, len(sets))
		for k := range cnt {
			cnt[k] = make([]int, 10)
			for range 10 {
				rng ^= rng << 13
				rng ^= rng >> 7
				rng ^= rng << 17
				cnt[k][rng%10]++
			}
		}
		b, c := crossOfCounts(t, base, cnt), crossOfCounts(t, cur, cnt)
		for i := range 3 {
			bs[i] = append(bs[i], b[i])
			ds[i] = append(ds[i], c[i]-b[i])
		}
	}
	for i, name := range []string{"out EER", "FNMR@1e-3", "in EER"} {
		lower, sum := 0, 0.0
		for _, d := range ds[i] {
			sum += d
			if d < 0 {
				lower++
			}
		}
		t.Logf("%-9s baseline 90%% [%.2f, %.2f] | as built minus baseline: mean %+.2f, 90%% [%+.2f, %+.2f], lower in %d%% of resamples",
			name, q(bs[i], .05), q(bs[i], .95), sum/reps, q(ds[i], .05), q(ds[i], .95), 100*lower/reps)
	}
}

// TestExploreCohort prints the cross-year figures of the code as built
// with a cohort normalisation (docs/fingerprint.md, "What was tried", sixth
// pass): each template's impostor mean and spread against the other
// fingers of its own set, leaving out both fingers of the pair scored, and
// the score taken as (s - mean of the two means) / (mean of the two
// spreads), or s minus the mean of the means; mapped linearly to the
// usual scale, which changes no figure.
func TestExploreCohort(t *testing.T) {
	es := exploreLoad(t, false)
	ps := explorePairs(es)
	for _, useSD := range []bool{true, false} {
		sc := map[string]setScores{}
		for k, e := range es {
			n := len(e.imps)
			fid := make([]int, n)
			m := map[int]int{}
			for i, im := range e.imps {
				if _, ok := m[im.Finger]; !ok {
					m[im.Finger] = len(m)
				}
				fid[i] = m[im.Finger]
			}
			// per template, per finger: sum, sum of squares, count of scores.
			S := make([][10]float64, n)
			Q := make([][10]float64, n)
			N := make([][10]float64, n)
			score := make([][]float64, n)
			for i := range score {
				score[i] = make([]float64, n)
			}
			p := 0
			for i := range n {
				for j := i + 1; j < n; j++ {
					v := ps[k][p].v
					p++
					score[i][j], score[j][i] = v, v
					if v < 0 || fid[i] == fid[j] {
						continue
					}
					S[i][fid[j]] += v
					Q[i][fid[j]] += v * v
					N[i][fid[j]]++
					S[j][fid[i]] += v
					Q[j][fid[i]] += v * v
					N[j][fid[i]]++
				}
			}
			stat := func(i, ex1, ex2 int) (float64, float64) {
				var s, q, c float64
				for f := range 10 {
					if f == ex1 || f == ex2 {
						continue
					}
					s, q, c = s+S[i][f], q+Q[i][f], c+N[i][f]
				}
				mu := s / c
				return mu, math.Sqrt(max(1e-12, q/c-mu*mu))
			}
			var g, im []float64
			for i := range n {
				for j := i + 1; j < n; j++ {
					v := score[i][j]
					if v >= 0 {
						mi, si := stat(i, fid[i], fid[j])
						mj, sj := stat(j, fid[i], fid[j])
						if useSD {
							v = 0.02 + 0.004*(v-(mi+mj)/2)/((si+sj)/2)
						} else {
							v = 0.02 + (v - (mi+mj)/2)
						}
					}
					if fid[i] == fid[j] {
						g = append(g, v)
					} else {
						im = append(im, v)
					}
				}
			}
			sc[e.dir] = setScores{g, im}
		}
		reportCross(t, map[bool]string{true: "cohort z-norm", false: "cohort mean"}[useSD], sc)
	}
}
