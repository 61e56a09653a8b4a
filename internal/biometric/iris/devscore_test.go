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

// devSet is one data set's templates, cached by TestDevCache for
// TestDevScore (development aids: matcher variants without extraction).
type devSet struct {
	Dir       string
	Eyes      []string // eye folder names
	Eye       []int    // per image
	Paths     []string // per image, relative to Dir
	Templates [][]byte // per image; nil when it failed to enrol
	Same      [][2]string
}

// listEyes lists dir's images as evaluateWith does.
func listEyes(dir string) (eyes []string, eye []int, paths []string, err error) {
	folders, err := eyeFolders(dir)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, f := range folders {
		for _, p := range f.files {
			rel, _ := filepath.Rel(dir, p)
			eye = append(eye, len(eyes))
			paths = append(paths, rel)
		}
		eyes = append(eyes, f.name)
	}
	return eyes, eye, paths, nil
}

// TestDevCache extracts CASIA-IrisV1 and IITD with ASSENT_IRIS_TUNE and
// writes their templates to ASSENT_IRIS_DEV_CACHE/{casia,iitd}.gob; a
// development aid (the cache holds templates of licensed data: keep it
// outside the repository).
func TestDevCache(t *testing.T) {
	out := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if out == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	c, err := tuneConfig(os.Getenv("ASSENT_IRIS_TUNE"))
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		name, dir string
		same      [][2]string
	}{{"casia", os.Getenv("ASSENT_IRIS_DATA"), nil}, {"iitd", os.Getenv("ASSENT_IITD_DATA"), sameEyesIITD(t)}} {
		eyes, eye, paths, err := listEyes(x.dir)
		if err != nil {
			t.Fatal(err)
		}
		s := devSet{Dir: x.dir, Eyes: eyes, Eye: eye, Paths: paths, Templates: make([][]byte, len(paths)), Same: x.same}
		var wg sync.WaitGroup
		W := runtime.GOMAXPROCS(0)
		for w := range W {
			wg.Go(func() {
				for i := w; i < len(paths); i += W {
					tp, _, _ := extractFileSum(filepath.Join(x.dir, paths[i]), c)
					if tp != nil {
						s.Templates[i], _ = tp.MarshalBinary()
					}
				}
			})
		}
		wg.Wait()
		f, err := os.Create(filepath.Join(out, x.name+".gob"))
		if err != nil {
			t.Fatal(err)
		}
		if err := gob.NewEncoder(f).Encode(&s); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d images cached", x.name, len(paths))
	}
}

func loadDevSet(t *testing.T, path string) (devSet, []*Template) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var s devSet
	if err := gob.NewDecoder(f).Decode(&s); err != nil {
		t.Fatal(err)
	}
	ts := make([]*Template, len(s.Templates))
	for i, b := range s.Templates {
		if b != nil {
			ts[i] = new(Template)
			if err := ts[i].UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
		}
	}
	return s, ts
}

// scoreVariant turns diff differing bits of n compared at one shift into a
// distance (lower is more alike); the best shift's is kept.
type scoreVariant struct {
	name string
	f    func(diff, n int, pre []float64) float64
}

