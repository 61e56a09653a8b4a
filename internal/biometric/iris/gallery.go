package iris

import (
	"context"
	"fmt"
	"math"

	"math/bits"
	"sync"

	"github.com/assent-registry/assent/internal/gallery"
)

// DefaultCoarseStride, DefaultCoarseShiftStep and DefaultCoarseMargin
// configure the coarse pass: it compares every DefaultCoarseStride-th pair of
// code and mask words at every DefaultCoarseShiftStep-th shift (iris codes
// are smooth along the angle, so a neighbouring shift nearly matches too) and
// sends an entry to the full comparison only when its coarse distance is at
// most threshold + DefaultCoarseMargin. Each shift is first compared on half
// of those words (every other one); only a shift whose distance on that half
// is at most threshold + DefaultCoarseHalfMargin is compared on the other
// half.
const (
	DefaultCoarseStride     = 3
	DefaultCoarseShiftStep  = 2
	DefaultCoarseMargin     = 0.02
	DefaultCoarseHalfMargin = 0.06
)

// Gallery holds enrolled iris codes packed for a fast 1:N scan: each entry is
// 2*W uint64 words, code and mask interleaved (a code word, its mask word,
// ...), with no pointer per entry. The word pairs the coarse pass compares
// (every CoarseStride-th) are kept apart from the others, all entries' back
// to back, so the coarse pass reads one dense stream; the split costs no
// memory.
//
// A Gallery is safe for concurrent use: Add and Remove take a write lock,
// Search a read lock for the duration of the scan. It exists for
// deduplication inside an enrolment the person consented to; keys are opaque
// references chosen by the caller, never personal data.
type Gallery struct {
	m            Matcher
	encoder      int
	rows, cols   int
	words        int // W: words in one code
	coarseStride int
	coarseStep   int // shift step of the coarse pass
	coarseWords  int // words of one code in the coarse pass
	// order lists the code words in the packed layout of an entry: the
	// coarse pass's words (0, stride, 2*stride, ...) first, so the coarse
	// pass reads one contiguous prefix of each entry, then the others. The
	// full comparison sums over every word, in any order.
	order []int

	mu sync.RWMutex
	// keys[i] is entry i's key, index numbers the entries by key: no
	// pointer in either (gallery.Key), so the collector does not visit
	// them, however many entries there are.
	keys  []gallery.Key
	index map[gallery.Key]int
	names gallery.Names // keys over 23 bytes
	// Entry i is head[i*2*coarseWords:][:2*coarseWords] followed by
	// tail[i*2*(words-coarseWords):][:2*(words-coarseWords)]: the coarse
	// pass streams through head alone.
	head, tail []uint64
	// q[i] is entry i's corrRoot (the square root of its code's
	// RowCorrelation), from which each comparison's degrees of freedom
	// come (pairNorm): 4 bytes an entry.
	q []float32
}

// GalleryOptions configures NewGallery. Zero fields take the defaults.
type GalleryOptions struct {
	Matcher      Matcher // zero value means DefaultMatcher()
	Rows, Cols   int     // code geometry; zero means DefaultRows, DefaultCols
	Encoder      int     // encoder version; zero means EncoderVersion
	CoarseStride int     // zero means DefaultCoarseStride
	CoarseStep   int     // zero means DefaultCoarseShiftStep
}

// NewGallery returns an empty gallery for templates of one geometry.
func NewGallery(opt GalleryOptions) *Gallery {
	if opt.Matcher == (Matcher{}) {
		opt.Matcher = DefaultMatcher()
	}
	if opt.Rows == 0 {
		opt.Rows = DefaultRows
	}
	if opt.Cols == 0 {
		opt.Cols = DefaultCols
	}
	if opt.Encoder == 0 {
		opt.Encoder = EncoderVersion
	}
	if opt.CoarseStride <= 0 {
		opt.CoarseStride = DefaultCoarseStride
	}
	if opt.CoarseStep <= 0 {
		opt.CoarseStep = DefaultCoarseShiftStep
	}
	w := (opt.Rows*opt.Cols*2 + 63) / 64
	// The coarse words, every other one first (the first half of the
	// coarse pass, spread over the whole code), then the rest of the coarse
	// words, then every other word.
	var order []int
	for half := range 2 {
		for i, k := 0, 0; i < w; i, k = i+opt.CoarseStride, k+1 {
			if k%2 == half {
				order = append(order, i)
			}
		}
	}
	for i := range w {
		if i%opt.CoarseStride != 0 {
			order = append(order, i)
		}
	}
	return &Gallery{
		m: opt.Matcher, encoder: opt.Encoder, rows: opt.Rows, cols: opt.Cols,
		words: w, coarseStride: opt.CoarseStride, coarseStep: opt.CoarseStep, coarseWords: (w + opt.CoarseStride - 1) / opt.CoarseStride,
		order: order, index: make(map[gallery.Key]int),
	}
}

