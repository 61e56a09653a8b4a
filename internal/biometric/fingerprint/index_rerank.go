package fingerprint

import (
	"context"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// The second stage of an indexed search: a filter between the index's
// shortlist (SearchPenetration of the gallery) and the full comparisons.
// It reads only what a gallery keeps per cylinder besides the bits: the
// minutia's position and direction, and a 4-byte sketch of the cylinder
// (cylinderSketch). Its score counts the pairs of minutiae that one rigid
// motion aligns (the rotation the index voted for, give or take
// alignDirTol, and a translation within a cell or two of alignCell pixels)
// and whose cylinders' sketches agree (sketchMin of 8 values or more),
// each weighted by its agreement: a cheap form of what the full comparison
// finds with the cylinders' bits and its relaxation. Entries scoring below
// the search's cut (SecondStageCut) are not compared in full. It costs
// about a tenth of a full comparison, which must first decode the entry's
// bits (BenchmarkSketchScore, BenchmarkUnpackLarge, BenchmarkMatchLarge).
//
// Ranking the shortlist by this score (or by the local similarities of the
// cylinders, or by the alignment of all minutiae) and comparing a fixed
// smaller share loses too many genuine pairs (docs/fingerprint.md: about
// 2 % of the FVC pairs at 1 % compared in full); the cut only drops entries
// with almost no aligned evidence, which a mate at the 1:N threshold nearly
// always has (TestSecondStageRetention).

// DefaultSecondStage is the least second-stage score of an entry an
// indexed search compares in full at the 1:N threshold of a gallery of up
// to 500,000 templates; SecondStageCut raises it for a search at the
// threshold of a larger gallery.
const DefaultSecondStage = 5

// largePenetration is the index's penetration a search uses by default at
// the threshold of more than largeFrom templates (SearchPenetration).
const (
	largePenetration = 0.015
	largeFrom        = 3_000_000
)

// thresholdTemplates is the gallery size whose 1:N threshold threshold is,
// as dedup sets it (a false-match rate of 1/(100 templates)).
func thresholdTemplates(threshold float64) float64 {
	return 1 / (100 * FMR(threshold))
}

// SecondStageCut is the cut an indexed search at threshold uses by
// default: DefaultSecondStage at every gallery size. Under the Gabor
// engine the cut followed the gallery size the threshold is set for (5 up
// to 500,000 templates, 6 up to 2,000,000, 7 above: a genuine pair under a
// higher threshold is not found anyway); under the STFT engine's cylinders
// cuts 6 and 7 keep under 99 % of the FVC genuine pairs at those sizes'
// thresholds (98.9 %), so the steps were removed (fifteenth session;
// TestSecondStageRetention, docs/fingerprint.md). The threshold stays a
// parameter so that a later engine can step it again.
func SecondStageCut(threshold float64) int {
	_ = threshold
	return DefaultSecondStage
}

// SearchPenetration is the index's penetration an indexed search at
// threshold uses by default: DefaultPenetration, and 1.5 % at the threshold
// of more than 3,000,000 templates (a 2,000,000-person shard holds
// 4,000,000 fingers), where the index and SecondStageCut's 5 still keep
// 99.25 to 99.38 % of the FVC genuine pairs (in-sample, STFT engine), and
// a search compares a quarter fewer entries in both stages.
func SearchPenetration(threshold float64) float64 {
	if thresholdTemplates(threshold) > largeFrom {
		return largePenetration
	}
	return DefaultPenetration
}

// Alignment and sketch parameters (chosen on the pooled FVC sets, see
// docs/fingerprint.md).
const (
	alignDirTol = 4096 // 1/65536 turn: 22.5 degrees either side of the index's rotation
	alignCell   = 16   // pixels
	alignGrid   = 64   // cells on a side: translations within 512 pixels
	sketchMin   = 3    // least values of 8 two sketches agree on for their pair to count
)

// A cylinder's sketch is the low 4 bits of 8 of its MinHash values (the
// last functions computed, which the index's tables use least: from
// sketchFirst on), 4 bytes a cylinder. Two cylinders agree on a value with
// the probability of a MinHash collision (their Jaccard similarity) plus
// about 1/16 by chance, so the number of the 8 that agree estimates how
// alike they are without their bits. The lowest bit is always set, so that
// 0 means no sketch (a cylinder too sparse to index, or a gallery not yet
// indexed).
const sketchFirst = minhashFuncs - 8

func cylinderSketch(acc *[minhashFuncs]uint16) uint32 {
	var sk uint32
	for m := range 8 {
		sk |= uint32(acc[sketchFirst+m]&15) << (4 * m)
	}
	return sk | 1
}

// sketchAgree is the number of the 8 values two sketches agree on.
func sketchAgree(a, b uint32) int {
	x := a ^ b
	x |= x >> 1
	x |= x >> 2
	return 8 - bits.OnesCount32(x&0x11111111)
}

// alignProbe is what the second stage needs of a probe, computed once a
// search: its minutiae relative to their centroid, directions in 1/65536
// turn, and its cylinders' sketches, in the cylinders' order.
type alignProbe struct {
	x, y []float32
	dir  []uint16
	sk   []uint32
}

func newAlignProbe(c *cylinders) alignProbe {
	n := c.n()
	p := alignProbe{x: make([]float32, n), y: make([]float32, n), dir: make([]uint16, n), sk: make([]uint32, n)}
	var keys [indexTables]uint32
	var pos [cylWords * 64]uint16
	var mx, my float32
	for i := range n {
		mx += c.x[i]
		my += c.y[i]
		k := 0
		for w, x := range c.bits[i] {
			for ; x != 0; x &= x - 1 {
				pos[k] = uint16(w*64 + bits.TrailingZeros64(x))
				k++
			}
		}
		p.sk[i], _ = positionKeysSketch(pos[:k], &keys)
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

// binRotation[b] is the rotation (gallery direction minus probe direction,
// in 1/65536 turn) at the boundary of the index's rotation bins b and b+1,
// the middle of the best pair b, with its cosine and sine. Read-only after
// init.
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

// alignScratch holds one goroutine's vote grid for sketchScore.
type alignScratch struct {
	grid    [alignGrid * alignGrid]uint8
	touched []uint16
}

// sketchScore is the second stage's score of gallery entry p (cylinders
// sorted by direction, sketches set) for probe a, given the index's best
// rotation bin for the entry: the most weighted votes in a square of 2 x 2
// translation cells.
func sketchScore(a *alignProbe, p packed, bin uint8, s *alignScratch) int {
	return sketchBest(a, p, bin, math.MaxUint8, s)
}

// sketchReaches reports whether sketchScore(a, p, bin, s) >= cut, stopping
// as soon as it does.
func sketchReaches(a *alignProbe, p packed, bin uint8, cut int, s *alignScratch) bool {
	return sketchBest(a, p, bin, uint8(min(max(cut, 0), math.MaxUint8)), s) >= cut
}

// sketchBest is sketchScore, except that it returns as soon as the score
// reaches stop (a score at least stop, then).
func sketchBest(a *alignProbe, p packed, bin uint8, stop uint8, s *alignScratch) int {
	geom, gsk := p.geom, p.sk
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
	// A gallery point q maps to the probe's frame as R(-rotation) (q -
	// centroid); c and sn also scale the packed positions to pixels.
	c, sn := rot.cos*(1.0/geomPosScale), rot.sin*(1.0/geomPosScale)
	best := uint8(0)
	// at is the first cylinder of geom whose direction is at least the
	// window's start lo. The probe's cylinders are sorted by direction, so
	// lo only grows from one to the next, except once where it wraps past
	// a full turn: at moves forward, and starts over when lo falls (the
	// same cylinder as a binary search finds, without its mispredicted
	// branches).
	at, prevLo := 0, uint16(0)
probes:
	for i := range na {
		psk := a.sk[i]
		if psk == 0 {
			continue
		}
		lo := a.dir[i] + rot.d - alignDirTol
		if lo < prevLo {
			at = 0
		}
		prevLo = lo
		for at < nb && geom[at].dir < lo {
			at++
		}
		j := at
		if j == nb {
			j = 0 // none: the window starts over at the lowest direction
		}
		for k := 0; k < nb; k, j = k+1, j+1 {
			if j == nb {
				j = 0
			}
			g := &geom[j]
			if g.dir-lo > 2*alignDirTol {
				break
			}
			w := sketchAgree(psk, gsk[j]) - sketchMin + 1
			if w <= 0 || gsk[j] == 0 {
				continue
			}
			qx, qy := float32(g.x)-gx, float32(g.y)-gy
			tx := c*qx + sn*qy - a.x[i]
			ty := -sn*qx + c*qy - a.y[i]
			cx := int(tx*(1.0/alignCell) + alignGrid/2)
			cy := int(ty*(1.0/alignCell) + alignGrid/2)
			if cx < 0 || cy < 0 || cx >= alignGrid-1 || cy >= alignGrid-1 {
				continue
			}
			// the vote counts in the four squares of 2 x 2 cells that hold its cell
			for _, at := range [4]int{cy*alignGrid + cx, cy*alignGrid + cx + 1, (cy+1)*alignGrid + cx, (cy+1)*alignGrid + cx + 1} {
				v := &s.grid[at]
				if *v == 0 {
					s.touched = append(s.touched, uint16(at))
				}
				*v = uint8(min(int(*v)+w, math.MaxUint8))
				best = max(best, *v)
			}
			if best >= stop {
				break probes
			}
		}
	}
	for _, at := range s.touched {
		s.grid[at] = 0
	}
	s.touched = s.touched[:0]
	return int(best)
}

// secondStage returns the entries of shortlist (entry numbers, in
// increasing order) whose second-stage score for probe is at least cut,
// in increasing order; rot[e] is entry e's best rotation bin from the
// index. It runs on up to workers goroutines. The caller holds the read
// lock.
func (g *Gallery) secondStage(ctx context.Context, probe *Template, shortlist []int32, rot []uint8, cut, workers int) ([]int32, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	pc := probe.galleryCylinders() // the probe as the entries are held
	ap := newAlignProbe(&pc)
	pass := make([]bool, len(shortlist))
	const chunk = 512
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
					pass[i] = sketchReaches(&ap, g.cyl.view(g.entries[e]), rot[e], cut, s)
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := shortlist[:0] // in place: entry i is written at or before i
	for i, ok := range pass {
		if ok {
			out = append(out, shortlist[i])
		}
	}
	return out, nil
}
