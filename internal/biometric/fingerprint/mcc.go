package fingerprint

import (
	"math"
	"math/bits"
	"slices"
	"sort"
)

// Minutia Cylinder-Code parameters (Cappelli, Ferrara and Maltoni 2010), bit
// variant, at 500 dpi. Only the cells whose centre lies inside the cylinder
// base are stored, ND bits per cell, packed into words.
const (
	mccR      = 70.0             // cylinder radius, pixels
	mccNS     = 12               // cells along a side of the base
	mccND     = 6                // direction layers
	mccSigmaS = 7.0              // spatial spread, pixels
	mccMuPsi  = 0.01             // contribution threshold for a 1 bit
	mccSigmaD = 5 * math.Pi / 36 // directional spread
	mccOmega  = 50.0             // convex hull enlargement, pixels
	mccMinVC  = 0.75             // least fraction of valid cells in a valid cylinder
	mccMinM   = 2                // least neighbouring minutiae in a valid cylinder
	mccDeltaS = 2 * mccR / mccNS // cell side
	mccDeltaD = 2 * math.Pi / mccND
	maxDirGap = math.Pi / 3 // cylinders whose minutiae differ more are not compared
	// typeWeight scales a candidate pair's local similarity by 1 +
	// typeWeight when both minutiae are of the same known type (ending or
	// bifurcation) and by 1 - typeWeight when their types differ; a pair
	// with an unknown type (TypeOther) keeps its similarity. Pressure turns
	// endings into bifurcations and back, so a differing type is weak
	// evidence, not a veto (see docs/fingerprint.md).
	typeWeight = 0.1
	// bgRef is the reference background similarity of the background
	// normalisation (see match): a candidate pair's local similarity is
	// multiplied by bgRef / mu, mu the mean local similarity of all the
	// cylinder pairs the comparison computed. bgRef is about the mean of mu
	// over impostor comparisons, so that scores keep their usual scale.
	bgRef = 0.3
)

// Global score parameters (LSS-R).
const (
	minNP      = 4
	maxNP      = 12
	muP        = 20
	tauP       = 0.4
	relaxIters = 5
	relaxW     = 0.5
	maxRelax   = 32 // at most this many pairs enter the relaxation
	// relaxRef and relaxPow set how a pair's support (the sum of its
	// compatibilities times the other pairs' similarities) is normalised:
	// divided by relaxRef^(1-relaxPow) * (nr-1)^relaxPow for nr pairs. The
	// paper divides by nr-1 (relaxPow 1), which makes the support a mean:
	// a genuine comparison whose many pairs agree scores no higher than one
	// where a few do. A weaker normalisation lets agreeing pairs reinforce
	// each other beyond their initial similarity (see docs/fingerprint.md).
	relaxRef = 15
	relaxPow = 0.25
)

// relaxInv[nr] is (1 - relaxW) divided by the support normalisation for nr
// pairs. Read-only after init.
var relaxInv = func() (t [maxRelax + 1]float32) {
	for nr := 2; nr <= maxRelax; nr++ {
		t[nr] = float32((1 - relaxW) / (math.Pow(relaxRef, 1-relaxPow) * math.Pow(float64(nr-1), relaxPow)))
	}
	return t
}()

// Read-only tables, computed once at start-up and never written: the cell
// offsets, the sigmoid and square-root tables below. They are constants in
// all but syntax, so they are not shared mutable state.

// cells lists the (u, v) offsets of the stored cells, computed once.
var cellU, cellV = func() ([]float64, []float64) {
	var us, vs []float64
	for i := range mccNS {
		for j := range mccNS {
			u := (float64(i) - float64(mccNS-1)/2) * mccDeltaS
			v := (float64(j) - float64(mccNS-1)/2) * mccDeltaS
			if math.Hypot(u, v) <= mccR {
				us, vs = append(us, u), append(vs, v)
			}
		}
	}
	return us, vs
}()

// cylWords is the number of 64-bit words in one cylinder's bits: the 112
// cells of a 12x12 base that lie inside the circle, times mccND bits, rounded
// up. A test checks it against cellU.
const cylWords = 11