// packEntry packs a code and its mask as a gallery entry: word pairs
// (code, mask) in g.order.
func (g *Gallery) packEntry(dst, code, mask []uint64) {
	for j, w := range g.order {
		dst[2*j], dst[2*j+1] = code[w], mask[w]
	}
}

// coarsePart is the prefix of a packed entry that the coarse pass reads.
func (g *Gallery) coarsePart(e []uint64) []uint64 { return e[:2*g.coarseWords] }

// entry returns the two parts of entry i (coarse words, then the others).
func (g *Gallery) entry(i int) (head, tail []uint64) {
	hw, tw := 2*g.coarseWords, 2*(g.words-g.coarseWords)
	return g.head[i*hw : (i+1)*hw], g.tail[i*tw : (i+1)*tw]
}

// BytesPerEntry is the memory one enrolled eye takes in the packed array,
// not counting its key.
func (g *Gallery) BytesPerEntry() int { return 8*2*g.words + 4 }

// Bytes is the memory the packed codes and masks take (their capacity),
// not counting keys.
func (g *Gallery) Bytes() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return 8*(cap(g.head)+cap(g.tail)) + 4*cap(g.q)
}

// withSpare is the capacity kept for n words: a 64th more, so that the
// adds after a load append in place. An array exactly full makes the
// first add copy all of it under the gallery's lock (about 2 GB at a
// million people: 20 s with the heap at its limit, docs/scale.md).
func withSpare(n int) int { return n + n/64 }

// Trim drops most of the spare capacity of the gallery's arrays
// (appending one entry at a time leaves up to a quarter of them spare),
// copying each once, and keeps a 64th for the adds that follow: a load
// calls it at its end.
func (g *Gallery) Trim() {
	g.mu.Lock()
	defer g.mu.Unlock()
	// (Arrays sized by Grow already have their 64th and are not copied.)
	trim := func(s []uint64) []uint64 {
		if cap(s) <= withSpare(len(s))+len(s)/64 {
			return s
		}
		out := make([]uint64, len(s), withSpare(len(s)))
		copy(out, s)
		return out
	}
	g.head = trim(g.head)
	g.tail = trim(g.tail)
	if cap(g.q) > withSpare(len(g.q))+len(g.q)/64 {
		q := make([]float32, len(g.q), withSpare(len(g.q)))
		copy(q, g.q)
		g.q = q
	}
	if cap(g.keys) > len(g.keys) {
		g.keys = exact(g.keys)
	}
}

// Len is the number of entries.
func (g *Gallery) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.keys)
}

func (g *Gallery) fits(t *Template) bool {
	return t.Encoder == g.encoder && t.Rows == g.rows && t.Cols == g.cols && t.valid()
}