// devPairs scores every pair of s with each variant: genuine and impostor
// distances (2 for a non-match) per variant.
func devPairs(s devSet, ts []*Template, vs []scoreVariant, pres []func(i, j int) float64) (gen, imp [][]float64) {
	m := DefaultMatcher()
	g := NewGallery(GalleryOptions{Matcher: m})
	packed := make([][]uint64, len(ts))
	preps := make([]prepared, len(ts))
	for i, tp := range ts {
		if tp != nil {
			packed[i] = make([]uint64, 2*g.words)
			g.packEntry(packed[i], tp.Code, tp.Mask)
			preps[i] = g.prepare(tp)
		}
	}
	same := map[[2]int]bool{}
	for _, p := range s.Same {
		a, b := slices.Index(s.Eyes, p[0]), slices.Index(s.Eyes, p[1])
		same[[2]int{a, b}], same[[2]int{b, a}] = true, true
	}
	W := runtime.GOMAXPROCS(0)
	type part struct{ gen, imp [][]float64 }
	parts := make([]part, W)
	var wg sync.WaitGroup
	for w := range W {
		wg.Go(func() {
			p := part{gen: make([][]float64, len(vs)), imp: make([][]float64, len(vs))}
			bestv := make([]float64, len(vs))
			pre := make([]float64, len(pres))
			stride := 2 * g.words
			for i := w; i < len(ts); i += W {
				for j := i + 1; j < len(ts); j++ {
					genuine := s.Eye[i] == s.Eye[j]
					if !genuine && same[[2]int{s.Eye[i], s.Eye[j]}] {
						continue
					}
					for v := range bestv {
						bestv[v] = 2
					}
					if packed[i] != nil && packed[j] != nil {
						for k, f := range pres {
							pre[k] = f(i, j)
						}
						for k := range preps[i].shifts {
							diff, n := masked(preps[i].full[k*stride:(k+1)*stride], packed[j])
							if n < m.MinBits {
								continue
							}
							for v, x := range vs {
								if d := x.f(diff, n, pre); d < bestv[v] {
									bestv[v] = d
								}
							}
						}
					}
					for v := range vs {
						if genuine {
							p.gen[v] = append(p.gen[v], bestv[v])
						} else {
							p.imp[v] = append(p.imp[v], bestv[v])
						}
					}
				}
			}
			parts[w] = p
		})
	}
	wg.Wait()
	gen, imp = make([][]float64, len(vs)), make([][]float64, len(vs))
	for _, p := range parts {
		for v := range vs {
			gen[v] = append(gen[v], p.gen[v]...)
			imp[v] = append(imp[v], p.imp[v]...)
		}
	}
	return gen, imp
}

// devDofOffsets lists the offsets (rows ±r, columns ±l) of the code
// correlations behind the dof variants.
var devDofOffsets = []string{"r0l6", "r1l4", "r1l8"}

// devVariants lists the score variants TestDevScore compares.
func devVariants() []scoreVariant {
	vs := []scoreVariant{{"daugman2000", func(d, n int, _ []float64) float64 { return rescale(d, n, 2000) }}}
	// NormBits alone is a monotone change of the score (same ranking,
	// same figures): only the exponent of n/NormBits matters.
	vs = append(vs, scoreVariant{"raw", func(d, n int, _ []float64) float64 { return float64(d) / float64(n) }})
	// Exponent on n/N other than 1/2.
	for _, e := range []float64{0.2} {
		vs = append(vs, scoreVariant{fmt.Sprintf("exp%.1f", e), func(d, n int, _ []float64) float64 {
			raw := float64(d) / float64(n)
			return 0.5 - (0.5-raw)*math.Pow(float64(n)/2000, e)
		}})
	}
	// Degrees of freedom per pair from the two codes' bit correlations
	// (pre[k], TestDevScore): the XOR of two independent codes has the
	// product of their correlations at every offset, so the variance of
	// the raw distance is 0.25 (1 + sum_o ra_o rb_o) / n; phi = 1/(1+sum).
	for k, name := range devDofOffsets {
		for _, g := range []float64{1, 0.75, 0.5} {
			vs = append(vs, scoreVariant{fmt.Sprintf("dof-%s-g%.2f", name, g), func(d, n int, pre []float64) float64 {
				raw := float64(d) / float64(n)
				return 0.5 - (0.5-raw)*math.Sqrt(float64(n)/2000)*math.Pow(pre[k]/0.2, g/2)
			}})
		}
	}
	return vs
}

