package iris

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// codeCorrN is codeCorr with the number of bit pairs behind each
// correlation, for an unbiased sum of squares (E r^2 = rho^2 + var r, var r
// about 1/n for a correlation from n bit pairs).
func codeCorrN(t *Template, maxRow, maxLag int) (r []float32, n []int32, dr, dc []int8) {
	R, C := t.Rows, t.Cols
	bit := func(w []uint64, col, row, k int) uint64 {
		b := (col*R+row)*2 + k
		return w[b>>6] >> (b & 63) & 1
	}
	for orow := -maxRow; orow <= maxRow; orow++ {
		for lag := -maxLag; lag <= maxLag; lag++ {
			for kk := range 2 {
				if orow == 0 && lag == 0 && kk == 0 {
					continue
				}
				var dis, cnt int
				for col := range C {
					c2 := (col + lag + C) % C
					for row := range R {
						r2 := row + orow
						if r2 < 0 || r2 >= R {
							continue
						}
						for k := range 2 {
							k2 := k ^ kk
							if bit(t.Mask, col, row, k) == 0 || bit(t.Mask, c2, r2, k2) == 0 {
								continue
							}
							cnt++
							if bit(t.Code, col, row, k) != bit(t.Code, c2, r2, k2) {
								dis++
							}
						}
					}
				}
				x := 0.0
				if cnt > 0 {
					x = 1 - 2*float64(dis)/float64(cnt)
				}
				r = append(r, float32(x))
				n = append(n, int32(cnt))
				dr = append(dr, int8(orow))
				dc = append(dc, int8(lag))
			}
		}
	}
	return r, n, dr, dc
}

// TestDevScore5 (fifth round of issue 17) compares scores whose degrees of
// freedom come from one number per template (computed once, as a gallery
// could keep it per entry) instead of a per-pair product of correlation
// vectors; a development aid on the TestDevCache templates.
func TestDevScore5(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if dir == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	const maxRow, maxLag = 1, 12
	// Per template (bias-corrected sums of r^2): [0] within the row, lags
	// up to ±6; [1] within the row, up to ±12; [2] between neighbouring
	// rows, lags up to ±4; [3] between rows, up to ±8.
	type stats [4]float64
	type variant struct {
		name string
		g    float64
		s    func(a, b stats) float64 // per-template stats -> pair S
	}
	geo := func(x, y float64) float64 { return math.Sqrt(max(x, 0) * max(y, 0)) }
	var vs []variant
	for _, g := range []float64{0.5, 0.75, 1, 1.25, 1.5, 2, 2.5} {
		vs = append(vs,
			variant{"geo-w6", g, func(a, b stats) float64 { return geo(a[0], b[0]) }},
			variant{"geo-w12", g, func(a, b stats) float64 { return geo(a[1], b[1]) }},
		)
		if g <= 1 {
			vs = append(vs,
				variant{"avg-w6", g, func(a, b stats) float64 { return (a[0] + b[0]) / 2 }},
				variant{"geo-w6b4", g, func(a, b stats) float64 { return geo(a[0]+a[2], b[0]+b[2]) }},
				variant{"geo-w12b8", g, func(a, b stats) float64 { return geo(a[1]+a[3], b[1]+b[3]) }},
				variant{"prod-w6", g, nil},
			)
		}
	}
	for _, l := range []float64{0.25, 0.5} {
		vs = append(vs, variant{fmt.Sprintf("geo-w6+%.2fb4", l), 1, func(a, b stats) float64 { return geo(a[0]+l*a[2], b[0]+l*b[2]) }})
	}
	sets := map[string][]*EvalResult{}
	var svs []scoreVariant
	for _, name := range []string{"casia", "iitd"} {
		s, ts := loadDevSet(t, filepath.Join(dir, name+".gob"))
		st := make([]stats, len(ts))
		w6 := make([][]float32, len(ts))
		var wg sync.WaitGroup
		W := runtime.GOMAXPROCS(0)
		for w := range W {
			wg.Go(func() {
				for i := w; i < len(ts); i += W {
					if ts[i] == nil {
						continue
					}
					r, n, dr, dc := codeCorrN(ts[i], maxRow, maxLag)
					for o := range r {
						u := float64(r[o]) * float64(r[o])
						if n[o] > 0 {
							u -= 1 / float64(n[o])
						}
						ad := int(dc[o])
						if ad < 0 {
							ad = -ad
						}
						switch {
						case dr[o] == 0:
							if ad <= 6 {
								st[i][0] += u
								w6[i] = append(w6[i], r[o])
							}
							st[i][1] += u
						default:
							if ad <= 4 {
								st[i][2] += u
							}
							if ad <= 8 {
								st[i][3] += u
							}
						}
					}
				}
			})
		}
		wg.Wait()
		var a [4][]float64
		for i := range ts {
			if ts[i] != nil {
				for k := range 4 {
					a[k] = append(a[k], st[i][k])
				}
			}
		}
		for k, lab := range []string{"within ±6", "within ±12", "between ±4", "between ±8"} {
			m, sd := meanStd(a[k])
			t.Logf("%s: template S %s %.4f ± %.4f (dof per bit 1/(1+S) at the mean %.3f)", name, lab, m, sd, 1/(1+m))
		}
		var pres []func(i, j int) float64
		// daugman2000: the score before this round; shipped: the matcher's
		// (pairNorm from the templates' RowCorrelation, which is geo-w6-g1).
		svs = []scoreVariant{{"daugman2000", func(d, n int, _ []float64) float64 { return rescale(d, n, 2000) }}}
		qs := make([]float64, len(ts))
		for i, tp := range ts {
			if tp != nil {
				qs[i] = corrRoot(tp.RowCorrelation())
			}
		}
		pres = append(pres, func(i, j int) float64 { return pairNorm(2000, qs[i], qs[j]) })
		svs = append(svs, scoreVariant{"shipped", func(d, n int, pre []float64) float64 { return rescale(d, n, pre[0]) }})
		for k, v := range vs {
			pres = append(pres, func(i, j int) float64 {
				var S float64
				if v.s != nil {
					S = v.s(st[i], st[j])
				} else {
					for o, x := range w6[i] {
						S += float64(x) * float64(w6[j][o])
					}
				}
				return math.Pow(1/(1+S)/0.2, v.g/2)
			})
			svs = append(svs, scoreVariant{fmt.Sprintf("%s-g%.2f", v.name, v.g), func(d, n int, pre []float64) float64 {
				raw := float64(d) / float64(n)
				return 0.5 - (0.5-raw)*math.Sqrt(float64(n)/2000)*pre[k+1]
			}})
		}
		gen, imp := devPairs(s, ts, svs, pres)
		for v := range svs {
			r := &EvalResult{Dataset: name}
			rates(r, gen[v], imp[v])
			r.gen, r.imp = gen[v], imp[v]
			sets[name] = append(sets[name], r)
		}
	}
	for v, x := range svs {
		line := fmt.Sprintf("SCORE %-18s", x.name)
		for _, p := range [][2]string{{"casia", "iitd"}, {"iitd", "casia"}} {
			tr, cal := sets[p[0]][v], sets[p[1]][v]
			cr, err := CrossFrom(tr, cal)
			if err != nil {
				t.Fatal(err)
			}
			line += fmt.Sprintf(" | %s EER %.3f FMR1000 %.3f out %.3f", p[0], 100*tr.EER, 100*tr.FMR1000, 100*cr.Out.EER)
			for _, a := range cr.Out.At[1:] {
				line += fmt.Sprintf(" %g: %.2fx", a.Target, a.FMR/a.Target)
			}
		}
		t.Log(line)
	}
}

