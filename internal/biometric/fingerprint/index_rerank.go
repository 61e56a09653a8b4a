package fingerprint

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// The second stage of an indexed search: the index's shortlist (a fixed
// share of the gallery, DefaultPenetration) is re-ranked by a local
// similarity score (the "LSS" of Cappelli, Ferrara and Maltoni 2010, without
// the relaxation), and only the entries it ranks highest (DefaultCompared of
// the gallery) are compared in full. The local score reads each cylinder's
// bits once, against the cylinders of the other template whose directions
// are within maxDirGap, and keeps each probe cylinder's best similarity:
// the pair loop of a full comparison without its column bests, its types,
// its one-to-one choice and its relaxation, which make most of its cost.
//
// A mate that the index keeps is nearly always among the local score's
// best: its cylinders are the same minutiae's (TestRerankRetention measures
// how many of the FVC genuine pairs the two stages keep together).

// DefaultCompared is the share of the gallery an indexed search compares in
// full after the second stage (the index shortlists DefaultPenetration).
const DefaultCompared = 0.005

// ComparedSize is how many of n entries an indexed search with opt
// compares in full after the second stage: max(MinShortlist, Compared x
// n), at most ShortlistSize(n, opt) (then the second stage does nothing).
func ComparedSize(n int, opt SearchOptions) int {
	c := opt.Compared
	if c <= 0 {
		c = DefaultCompared
	}
	k := opt.MinShortlist
	if k <= 0 {
		k = DefaultMinShortlist
	}
	return min(ShortlistSize(n, opt), max(k, int(math.Ceil(c*float64(n)))))
}

// localScratch holds one goroutine's buffers for localScore.
type localScratch struct {
	c    cylinders // the unpacked entry
	hd   []uint32
	best []float32
}

// localScore is the second stage's score of a gallery entry b for probe
// a: for each cylinder of a, its best local similarity 1 - sqrt(hamming) /
// (norm_a + norm_b) over the cylinders of b within maxDirGap of its
// direction; the mean of the np best of those (np as the full comparison
// averages). Both cylinder sets are sorted by direction.
func localScore(a, b *cylinders, s *localScratch) float32 {
	na, nb := a.n(), b.n()
	if na == 0 || nb == 0 {
		return 0
	}
	if cap(s.hd) < nb {
		s.hd = make([]uint32, max(nb, 64))
	}
	if cap(s.best) < na {
		s.best = make([]float32, max(na, 64))
	}
	best := s.best[:na]
	bdir, bnorm, bbits := b.dir[:nb], b.norm[:nb], b.bits[:nb]
	// the first j with bdir[j] >= each bound; the bounds only grow from row
	// to row (a is sorted by direction), so each pointer only moves on
	var pLo, pHi, pLoWrap, pHiWrap int
	for i := range na {
		ad, an := a.dir[i], a.norm[i]
		lo, hi := ad-maxDirGap, ad+maxDirGap
		var runs [2][2]int
		switch {
		case lo < 0:
			for v := lo + 2*math.Pi; pLoWrap < nb && bdir[pLoWrap] < v; {
				pLoWrap++
			}
			for pHi < nb && bdir[pHi] < hi {
				pHi++
			}
			runs = [2][2]int{{0, pHi}, {pLoWrap, nb}}
		case hi >= 2*math.Pi:
			for pLo < nb && bdir[pLo] < lo {
				pLo++
			}
			for v := hi - 2*math.Pi; pHiWrap < nb && bdir[pHiWrap] < v; {
				pHiWrap++
			}
			runs = [2][2]int{{pLo, nb}, {0, pHiWrap}}
		default:
			for pLo < nb && bdir[pLo] < lo {
				pLo++
			}
			for pHi < nb && bdir[pHi] < hi {
				pHi++
			}
			runs = [2][2]int{{pLo, pHi}, {0, 0}}
		}
		// the least ratio sqrt(hamming) / (norm_a + norm_b) of the row
		r := float32(1)
		for _, run := range runs {
			if run[1] <= run[0] {
				continue
			}
			hd := s.hd[:run[1]-run[0]]
			hammingRun(&a.bits[i], bbits[run[0]:run[1]], hd)
			for jj, cx := range hd {
				r = min(r, sqrtTab[cx]/(an+bnorm[run[0]+jj]))
			}
		}
		best[i] = 1 - r
	}
	np := min(npTab[min(na, nb, len(npTab)-1)], na)
	// the np highest of best, by partial selection (np is at most 12)
	sum := float32(0)
	for k := range np {
		m := k
		for j := k + 1; j < na; j++ {
			if best[j] > best[m] {
				m = j
			}
		}
		best[k], best[m] = best[m], best[k]
		sum += best[k]
	}
	return sum / float32(npTab[min(na, nb, len(npTab)-1)])
}

// alignProbe is what the alignment score needs of a probe, computed once
// a search: its minutiae relative to their centroid, directions in
// 1/65536 turn, sorted by direction (as the cylinders are).
type alignProbe struct {
	x, y []float32
	dir  []uint16
}

func newAlignProbe(c *cylinders) alignProbe {
	n := c.n()
	p := alignProbe{x: make([]float32, n), y: make([]float32, n), dir: make([]uint16, n)}
	var mx, my float32
	for i := range n {
		mx += c.x[i]
		my += c.y[i]
	}
	if n > 0 {
		mx, my = mx/float32(n), my/float32(n)
	}
	for i := range n {
		p.x[i], p.y[i] = c.x[i]-mx, c.y[i]-my
		p.dir[i] = uint16(int(float64(c.dir[i])*geomDirScale) & 0xffff)
	}
	return p
}