// hamming counts the bits that differ between two cylinders, unrolled with
// independent sums for instruction-level parallelism.
func hamming(a, b *cylBits) int {
	c0 := bits.OnesCount64(a[0]^b[0]) + bits.OnesCount64(a[4]^b[4]) + bits.OnesCount64(a[8]^b[8])
	c1 := bits.OnesCount64(a[1]^b[1]) + bits.OnesCount64(a[5]^b[5]) + bits.OnesCount64(a[9]^b[9])
	c2 := bits.OnesCount64(a[2]^b[2]) + bits.OnesCount64(a[6]^b[6]) + bits.OnesCount64(a[10]^b[10])
	c3 := bits.OnesCount64(a[3]^b[3]) + bits.OnesCount64(a[7]^b[7])
	return c0 + c1 + c2 + c3
}

// hammingRun sets out[k] = hamming(a, &b[k]) for every k < len(b) (len(out)
// must be at least len(b)): on amd64 with POPCNT (every x86-64-v2
// processor) one assembly loop for the whole run, since Go's
// bits.OnesCount64 checks for the instruction at every call unless the
// build targets GOAMD64=v2 or later; elsewhere hammingRunGo.
func hammingRun(a *cylBits, b []cylBits, out []uint32) {
	out = out[:len(b)]
	if usePOPCNT {
		hammingRunPOPCNT(a, b, out)
		return
	}
	hammingRunGo(a, b, out)
}

func hammingRunGo(a *cylBits, b []cylBits, out []uint32) {
	for k := range b {
		out[k] = uint32(hamming(a, &b[k]))
	}
}

// hamming and hammingRunPOPCNT are written for 11 words; this fails to
// compile otherwise.
var _ = [1]struct{}{}[cylWords-11]

// cylBits holds one cylinder's bits.
type cylBits [cylWords]uint64

// cylinders is the matcher's view of one template: for each valid cylinder,
// its minutia (position, direction and its cosine and sine, type), the square
// root of its number of 1 bits, and its bits, all in flat slices sorted by
// direction so that the cylinders within maxDirGap of a direction form at
// most two contiguous runs. Invalid cells hold 0 bits.
type cylinders struct {
	x, y, dir, cos, sin []float32
	norm                []float32 // sqrt of the number of 1 bits
	bits                []cylBits
	typ                 []uint8 // TypeOther, TypeEnding or TypeBifurcation
	// desc holds each cylinder's ring descriptor (see ringDescriptors),
	// or is nil when the template has none (made from minutiae only, or
	// unpacked from a gallery): the matcher then goes without.
	desc []uint32
	// tex is each cylinder's texture weight (texture.go), or nil when the
	// template's texture is unknown (weight 1) or in a gallery.
	tex []float32
}

func (c *cylinders) n() int { return len(c.x) }

// cellAt[i][j] is the stored index of the cell in row i, column j of the
// cylinder base, or -1 outside the circle; rowCells[i] is the first and last
// stored index of row i (first > last for an empty row). The cells of a row
// are consecutive in storage. Read-only after init.
var cellAt, rowCells = func() (at [mccNS][mccNS]int16, rows [mccNS][2]int) {
	n := 0
	for i := range mccNS {
		rows[i] = [2]int{n, n - 1}
		for j := range mccNS {
			at[i][j] = -1
			u := (float64(i) - float64(mccNS-1)/2) * mccDeltaS
			v := (float64(j) - float64(mccNS-1)/2) * mccDeltaS
			if math.Hypot(u, v) <= mccR {
				at[i][j] = int16(n)
				rows[i][1] = n
				n++
			}
		}
	}
	return at, rows
}()

// cellRange returns the rows (or columns) [lo, hi] of the cells whose centre
// lies within reach of coordinate x of the cylinder frame.
func cellRange(x, reach float64) (lo, hi int) {
	const mid = float64(mccNS-1) / 2
	lo = max(0, int(math.Ceil((x-reach)/mccDeltaS+mid)))
	hi = min(mccNS-1, int(math.Floor((x+reach)/mccDeltaS+mid)))
	return lo, hi
}