// TestDevCoarseLost lists CASIA's genuine pairs that the full comparison
// accepts at the 1:N threshold of 200,000 eyes and the coarse pass drops
// (the `coarse pass` line of `assent eval iris` counts them); a
// development aid on the TestDevCache templates.
func TestDevCoarseLost(t *testing.T) {
	dir := os.Getenv("ASSENT_IRIS_DEV_CACHE")
	if dir == "" || os.Getenv("ASSENT_IRIS_DEV") == "" {
		t.Skip("development aid; set ASSENT_IRIS_DEV=1 and ASSENT_IRIS_DEV_CACHE")
	}
	s, ts := loadDevSet(t, filepath.Join(dir, "casia.gob"))
	g := NewGallery(GalleryOptions{})
	m := g.m
	strict := ThresholdForFMR(1 / (100 * 200000.0))
	frac := float64(g.coarseWords) / float64(g.words)
	cmin, cnorm := int(float64(m.MinBits)*frac), float64(m.NormBits)*frac
	e := make([]uint64, 2*g.words)
	for i := range ts {
		if ts[i] == nil {
			continue
		}
		p := g.prepare(ts[i])
		for j := i + 1; j < len(ts); j++ {
			if ts[j] == nil || s.Eye[i] != s.Eye[j] {
				continue
			}
			g.packEntry(e, ts[j].Code, ts[j].Mask)
			qj := corrRoot(ts[j].RowCorrelation())
			full := best(p.full, e, p.shifts, m.MinBits, pairNorm(float64(m.NormBits), p.q, qj))
			c := bestStrided(p.coarse, g.coarsePart(e), 1, p.coarseShifts, cmin, pairNorm(cnorm, p.q, qj))
			if full <= strict && c > strict+DefaultCoarseMargin {
				t.Logf("lost: %s ~ %s: full %.4f coarse %.4f (threshold %.4f; S %.2f, %.2f)", s.Paths[i], s.Paths[j], full, c, strict, p.q*p.q, qj*qj)
			}
		}
	}
}