// Alignment score parameters: a pair of minutiae votes when its direction
// difference is within alignDirTol of the index's rotation, for the
// translation that aligns the two, in cells of alignCell pixels; the score
// is the most votes in a square of 2 x 2 cells.
var (
	alignDirTol = uint16(4096) // 1/65536 turn: 22.5 degrees
	alignCell   = float32(16)  // pixels
	alignSpread = 0            // bins either side of the index's also tried
)

const alignGrid = 64 // cells on a side

// binRotation[b] is the rotation (gallery direction minus probe direction,
// in 1/65536 turn) between bins b and b+1 of the index, the middle of the
// best pair b; and its cosine and sine. Read-only after init.
var binRotation = func() (t [indexRotBins]struct {
	d        uint16
	cos, sin float32
}) {
	gap := float64(indexDirGap)
	for b := range t {
		levels := float64(b+1)*(2*gap+1)/indexRotBins - gap
		rad := levels / indexDirLevels * 2 * math.Pi
		t[b].d = uint16(int(math.Round(levels*256)) & 0xffff)
		t[b].cos, t[b].sin = float32(math.Cos(rad)), float32(math.Sin(rad))
	}
	return t
}()

// alignScratch holds one goroutine's vote grid for alignScore.
type alignScratch struct {
	grid    [alignGrid * alignGrid]uint8
	touched []uint16
}

// alignScore is the second stage's score of a gallery entry (its packed
// geometry, cylinders sorted by direction) for probe a, given the index's
// best rotation bin for it: the number of minutia pairs that one rigid
// motion (that rotation, give or take alignDirTol, and a translation
// within a cell or two) aligns. The entry's bits are not read.
func alignScore(a *alignProbe, geom []cylGeom, bin uint8, s *alignScratch) int {
	best := 0
	for b := max(0, int(bin)-alignSpread); b <= min(indexRotBins-2, int(bin)+alignSpread); b++ {
		best = max(best, alignScore1(a, geom, uint8(b), s))
	}
	return best
}

func alignScore1(a *alignProbe, geom []cylGeom, bin uint8, s *alignScratch) int {
	na, nb := len(a.dir), len(geom)
	if na == 0 || nb == 0 {
		return 0
	}
	var gx, gy float32
	for _, g := range geom {
		gx += float32(g.x)
		gy += float32(g.y)
	}
	gx, gy = gx/float32(nb), gy/float32(nb)
	rot := binRotation[bin&(indexRotBins-1)]
	// a gallery point q maps to the probe's frame as R(-rotation) (q - centroid)
	c, sn := rot.cos*(1.0/geomPosScale), rot.sin*(1.0/geomPosScale)
	best := uint8(0)
	for i := range na {
		lo := a.dir[i] + rot.d - alignDirTol
		// first gallery cylinder at or after lo (circularly)
		j, _ := slicesSearchDir(geom, lo)
		for k := 0; k < nb; k, j = k+1, j+1 {
			if j == nb {
				j = 0
			}
			g := &geom[j]
			if g.dir-lo > 2*alignDirTol {
				break
			}
			qx, qy := float32(g.x)-gx*1, float32(g.y)-gy*1
			// positions are in 1/geomPosScale pixel: c and sn carry the scale
			tx := c*qx + sn*qy - a.x[i]
			ty := -sn*qx + c*qy - a.y[i]
			cx := int(tx/alignCell + alignGrid/2)
			cy := int(ty/alignCell + alignGrid/2)
			if cx < 0 || cy < 0 || cx >= alignGrid-1 || cy >= alignGrid-1 {
				continue
			}
			// the vote counts in the four squares of 2 x 2 cells holding its cell
			for _, at := range [4]int{cy*alignGrid + cx, cy*alignGrid + cx + 1, (cy+1)*alignGrid + cx, (cy+1)*alignGrid + cx + 1} {
				v := &s.grid[at]
				if *v == 0 {
					s.touched = append(s.touched, uint16(at))
				}
				if *v < math.MaxUint8 {
					*v++
				}
				best = max(best, *v)
			}
		}
	}
	for _, at := range s.touched {
		s.grid[at] = 0
	}
	s.touched = s.touched[:0]
	return int(best)
}

// slicesSearchDir returns the index of the first cylinder of geom (sorted
// by direction) whose direction is at least d, or 0 if none is.
func slicesSearchDir(geom []cylGeom, d uint16) (int, bool) {
	lo, hi := 0, len(geom)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if geom[m].dir < d {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(geom) {
		return 0, false
	}
	return lo, true
}

// stage2Score is the second stage's ranking score of an entry: its
// alignment score, ties broken by its index score.
func stage2Score(align int, index float32) float32 {
	return float32(align) + min(index, 100)/128
}

// rerank returns the k entries of shortlist (entry numbers, in increasing
// order) with the highest second-stage scores for probe (rot[e] is entry
// e's best rotation bin from the index), in increasing order, computed on
// up to workers goroutines. The caller holds the read lock.
func (g *Gallery) rerank(ctx context.Context, probe *Template, shortlist []int32, rot []uint8, k, workers int) ([]int32, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ap := newAlignProbe(&probe.cyl)
	scores := make([]scored, len(shortlist))
	const chunk = 256
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(workers, (len(shortlist)+chunk-1)/chunk)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := new(alignScratch)
			for ctx.Err() == nil {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(shortlist) {
					return
				}
				for i := lo; i < min(lo+chunk, len(shortlist)); i++ {
					e := shortlist[i]
					scores[i] = makeScored(float32(alignScore(&ap, g.cyl.view(g.entries[e]).geom, rot[e], s)), e)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return topK(scores, k), nil
}