// Add stores a copy of t under key, replacing any entry with that key.
func (g *Gallery) Add(key string, t *Template) error {
	if !g.fits(t) {
		return fmt.Errorf("iris.Gallery.Add: %w", ErrIncompatible)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	k := g.names.Key(key)
	i, ok := g.index[k]
	if !ok {
		i = len(g.keys)
		g.keys = append(g.keys, k)
		g.index[k] = i
		g.head = append(g.head, make([]uint64, 2*g.coarseWords)...)
		g.tail = append(g.tail, make([]uint64, 2*(g.words-g.coarseWords))...)
		g.q = append(g.q, 0)
	}
	g.q[i] = float32(corrRoot(t.RowCorrelation()))
	e := make([]uint64, 2*g.words)
	g.packEntry(e, t.Code, t.Mask)
	h, tl := g.entry(i)
	copy(h, e)
	copy(tl, e[len(h):])
	return nil
}

// Remove deletes the entry under key and reports whether there was one. The
// last entry moves into the freed slot, so removal is O(W).
func (g *Gallery) Remove(s string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	key, ok := g.names.Lookup(s)
	if !ok {
		return false
	}
	i, ok := g.index[key]
	if !ok {
		return false
	}
	last := len(g.keys) - 1
	if i != last {
		g.keys[i] = g.keys[last]
		g.index[g.keys[i]] = i
		h, t := g.entry(i)
		lh, lt := g.entry(last)
		copy(h, lh)
		copy(t, lt)
		g.q[i] = g.q[last]
	}
	delete(g.index, key)
	g.keys = g.keys[:last]
	g.head = g.head[:last*2*g.coarseWords]
	g.tail = g.tail[:last*2*(g.words-g.coarseWords)]
	g.q = g.q[:last]
	return true
}

// Candidate is a gallery entry within the search threshold.
type Candidate struct {
	Key      string
	Distance float64 // rescaled Hamming distance, as Matcher.Distance
}

// SearchOptions tunes Search. The zero value scans exhaustively on every core.
type SearchOptions struct {
	Coarse       bool    // run the coarse pass first
	CoarseMargin float64 // zero means DefaultCoarseMargin
	Limit        int     // at most this many candidates, best first; 0 = all
	Workers      int     // goroutines; 0 = GOMAXPROCS
}

// Search compares probe with every entry (all shifts) and returns the entries
// whose distance is at most threshold, best first. It is meant for
// deduplication during a consented enrolment.
func (g *Gallery) Search(ctx context.Context, probe *Template, threshold float64, opt SearchOptions) ([]Candidate, error) {
	const op = "iris.Gallery.Search"
	if !g.fits(probe) {
		return nil, fmt.Errorf("%s: %w", op, ErrIncompatible)
	}
	pr := g.prepare(probe)
	g.mu.RLock()
	defer g.mu.RUnlock()
	var scorer gallery.RangeScorer
	if opt.Coarse {
		margin := opt.CoarseMargin
		if margin == 0 {
			margin = DefaultCoarseMargin
		}
		scorer = g.coarseScorer(pr, threshold, threshold+margin)
	} else {
		scorer = g.scorer(pr, threshold)
	}
	found, err := gallery.Scan(ctx, len(g.keys), scorer, gallery.Options{Workers: opt.Workers, Limit: opt.Limit})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	out := make([]Candidate, len(found))
	for i, c := range found {
		out[i] = Candidate{Key: g.names.Text(g.keys[c.Index]), Distance: 1 - c.Score}
	}
	return out, nil
}

// prepared is a probe with every shift precomputed and packed like gallery
// entries: shifts*2*W words for the full pass, and coarseShifts*2*Wc for
// the coarse pass (every coarseStep-th shift, always including shift 0).
type prepared struct {
	q            float64 // the probe's corrRoot
	shifts       int
	full         []uint64
	coarseShifts int
	coarse       []uint64
}

func (g *Gallery) prepare(t *Template) prepared {
	n := 2*g.m.Rotations + 1
	r := g.m.Rotations
	first := -(r / g.coarseStep) * g.coarseStep
	nc := 2*(r/g.coarseStep) + 1
	p := prepared{q: corrRoot(t.RowCorrelation()), shifts: n, full: make([]uint64, n*2*g.words), coarseShifts: nc, coarse: make([]uint64, nc*2*g.coarseWords)}
	rc := make([]uint64, g.words)
	rm := make([]uint64, g.words)
	for k := range n {
		s := k - r
		rotate(rc, t.Code, t.Rows, t.Cols, s)
		rotate(rm, t.Mask, t.Rows, t.Cols, s)
		g.packEntry(p.full[k*2*g.words:(k+1)*2*g.words], rc, rm)
		if (s-first)%g.coarseStep == 0 {
			kc := (s - first) / g.coarseStep
			copy(p.coarse[kc*2*g.coarseWords:(kc+1)*2*g.coarseWords], p.full[k*2*g.words:])
		}
	}
	return p
}

// best returns the smallest rescaled distance between one packed entry e and
// every packed shift of the probe; minBits and normBits are the matcher's,
// scaled for the pass. This is the scan kernel.
func best(probe, e []uint64, shifts int, minBits int, normBits float64) float64 {
	return best2(probe, e, nil, shifts, minBits, normBits)
}

// best2 is best for an entry held in two parts, head and tail, in the
// order of the probe's packed shifts.
func best2(probe, head, tail []uint64, shifts int, minBits int, normBits float64) float64 {
	stride := len(head) + len(tail)
	bestD := 1.0
	for k := range shifts {
		p := probe[k*stride : (k+1)*stride]
		diff, n := masked(p[:len(head)], head)
		d2, n2 := masked(p[len(head):], tail)
		diff, n = diff+d2, n+n2
		if n < minBits || n == 0 {
			continue
		}
		if d := rescale(diff, n, normBits); d < bestD {
			bestD = d
		}
	}
	return bestD
}

func (g *Gallery) scorer(pr prepared, threshold float64) gallery.RangeScorer {
	minBits, norm := g.m.MinBits, float64(g.m.NormBits)
	return func(lo, hi int, emit func(int, float64)) {
		for i := lo; i < hi; i++ {
			h, t := g.entry(i)
			if d := best2(pr.full, h, t, pr.shifts, minBits, pairNorm(norm, pr.q, float64(g.q[i]))); d <= threshold {
				emit(i, 1-d)
			}
		}
	}
}

// bestStrided is best for the coarse pass: probe holds packed word pairs
// 0, stride, 2*stride, ... of each shift, and e is a full packed entry.
func bestStrided(probe, e []uint64, stride, shifts int, minBits int, normBits float64) float64 {
	pl := len(probe) / shifts
	step := 2 * stride
	bestD := 1.0
	for k := range shifts {
		p := probe[k*pl : (k+1)*pl]
		var diff, n int
		for i, j := 0, 0; i+1 < len(p) && j+1 < len(e); i, j = i+2, j+step {
			m := p[i+1] & e[j+1]
			diff += bits.OnesCount64((p[i] ^ e[j]) & m)
			n += bits.OnesCount64(m)
		}
		if n < minBits || n == 0 {
			continue
		}
		if d := rescale(diff, n, normBits); d < bestD {
			bestD = d
		}
	}
	return bestD
}

func (g *Gallery) coarseScorer(pr prepared, threshold, coarseThreshold float64) gallery.RangeScorer {
	minBits, norm := g.m.MinBits, float64(g.m.NormBits)
	t1 := max(coarseThreshold, threshold+DefaultCoarseHalfMargin)
	ck := g.coarseKernel(pr.coarseShifts, coarseThreshold, t1)
	return func(lo, hi int, emit func(int, float64)) {
		for i := lo; i < hi; i++ {
			h, t := g.entry(i)
			pn := pairNorm(norm, pr.q, float64(g.q[i]))
			if !ck.pass(pr.coarse, h, float32(math.Sqrt(float64(g.m.NormBits)/pn))) {
				continue
			}
			if d := best2(pr.full, h, t, pr.shifts, minBits, pn); d <= threshold {
				emit(i, 1-d)
			}
		}
	}
}

// coarseKernel is the coarse pass's test for one search: does some coarse
// shift of the probe lie within t of an entry's coarse part, its first half
// having been within t1 on the first half of the words?
type coarseKernel struct {
	shifts  int
	half    int  // words of the coarse part in its first half
	filter1 bool // the first-half test is on
	// A distance of d differing bits over n compared, for an entry whose
	// degrees-of-freedom factor is f (sqrt(NormBits / pairNorm)), is at
	// most the threshold when (n - 2d) f >= lim[n] (+Inf when n is below
	// the minimum): lim1 for the first half (threshold t1), lim for the
	// whole coarse part (t). One multiplication per shift, no square root.
	lim1, lim []float32
}

// coarseKernel returns the coarse test of a search whose coarse threshold
// is t, with t1 for the first half (t1 >= 0.5 turns the first-half test
// off).
func (g *Gallery) coarseKernel(shifts int, t, t1 float64) coarseKernel {
	halfWords := (g.coarseWords + 1) / 2
	frac := float64(g.coarseWords) / float64(g.words)
	frac1 := float64(halfWords) / float64(g.words)
	m := g.m
	norm2, norm1 := float64(m.NormBits)*frac, float64(m.NormBits)*frac1
	min2, min1 := int(float64(m.MinBits)*frac), int(float64(m.MinBits)*frac1)
	c := coarseKernel{shifts: shifts, half: 2 * halfWords, filter1: t1 < 0.5, lim: coarseLimits(64*g.coarseWords, min2, norm2, t)}
	if c.filter1 {
		c.lim1 = coarseLimits(64*halfWords, min1, norm1, t1)
	}
	return c
}

// coarseLimits returns, for every count n of compared bits up to bits,
// the bound 2 (0.5 - t) sqrt(n norm) that (n - 2d) f must reach for the
// distance 0.5 - (0.5 - d/n) sqrt(n / norm) f to be at most t, less a
// millionth so that rounding never drops a pair the exact distance keeps
// (+Inf when n < minBits or n is 0: nothing passes).
func coarseLimits(bits, minBits int, norm, t float64) []float32 {
	lim := make([]float32, bits+1)
	for n := range lim {
		switch {
		case n == 0 || n < minBits || t < 0: // (distances are clamped at 0)
			lim[n] = float32(math.Inf(1))
			continue
		case t >= 1: // (and at 1)
			lim[n] = float32(math.Inf(-1))
			continue
		}
		v := 2 * (0.5 - t) * math.Sqrt(float64(n)*norm)
		lim[n] = float32(v - 1e-6*math.Abs(v) - 1e-6)
	}
	return lim
}

// pass runs the test on the coarse part e of an entry whose factor is f.
// It stops at the first shift that passes.
func (c *coarseKernel) pass(probe, e []uint64, f float32) bool {
	pl := len(probe) / c.shifts
	e1, e2 := e[:c.half], e[c.half:]
	for k := range c.shifts {
		p := probe[k*pl : k*pl+len(e)]
		d, n := masked(p[:c.half], e1)
		if c.filter1 && float32(n-2*d)*f < c.lim1[n] {
			continue
		}
		d2, n2 := masked(p[c.half:], e2)
		if float32(n+n2-2*(d+d2))*f >= c.lim[n+n2] {
			return true
		}
	}
	return false
}

// masked counts, over packed word pairs, the differing code bits where both
// masks are set, and the bits where both are set: the kernel of every
// comparison. On amd64 with POPCNT (every x86-64-v2 processor) it runs an
// assembly loop, since Go's bits.OnesCount64 checks for the instruction at
// every call unless the build targets GOAMD64=v2 or later (the coarse scan
// runs 1.9 times as fast); elsewhere maskedGo.
func masked(p, e []uint64) (diff, n int) {
	p = p[:len(e)]
	if usePOPCNT {
		return maskedPOPCNT(p, e)
	}
	return maskedGo(p, e)
}

// maskedGo is masked in Go, with two independent sums (instruction-level
// parallelism).
func maskedGo(p, e []uint64) (diff, n int) {
	p = p[:len(e)]
	m := len(e) &^ 3
	var d0, d1, n0, n1 int
	for i := 0; i < m; i += 4 {
		m0 := p[i+1] & e[i+1]
		m1 := p[i+3] & e[i+3]
		d0 += bits.OnesCount64((p[i] ^ e[i]) & m0)
		d1 += bits.OnesCount64((p[i+2] ^ e[i+2]) & m1)
		n0 += bits.OnesCount64(m0)
		n1 += bits.OnesCount64(m1)
	}
	for i := m; i+1 < len(e); i += 2 {
		mk := p[i+1] & e[i+1]
		d0 += bits.OnesCount64((p[i] ^ e[i]) & mk)
		n0 += bits.OnesCount64(mk)
	}
	return d0 + d1, n0 + n1
}

// exact returns a copy of s whose capacity is its length.
func exact[T any](s []T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	copy(out, s)
	return out
}