// codeCorr returns the correlations (1 - 2 x disagreement over the bits
// usable at both ends) of t's code with itself at every offset of rows
// -3..3, columns -maxLag..maxLag and bit kind (same or other), except
// offset zero of the same kind; and the template's own degrees of freedom
// per bit 1/(1 + sum r^2).
func codeCorr(t *Template, maxRow, maxLag int) ([]float32, float64) {
	r, _, _, _ := codeCorrN(t, maxRow, maxLag)
	var s2 float64
	for _, x := range r {
		s2 += float64(x) * float64(x)
	}
	return r, 1 / (1 + s2)
}

// TestDevScore compares score variants on the templates TestDevCache
// wrote: CASIA and IITD in sample and out of sample (each scored at the
// other's EER threshold); a development aid.
func TestDevScore(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if dir == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	sets := map[string][]*EvalResult{}
	var vs []scoreVariant
	for _, name := range []string{"casia", "iitd"} {
		s, ts := loadDevSet(t, filepath.Join(dir, name+".gob"))
		var pres []func(i, j int) float64
		for _, name := range devDofOffsets {
			var rl [2]int
			fmt.Sscanf(name, "r%dl%d", &rl[0], &rl[1])
			corr := make([][]float32, len(ts))
			dof := make([]float64, len(ts))
			var wg sync.WaitGroup
			W := runtime.GOMAXPROCS(0)
			for w := range W {
				wg.Go(func() {
					for i := w; i < len(ts); i += W {
						if ts[i] != nil {
							corr[i], dof[i] = codeCorr(ts[i], rl[0], rl[1])
						}
					}
				})
			}
			wg.Wait()
			var ds []float64
			for i := range ts {
				if ts[i] != nil {
					ds = append(ds, dof[i])
				}
			}
			dm, dsd := meanStd(ds)
			t.Logf("%s: rows ±%d lags ±%d: template dof per bit %.4f ± %.4f", name, rl[0], rl[1], dm, dsd)
			pres = append(pres, func(i, j int) float64 {
				var s float64
				for o, a := range corr[i] {
					s += float64(a) * float64(corr[j][o])
				}
				return 1 / (1 + s)
			})
		}
		vs = devVariants()
		gen, imp := devPairs(s, ts, vs, pres)
		for v := range vs {
			r := &EvalResult{Dataset: name}
			rates(r, gen[v], imp[v])
			r.gen, r.imp = gen[v], imp[v]
			sets[name] = append(sets[name], r)
		}
	}
	for v, x := range vs {
		line := fmt.Sprintf("SCORE %-14s", x.name)
		for _, p := range [][2]string{{"casia", "iitd"}, {"iitd", "casia"}} {
			tr, cal := sets[p[0]][v], sets[p[1]][v]
			cr, err := CrossFrom(tr, cal)
			if err != nil {
				t.Fatal(err)
			}
			line += fmt.Sprintf(" | %s EER %.3f (%.4f) FMR1000 %.3f out %.3f (FMR %.3f FNMR %.3f) lowimp %.4f",
				p[0], 100*tr.EER, tr.EERThreshold, 100*tr.FMR1000, 100*cr.Out.EER, 100*cr.Out.At[0].FMR, 100*cr.Out.At[0].FNMR, tr.imp[0])
			for _, a := range cr.Out.At[1:] {
				line += fmt.Sprintf(" %g: %.3fx/%.3f", a.Target, a.FMR/a.Target, 100*a.FNMR)
			}
		}
		t.Log(line)
	}
}

