package iris

import (
	"context"
	"fmt"

	"math/bits"
	"sync"

	"github.com/assent-registry/assent/internal/gallery"
)

// DefaultCoarseStride, DefaultCoarseShiftStep and DefaultCoarseMargin
// configure the coarse pass: it compares every DefaultCoarseStride-th pair of
// code and mask words at every DefaultCoarseShiftStep-th shift (iris codes
// are smooth along the angle, so a neighbouring shift nearly matches too) and
// sends an entry to the full comparison only when its coarse distance is at
// most threshold + DefaultCoarseMargin.
const (
	DefaultCoarseStride    = 3
	DefaultCoarseShiftStep = 2
	DefaultCoarseMargin    = 0.02
)

// Gallery holds enrolled iris codes packed for a fast 1:N scan: each entry is
// 2*W contiguous uint64 words, code and mask interleaved (code word i, mask
// word i, ...), in one slice for the whole gallery, with no pointer per
// entry. The coarse pass reads every CoarseStride-th word pair of the same
// slice, so it costs no memory.
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

	mu    sync.RWMutex
	keys  []string
	index map[string]int
	data  []uint64 // len(keys) * 2*words
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
	return &Gallery{
		m: opt.Matcher, encoder: opt.Encoder, rows: opt.Rows, cols: opt.Cols,
		words: w, coarseStride: opt.CoarseStride, coarseStep: opt.CoarseStep, coarseWords: (w + opt.CoarseStride - 1) / opt.CoarseStride,
		index: make(map[string]int),
	}
}

// BytesPerEntry is the memory one enrolled eye takes in the packed array,
// not counting its key.
func (g *Gallery) BytesPerEntry() int { return 8 * 2 * g.words }

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
	i, ok := g.index[key]
	if !ok {
		i = len(g.keys)
		g.keys = append(g.keys, key)
		g.index[key] = i
		g.data = append(g.data, make([]uint64, 2*g.words)...)
	}
	pack(g.data[i*2*g.words:(i+1)*2*g.words], t.Code, t.Mask, 1)
	return nil
}

// Remove deletes the entry under key and reports whether there was one. The
// last entry moves into the freed slot, so removal is O(W).
func (g *Gallery) Remove(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	i, ok := g.index[key]
	if !ok {
		return false
	}
	last := len(g.keys) - 1
	if i != last {
		g.keys[i] = g.keys[last]
		g.index[g.keys[i]] = i
		copy(g.data[i*2*g.words:(i+1)*2*g.words], g.data[last*2*g.words:])
	}
	delete(g.index, key)
	g.keys = g.keys[:last]
	g.data = g.data[:last*2*g.words]
	return true
}

// pack interleaves every stride-th word of code and mask into dst.
func pack(dst, code, mask []uint64, stride int) {
	j := 0
	for i := 0; i < len(code); i += stride {
		dst[j] = code[i]
		dst[j+1] = mask[i]
		j += 2
	}
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
		out[i] = Candidate{Key: g.keys[c.Index], Distance: 1 - c.Score}
	}
	return out, nil
}

// prepared is a probe with every shift precomputed and packed like gallery
// entries: shifts*2*W words for the full pass, and coarseShifts*2*Wc for
// the coarse pass (every coarseStep-th shift, always including shift 0).
type prepared struct {
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
	p := prepared{shifts: n, full: make([]uint64, n*2*g.words), coarseShifts: nc, coarse: make([]uint64, nc*2*g.coarseWords)}
	rc := make([]uint64, g.words)
	rm := make([]uint64, g.words)
	for k := range n {
		s := k - r
		rotate(rc, t.Code, t.Rows, t.Cols, s)
		rotate(rm, t.Mask, t.Rows, t.Cols, s)
		pack(p.full[k*2*g.words:(k+1)*2*g.words], rc, rm, 1)
		if (s-first)%g.coarseStep == 0 {
			kc := (s - first) / g.coarseStep
			pack(p.coarse[kc*2*g.coarseWords:(kc+1)*2*g.coarseWords], rc, rm, g.coarseStride)
		}
	}
	return p
}

// best returns the smallest rescaled distance between one packed entry e and
// every packed shift of the probe; minBits and normBits are the matcher's,
// scaled for the pass. This is the scan kernel.
func best(probe, e []uint64, shifts int, minBits int, normBits float64) float64 {
	stride := len(e)
	bestD := 1.0
	for k := range shifts {
		p := probe[k*stride : (k+1)*stride]
		p = p[:len(e)]
		var diff, n int
		for i := 0; i+1 < len(e); i += 2 {
			m := p[i+1] & e[i+1]
			diff += bits.OnesCount64((p[i] ^ e[i]) & m)
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

func (g *Gallery) scorer(pr prepared, threshold float64) gallery.RangeScorer {
	stride := 2 * g.words
	minBits, norm := g.m.MinBits, float64(g.m.NormBits)
	return func(lo, hi int, emit func(int, float64)) {
		for i := lo; i < hi; i++ {
			if d := best(pr.full, g.data[i*stride:(i+1)*stride], pr.shifts, minBits, norm); d <= threshold {
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
	stride := 2 * g.words
	frac := float64(g.coarseWords) / float64(g.words)
	minBits, norm := g.m.MinBits, float64(g.m.NormBits)
	cmin, cnorm := int(float64(minBits)*frac), norm*frac
	return func(lo, hi int, emit func(int, float64)) {
		for i := lo; i < hi; i++ {
			e := g.data[i*stride : (i+1)*stride]
			if bestStrided(pr.coarse, e, g.coarseStride, pr.coarseShifts, cmin, cnorm) > coarseThreshold {
				continue
			}
			if d := best(pr.full, g.data[i*stride:(i+1)*stride], pr.shifts, minBits, norm); d <= threshold {
				emit(i, 1-d)
			}
		}
	}
}