// buildCylinders computes the bit cylinder of every minutia.
func buildCylinders(ms []Minutia) cylinders {
	var c cylinders
	if len(ms) == 0 {
		return c
	}
	n := len(ms)
	c = cylinders{x: make([]float32, 0, n), y: make([]float32, 0, n), dir: make([]float32, 0, n),
		cos: make([]float32, 0, n), sin: make([]float32, 0, n), norm: make([]float32, 0, n), bits: make([]cylBits, 0, n),
		typ: make([]uint8, 0, n)}
	hull := convexHull(ms)
	nc := len(cellU)
	vals := make([]float64, nc*mccND)
	valid := make([]bool, nc)
	reach := 3 * mccSigmaS
	for i, m := range ms {
		mx, my, md := float64(m.X), float64(m.Y), float64(m.Dir)
		cs, sn := math.Cos(md), math.Sin(md)
		neighbours := 0
		clear(vals)
		clear(valid)
		// A cell is valid when its centre is near the hull. The enlarged
		// hull is convex and a row of cells lies on a line, so the valid
		// cells of a row are consecutive: find the two ends and fill.
		near := func(ci int) bool {
			return hull.near(mx+cs*cellU[ci]-sn*cellV[ci], my+sn*cellU[ci]+cs*cellV[ci], mccOmega)
		}
		nvalid := 0
		for _, r := range rowCells {
			a, b := r[0], r[1]
			for a <= b && !near(a) {
				a++
			}
			for b > a && !near(b) {
				b--
			}
			for ci := a; ci <= b; ci++ {
				valid[ci] = true
			}
			nvalid += max(0, b-a+1)
		}
		for j, t := range ms {
			if j == i {
				continue
			}
			dx, dy := float64(t.X)-mx, float64(t.Y)-my
			if dx*dx+dy*dy > (mccR+reach)*(mccR+reach) {
				continue
			}
			neighbours++
			w := directionalWeights(angleDiff(md, float64(t.Dir)))
			// The neighbour in the cylinder's frame; only the cells within
			// reach of it get a contribution.
			tu, tv := cs*dx+sn*dy, -sn*dx+cs*dy
			i0, i1 := cellRange(tu, reach)
			j0, j1 := cellRange(tv, reach)
			for ii := i0; ii <= i1; ii++ {
				for jj := j0; jj <= j1; jj++ {
					ci := int(cellAt[ii][jj])
					if ci < 0 || !valid[ci] {
						continue
					}
					du, dv := tu-cellU[ci], tv-cellV[ci]
					d2 := du*du + dv*dv
					if d2 > reach*reach {
						continue
					}
					g := spatialWeight(d2)
					for k := range mccND {
						vals[ci*mccND+k] += g * w[k]
					}
				}
			}
		}
		if float64(nvalid) < mccMinVC*float64(nc) || neighbours < mccMinM {
			continue
		}
		var b cylBits
		for ci := range nc {
			if !valid[ci] {
				continue
			}
			for k := range mccND {
				bit := ci*mccND + k
				if vals[bit] >= mccMuPsi {
					b[bit/64] |= 1 << (bit % 64)
				}
			}
		}
		c.x = append(c.x, m.X)
		c.typ = append(c.typ, m.Type)
		c.y = append(c.y, m.Y)
		c.dir = append(c.dir, m.Dir)
		c.cos = append(c.cos, float32(cs))
		c.sin = append(c.sin, float32(sn))
		c.bits = append(c.bits, b)
		ones := 0
		for _, w := range b {
			ones += bits.OnesCount64(w)
		}
		c.norm = append(c.norm, float32(math.Sqrt(float64(ones))))
	}
	return c.sortedByDir()
}

// sortedByDir returns c with its cylinders in increasing direction.
func (c cylinders) sortedByDir() cylinders {
	n := c.n()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		if c.dir[i] < c.dir[j] {
			return -1
		}
		if c.dir[i] > c.dir[j] {
			return 1
		}
		return 0
	})
	o := cylinders{x: make([]float32, n), y: make([]float32, n), dir: make([]float32, n),
		cos: make([]float32, n), sin: make([]float32, n), norm: make([]float32, n), bits: make([]cylBits, n),
		typ: make([]uint8, n)}
	for k, i := range idx {
		o.x[k], o.y[k], o.dir[k] = c.x[i], c.y[i], c.dir[i]
		o.cos[k], o.sin[k], o.norm[k] = c.cos[i], c.sin[i], c.norm[i]
		o.bits[k] = c.bits[i]
		o.typ[k] = c.typ[i]
	}
	return o
}