// TestDevImpStats prints, per data set, the single-shift impostor raw
// distance by bits compared (mean, deviation, implied degrees of freedom)
// and the bias of the code bits (share of ones per bit position); a
// development aid on the TestDevCache templates.
func TestDevImpStats(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if dir == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	for _, name := range []string{"casia", "iitd"} {
		s, ts := loadDevSet(t, filepath.Join(dir, name+".gob"))
		m := DefaultMatcher()
		g := NewGallery(GalleryOptions{Matcher: m})
		const bin = 250
		type acc struct{ n, s, ss, bs, bss float64 }
		bins := map[int]*acc{}
		var usable []float64
		for _, tp := range ts {
			if tp != nil {
				usable = append(usable, float64(tp.UsableBits()))
			}
		}
		um, us := meanStd(usable)
		stride := 2 * g.words
		cnt := 0
		for i := 0; i < len(ts); i += 3 {
			if ts[i] == nil {
				continue
			}
			p := g.prepare(ts[i])
			e := make([]uint64, stride)
			for j := i + 1; j < len(ts); j += 2 {
				if ts[j] == nil || s.Eye[i] == s.Eye[j] {
					continue
				}
				g.packEntry(e, ts[j].Code, ts[j].Mask)
				mid := m.Rotations
				diff, n := masked(p.full[mid*stride:(mid+1)*stride], e)
				bestRaw := 1.0
				for k := range p.shifts {
					d, nn := masked(p.full[k*stride:(k+1)*stride], e)
					if nn >= m.MinBits {
						bestRaw = min(bestRaw, float64(d)/float64(nn))
					}
				}
				if n < m.MinBits {
					continue
				}
				raw := float64(diff) / float64(n)
				b := bins[n/bin]
				if b == nil {
					b = &acc{}
					bins[n/bin] = b
				}
				b.n++
				b.s += raw
				b.ss += raw * raw
				b.bs += bestRaw
				b.bss += bestRaw * bestRaw
				cnt++
			}
		}
		t.Logf("%s: usable bits %.0f ± %.0f over %d templates; %d impostor pairs sampled", name, um, us, len(usable), cnt)
		keys := make([]int, 0, len(bins))
		for k := range bins {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			b := bins[k]
			if b.n < 50 {
				continue
			}
			mean := b.s / b.n
			sd := math.Sqrt(b.ss/b.n - mean*mean)
			bm := b.bs / b.n
			bsd := math.Sqrt(b.bss/b.n - bm*bm)
			t.Logf("  n %4d-%4d: %6.0f pairs, shift 0 mean %.4f sd %.4f dof %.0f (dof/n %.3f) | best raw mean %.4f sd %.4f",
				k*bin, (k+1)*bin, b.n, mean, sd, 0.25/(sd*sd), 0.25/(sd*sd)/(float64(k*bin)+bin/2), bm, bsd)
		}
		// Bit bias: share of ones per bit position over usable bits.
		nb := ts[0].Bits()
		ones := make([]float64, nb)
		tot := make([]float64, nb)
		for _, tp := range ts {
			if tp == nil {
				continue
			}
			for b := range nb {
				if tp.Mask[b/64]>>(b%64)&1 == 1 {
					tot[b]++
					ones[b] += float64(tp.Code[b/64] >> (b % 64) & 1)
				}
			}
		}
		// Expected agreement of two random codes from the bias alone, by bit
		// type (real/imaginary) and row.
		for k := range 2 {
			line := fmt.Sprintf("  bias k=%d by row:", k)
			for row := range ts[0].Rows {
				var e, w float64
				for col := range ts[0].Cols {
					b := (col*ts[0].Rows+row)*2 + k
					if tot[b] < 10 {
						continue
					}
					p := ones[b] / tot[b]
					e += 2 * p * (1 - p) * tot[b]
					w += tot[b]
				}
				line += fmt.Sprintf(" %.4f", e/w)
			}
			t.Log(line)
		}
		line := "  bias by sector of 32 columns (from 3 o'clock):"
		for sec := range 8 {
			var e, w float64
			for col := sec * 32; col < (sec+1)*32; col++ {
				for b := col * ts[0].Rows * 2; b < (col+1)*ts[0].Rows*2; b++ {
					if tot[b] < 10 {
						continue
					}
					p := ones[b] / tot[b]
					e += 2 * p * (1 - p) * tot[b]
					w += tot[b]
				}
			}
			line += fmt.Sprintf(" %.4f (%.0f%%)", e/w, 100*w/float64(32*ts[0].Rows*2*len(usable)))
		}
		t.Log(line)
	}
}