// polygon is a convex hull, counter-clockwise in image coordinates.
type polygon struct{ x, y []float64 }

func convexHull(ms []Minutia) polygon {
	pts := make([][2]float64, len(ms))
	for i, m := range ms {
		pts[i] = [2]float64{float64(m.X), float64(m.Y)}
	}
	sort.Slice(pts, func(i, j int) bool {
		if pts[i][0] != pts[j][0] {
			return pts[i][0] < pts[j][0]
		}
		return pts[i][1] < pts[j][1]
	})
	cross := func(o, a, b [2]float64) float64 {
		return (a[0]-o[0])*(b[1]-o[1]) - (a[1]-o[1])*(b[0]-o[0])
	}
	var h [][2]float64
	for _, p := range pts {
		for len(h) >= 2 && cross(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	lower := len(h) + 1
	for i := len(pts) - 2; i >= 0; i-- {
		p := pts[i]
		for len(h) >= lower && cross(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	if len(h) > 1 {
		h = h[:len(h)-1]
	}
	var poly polygon
	for _, p := range h {
		poly.x, poly.y = append(poly.x, p[0]), append(poly.y, p[1])
	}
	return poly
}

// near reports whether (px, py) is inside the polygon or within d of it.
func (p polygon) near(px, py, d float64) bool {
	n := len(p.x)
	if n >= 3 {
		inside := true
		for i := range n {
			j := (i + 1) % n
			if (p.x[j]-p.x[i])*(py-p.y[i])-(p.y[j]-p.y[i])*(px-p.x[i]) < 0 {
				inside = false
				break
			}
		}
		if inside {
			return true
		}
	}
	d2 := d * d
	for i := range n {
		j := (i + 1) % n
		ax, ay, bx, by := p.x[i], p.y[i], p.x[j], p.y[j]
		ex, ey := bx-ax, by-ay
		l2 := ex*ex + ey*ey
		t := 0.0
		if l2 > 0 {
			t = min(1, max(0, ((px-ax)*ex+(py-ay)*ey)/l2))
		}
		qx, qy := px-ax-t*ex, py-ay-t*ey
		if qx*qx+qy*qy <= d2 {
			return true
		}
	}
	return false
}

// scratch holds per-goroutine buffers for matching; it is not safe for
// concurrent use.
type scratch struct {
	rowArg  []int32
	colKey  []uint64
	hd      []uint32 // hamming distances of one run of a row
	pairs   []pair
	geo     []pairGeo
	edges   []edge
	acc     []float32
	lambda  []float32
	lambda2 []float32
	eff     []float32
	idx     []int
	keys    []uint64
}

type pair struct {
	a, b int
	s    float32
}

// pairGeo is the geometry of one selected pair: the two minutiae's
// positions, the rotation from b's minutia to a's (in [-π, π)) and its
// cosine and sine.
type pairGeo struct {
	ax, ay, bx, by float32
	rot, cr, sr    float32
}

// edge is the non-zero compatibility r of selected pairs t and k.
type edge struct {
	t, k int32
	r    float32
}

// npTab[n] is the number of pairs averaged into the score when the smaller
// template has n valid cylinders: a sigmoid from minNP to maxNP.
var npTab = func() (t [257]int) {
	for n := range t {
		t[n] = minNP + int(math.Round(1/(1+math.Exp(-tauP*(float64(n)-muP)))*(maxNP-minNP)))
	}
	return t
}()

// tables for the relaxation compatibility terms.
const (
	z1Step = 0.125
	z1Len  = 96 // 12 px: beyond it the distance term is below 2e-5
	zaLen  = 512
)

var z1Tab, zaTab = func() ([z1Len]float32, [zaLen + 1]float32) {
	var t1 [z1Len]float32
	var ta [zaLen + 1]float32
	for i := range t1 {
		d := float64(i) * z1Step
		t1[i] = float32(1 / (1 + math.Exp(8.0/5*(d-5))))
	}
	for i := range ta {
		d := float64(i) / zaLen * math.Pi
		ta[i] = float32(1 / (1 + math.Exp(30*(d-math.Pi/12))))
	}
	return t1, ta
}()

// zSinTab[i] is the angle term at the angle whose sine is i/zSinLen (the
// angle below 90 degrees). Read-only after init.
const zSinLen = 1024

var zSinTab = func() (t [zSinLen + 1]float32) {
	for i := range t {
		d := math.Asin(float64(i) / zSinLen)
		t[i] = float32(1 / (1 + math.Exp(30*(d-math.Pi/12))))
	}
	return t
}()

func zAngle(d float32) float32 {
	if d < 0 {
		d = -d
	}
	i := int(d * (zaLen / math.Pi))
	if i > zaLen {
		i = zaLen
	}
	return zaTab[i]
}

// sqrtTab[i] = sqrt(i) for popcounts.
var sqrtTab = func() []float32 {
	t := make([]float32, cylWords*64+1)
	for i := range t {
		t[i] = float32(math.Sqrt(float64(i)))
	}
	return t
}()

// match compares two cylinder sets and returns a similarity in [0, 1].
func match(a, b *cylinders, s *scratch) float64 {
	na, nb := a.n(), b.n()
	if na == 0 || nb == 0 {
		return 0
	}
	s.pairs = s.pairs[:0]
	// Local similarities of every pair of cylinders whose directions differ
	// by at most maxDirGap, keeping the best pair of every row and column.
	// A pair's similarity is 1 - ratio with ratio = sqrt(hamming) /
	// (norm_a + norm_b); the best of a row or column is the smallest ratio,
	// kept as a word that orders like it: the ratio's bits (non-negative
	// floats order like their bits) above, the pair's place in visiting
	// order below, so that min picks it without a branch and a tie goes to
	// the pair visited first. noPair is ratio 1, similarity 0.
	const noPair = uint64(0x3f800000) << 32
	if cap(s.colKey) < nb {
		s.colKey, s.hd = make([]uint64, nb), make([]uint32, nb)
	}
	colKey := s.colKey[:nb]
	for j := range colKey {
		colKey[j] = noPair
	}
	if cap(s.rowArg) < na {
		s.rowArg = make([]int32, na)
	}
	rowArgs := s.rowArg[:na]
	bdir, bnorm, bbits := b.dir[:nb], b.norm[:nb], b.bits[:nb]
	// The cylinders of a are sorted by direction too, so each window bound
	// only moves forward from row to row: four pointers, one per bound and
	// wrap case, each the first j with bdir[j] >= its bound.
	var pLo, pHi, pLoWrap, pHiWrap int
	// Background normalisation, for a comparison of two extracted
	// templates (both carry ring descriptors; a gallery's entries do not,
	// so a 1:N search goes without it): the mean of every local similarity
	// computed here is how alike this pair's cylinders are by chance, which
	// differs between sensors (the synthetic sets score highest), and the
	// candidates' similarities are divided by it.
	withBG := a.desc != nil && b.desc != nil
	var bgSum float32
	bgN := 0
	for i := range na {
		ab := &a.bits[i]
		ad, an := a.dir[i], a.norm[i]
		var runs [2][2]int
		lo, hi := ad-maxDirGap, ad+maxDirGap
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
		// A row's pairs are visited in the order j - base (mod nb).
		base := runs[0][0]
		rowKey, ci := noPair, uint64(i)
		for k, r := range runs {
			off := uint64(nb*k - base)
			hd := s.hd[:r[1]-r[0]]
			hammingRun(ab, bbits[r[0]:r[1]], hd)
			if withBG {
				// The same loop, also summing the ratios (a pair of empty
				// cylinders gives NaN, left out).
				for jj, cx := range hd {
					j := r[0] + jj
					rf := sqrtTab[cx] / (an + bnorm[j])
					if rf <= 1 {
						bgSum += rf
						bgN++
					}
					ratio := uint64(math.Float32bits(rf)) << 32
					rowKey = min(rowKey, ratio|(uint64(j)+off))
					colKey[j] = min(colKey[j], ratio|ci)
				}
				continue
			}
			for jj, cx := range hd {
				j := r[0] + jj
				ratio := uint64(math.Float32bits(sqrtTab[cx]/(an+bnorm[j]))) << 32
				rowKey = min(rowKey, ratio|(uint64(j)+off))
				colKey[j] = min(colKey[j], ratio|ci)
			}
		}
		rowArgs[i] = -1
		if rowKey < noPair {
			j := (int(uint32(rowKey)) + base) % nb
			rowArgs[i] = int32(j)
			s.pairs = append(s.pairs, pair{i, j, 1 - math.Float32frombits(uint32(rowKey>>32))})
		}
	}
	for j, key := range colKey {
		if i := int(uint32(key)); key < noPair && rowArgs[i] != int32(j) {
			s.pairs = append(s.pairs, pair{i, j, 1 - math.Float32frombits(uint32(key>>32))})
		}
	}
	if withBG && bgN > 0 {
		if mu := 1 - bgSum/float32(bgN); mu > 0.01 {
			f := bgRef / mu
			for k := range s.pairs {
				p := &s.pairs[k]
				p.s = min(1, p.s*f)
			}
		}
	}
	// Minutia types: the same known type raises a pair's similarity, a
	// different one lowers it (typeWeight), before the one-to-one choice.
	atyp, btyp := a.typ[:na], b.typ[:nb]
	for k := range s.pairs {
		p := &s.pairs[k]
		ta, tb := atyp[p.a], btyp[p.b]
		switch {
		case ta == TypeOther || tb == TypeOther:
		case ta == tb:
			p.s = min(1, p.s*(1+typeWeight))
		default:
			p.s *= 1 - typeWeight
		}
	}
	// Ring descriptors: the ridge orientation around both minutiae, in
	// each minutia's frame; agreement raises a pair, disagreement lowers it.
	if a.desc != nil && b.desc != nil {
		ad, bd := a.desc[:na], b.desc[:nb]
		for k := range s.pairs {
			p := &s.pairs[k]
			if w, ok := descWeight(ad[p.a], bd[p.b]); ok {
				p.s = min(1, p.s*w)
			}
		}
	}
	np := npTab[min(na, nb, len(npTab)-1)]
	// Greedy one-to-one choice of the best pairs: sort keys holding the
	// similarity bits (order-preserving for non-negative floats) and indices.
	keys := s.keys[:0]
	for _, p := range s.pairs {
		keys = append(keys, uint64(math.Float32bits(p.s))<<32|uint64(0xffff-p.a)<<16|uint64(0xffff-p.b))
	}
	// The greedy choice rarely looks past the best few dozen keys: put the
	// highest ones first and sort those; the rest are sorted only if the
	// walk reaches them (the whole is then in descending order).
	head := min(len(keys), 3*maxRelax)
	selectHighest(keys, head)
	slices.Sort(keys[:head])
	slices.Reverse(keys[:head])
	s.keys = keys
	sel := s.pairs[:0]
	var usedA, usedB [4]uint64 // at most 256 cylinders per template
	for k := range keys {
		if k == head {
			slices.Sort(keys[head:])
			slices.Reverse(keys[head:])
		}
		key := keys[k]
		pa, pb := 0xffff-int(key>>16&0xffff), 0xffff-int(key&0xffff)
		if pa >= 256 || pb >= 256 || usedA[pa/64]>>(pa%64)&1 != 0 || usedB[pb/64]>>(pb%64)&1 != 0 {
			continue
		}
		usedA[pa/64] |= 1 << (pa % 64)
		usedB[pb/64] |= 1 << (pb % 64)
		sel = append(sel, pair{pa, pb, math.Float32frombits(uint32(key >> 32))})
		if len(sel) == maxRelax {
			break
		}
	}
	nr := len(sel)
	if nr == 0 {
		return 0
	}
	// Relaxation: pairs that agree geometrically with other strong pairs
	// keep their similarity, and gain when many do; isolated ones lose it.
	// The geometry of each selected pair is gathered first; most pairs of
	// pairs are incompatible (nearly all between impostors), so only the
	// non-zero compatibilities are kept, as edges, and the relaxation walks
	// those.
	if cap(s.geo) < nr {
		s.geo = make([]pairGeo, maxRelax)
	}
	geo := s.geo[:nr]
	for t, p := range sel {
		rot := a.dir[p.a] - b.dir[p.b]
		if rot >= math.Pi {
			rot -= 2 * math.Pi
		} else if rot < -math.Pi {
			rot += 2 * math.Pi
		}
		geo[t] = pairGeo{ax: a.x[p.a], ay: a.y[p.a], bx: b.x[p.b], by: b.y[p.b], rot: rot,
			cr: a.cos[p.a]*b.cos[p.b] + a.sin[p.a]*b.sin[p.b], sr: a.sin[p.a]*b.cos[p.b] - a.cos[p.a]*b.sin[p.b]}
	}
	edges := s.edges[:0]
	var dist [maxRelax][2]float32
	for t := range nr {
		gt := &geo[t]
		// Distances first, without a branch, so that the square roots
		// overlap; then the (rarer) compatible pairs.
		for k := t + 1; k < nr; k++ {
			gk := &geo[k]
			dxa, dya := gk.ax-gt.ax, gk.ay-gt.ay
			dxb, dyb := gk.bx-gt.bx, gk.by-gt.by
			dist[k] = [2]float32{float32(math.Sqrt(float64(dxa*dxa + dya*dya))), float32(math.Sqrt(float64(dxb*dxb + dyb*dyb)))}
		}
		for k := t + 1; k < nr; k++ {
			da, db := dist[k][0], dist[k][1]
			d1 := da - db
			if d1 < 0 {
				d1 = -d1
			}
			if d1 >= z1Len*z1Step {
				continue
			}
			gk := &geo[k]
			dxa, dya := gk.ax-gt.ax, gk.ay-gt.ay
			dxb, dyb := gk.bx-gt.bx, gk.by-gt.by
			r := z1Tab[int(d1*(1/z1Step))]
			// The rotation of one pair against the other's.
			dr := gt.rot - gk.rot
			if dr > math.Pi {
				dr -= 2 * math.Pi
			} else if dr < -math.Pi {
				dr += 2 * math.Pi
			}
			r *= zAngle(dr)
			// The angle between each minutia's direction and the segment to
			// the other, compared across the two templates: the angle from
			// segment a to segment b plus the pair's rotation (cos and sin
			// cr, sr), taken from its sine when the cosine is positive
			// (beyond 90 degrees the term is 0 to float precision).
			if pd := da * db; pd > 0 {
				dot := dxa*dxb + dya*dyb
				crs := dxa*dyb - dya*dxb
				c := dot*gt.cr - crs*gt.sr
				if c <= 0 {
					continue
				}
				sn := (dot*gt.sr + crs*gt.cr) / pd
				if sn < 0 {
					sn = -sn
				}
				r *= zSinTab[min(int(sn*zSinLen), zSinLen)]
			} else {
				r *= zaTab[0]
			}
			if r > 0 {
				edges = append(edges, edge{int32(t), int32(k), r})
			}
		}
	}
	s.edges = edges
	if cap(s.lambda) < nr {
		s.lambda, s.lambda2, s.acc = make([]float32, maxRelax), make([]float32, maxRelax), make([]float32, maxRelax)
	}
	l, l2, acc := s.lambda[:nr], s.lambda2[:nr], s.acc[:nr]
	for t := range nr {
		l[t] = sel[t].s
	}
	if nr > 1 {
		inv := relaxInv[nr]
		for range relaxIters {
			clear(acc)
			for _, e := range edges {
				acc[e.t] += e.r * l[e.k]
				acc[e.k] += e.r * l[e.t]
			}
			for t := range nr {
				l2[t] = relaxW*l[t] + inv*acc[t]
			}
			l, l2 = l2, l
		}
	}
	// Keep the np pairs whose similarity survived relaxation best.
	eff := s.eff[:0]
	for t := range nr {
		eff = append(eff, l[t]/sel[t].s)
	}
	s.eff = eff
	idx := s.idx[:0]
	for t := range nr {
		idx = append(idx, t)
	}
	for x := 1; x < len(idx); x++ { // insertion sort, descending efficiency
		for y := x; y > 0 && eff[idx[y]] > eff[idx[y-1]]; y-- {
			idx[y], idx[y-1] = idx[y-1], idx[y]
		}
	}
	s.idx = idx
	sum := float64(0)
	// Texture weights (texture.go): each pair counts sqrt(wa wb) times its
	// similarity; a template without them has weight 1 throughout.
	switch {
	case a.tex != nil && b.tex != nil:
		for _, t := range idx[:min(np, nr)] {
			sum += float64(l[t]) * math.Sqrt(float64(a.tex[sel[t].a]*b.tex[sel[t].b]))
		}
	case a.tex != nil:
		for _, t := range idx[:min(np, nr)] {
			sum += float64(l[t]) * math.Sqrt(float64(a.tex[sel[t].a]))
		}
	case b.tex != nil:
		for _, t := range idx[:min(np, nr)] {
			sum += float64(l[t]) * math.Sqrt(float64(b.tex[sel[t].b]))
		}
	default:
		for _, t := range idx[:min(np, nr)] {
			sum += float64(l[t])
		}
	}
	// Pairs that reinforce each other can end above their initial
	// similarity; the score is capped at 1.
	return min(1, sum/float64(np))
}

// Score compares two templates and returns a similarity in [0, 1]: 0 for
// unrelated prints, higher for more alike. It is deterministic, and
// Score(a, b) and Score(b, a) differ only by the asymmetry of the pair
// selection (in practice by a few hundredths at most). Use VerifyFMR or
// VerifyThreshold (the 1:1 calibration) to interpret it; FMR and Threshold
// are for a gallery's scores. Score is safe for concurrent use.
func Score(a, b *Template) float64 {
	var s scratch
	return match(&a.cyl, &b.cyl, &s)
}

// The contributions of a neighbour to a cylinder cell are smooth functions of
// one variable each; they are tabulated once (read-only after init) and
// interpolated linearly, which changes them by under 1e-6 and makes template
// construction (and so gallery loading) about twice as fast as calling Erf
// and Exp per term.
const weightSteps = 4096

var (
	dirTable     = buildDirTable()
	spatialTable = buildSpatialTable()
)

// directionalWeight is the exact weight of layer k for a direction
// difference dtheta (Cappelli et al., eq. 7).
func directionalWeight(dtheta float64, k int) float64 {
	ck := -math.Pi + (float64(k)+0.5)*mccDeltaD
	d := angleDiff(ck, dtheta)
	s := mccSigmaD * math.Sqrt2
	return 0.5 * (math.Erf((d+mccDeltaD/2)/s) - math.Erf((d-mccDeltaD/2)/s))
}

func buildDirTable() [][mccND]float64 {
	t := make([][mccND]float64, weightSteps+1)
	for i := range t {
		dt := -math.Pi + 2*math.Pi*float64(i)/weightSteps
		for k := range mccND {
			t[i][k] = directionalWeight(dt, k)
		}
	}
	return t
}

// directionalWeights interpolates the layer weights for dtheta in [-π, π].
func directionalWeights(dtheta float64) [mccND]float64 {
	x := (dtheta + math.Pi) / (2 * math.Pi) * weightSteps
	i := min(max(int(x), 0), weightSteps-1)
	f := x - float64(i)
	var w [mccND]float64
	for k := range mccND {
		w[k] = dirTable[i][k] + f*(dirTable[i+1][k]-dirTable[i][k])
	}
	return w
}

// spatialReach2 is the squared distance beyond which a neighbour adds nothing.
const spatialReach2 = 9 * mccSigmaS * mccSigmaS

func buildSpatialTable() []float64 {
	t := make([]float64, weightSteps+1)
	norm := 1 / (mccSigmaS * math.Sqrt(2*math.Pi))
	for i := range t {
		d2 := spatialReach2 * float64(i) / weightSteps
		t[i] = norm * math.Exp(-d2/(2*mccSigmaS*mccSigmaS))
	}
	return t
}

// spatialWeight interpolates the Gaussian weight of a squared distance
// d2 in [0, spatialReach2].
func spatialWeight(d2 float64) float64 {
	x := d2 / spatialReach2 * weightSteps
	i := min(max(int(x), 0), weightSteps-1)
	f := x - float64(i)
	return spatialTable[i] + f*(spatialTable[i+1]-spatialTable[i])
}
