package fingerprint

import (
	"context"
	"fmt"
	"sync"

	"github.com/assent-registry/assent/internal/gallery"
)

// Candidate is a gallery entry whose score reached a search threshold.
type Candidate struct {
	Key   string
	Score float64
}

// entry locates one template's cylinders in the gallery's flat slices.
type entry struct {
	off, n int32 // first cylinder and count
	dead   bool
}

// Gallery holds enrolled templates for 1:N search inside an enrolment, with
// every template's cylinders packed in shared contiguous slices (no pointer
// per template). Keys are caller-chosen strings (for example reference ids).
// Search runs on all cores through internal/gallery. A Gallery is safe for
// concurrent use: searches share a read lock, Add and Remove take the write
// lock. It keeps only templates, never images.
type Gallery struct {
	mu      sync.RWMutex
	keys    []string
	entries []entry
	index   map[string]int
	dead    int
	cyl     cylinders // all entries' cylinders, back to back
}

// NewGallery returns an empty gallery.
func NewGallery() *Gallery {
	return &Gallery{index: map[string]int{}}
}

// Len returns the number of templates held.
func (g *Gallery) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.index)
}

// Bytes returns the memory the packed templates take, in bytes.
func (g *Gallery) Bytes() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.cyl.sizeBytes()
}

// Add stores t under key, replacing any template already stored under it.
func (g *Gallery) Add(key string, t *Template) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if i, ok := g.index[key]; ok {
		g.entries[i].dead = true
		g.dead++
	}
	c := &t.cyl
	e := entry{off: int32(g.cyl.n()), n: int32(c.n())}
	g.cyl.x = append(g.cyl.x, c.x...)
	g.cyl.y = append(g.cyl.y, c.y...)
	g.cyl.dir = append(g.cyl.dir, c.dir...)
	g.cyl.cos = append(g.cyl.cos, c.cos...)
	g.cyl.sin = append(g.cyl.sin, c.sin...)
	g.cyl.norm = append(g.cyl.norm, c.norm...)
	g.cyl.bits = append(g.cyl.bits, c.bits...)
	g.index[key] = len(g.entries)
	g.entries = append(g.entries, e)
	g.keys = append(g.keys, key)
	g.compactLocked()
}

// Remove deletes the template stored under key and reports whether there was
// one. Its cylinders are dropped from memory once removed entries make up
// half the gallery.
func (g *Gallery) Remove(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	i, ok := g.index[key]
	if !ok {
		return false
	}
	delete(g.index, key)
	g.entries[i].dead = true
	g.dead++
	g.compactLocked()
	return true
}

func (g *Gallery) compactLocked() {
	if g.dead == 0 || 2*g.dead < len(g.entries) {
		return
	}
	old := g.cyl
	oldEntries, oldKeys := g.entries, g.keys
	g.cyl = cylinders{}
	g.entries, g.keys, g.dead = nil, nil, 0
	g.index = make(map[string]int, len(oldEntries))
	for i, e := range oldEntries {
		if e.dead {
			continue
		}
		v := old.view(e)
		ne := entry{off: int32(g.cyl.n()), n: e.n}
		g.cyl.x = append(g.cyl.x, v.x...)
		g.cyl.y = append(g.cyl.y, v.y...)
		g.cyl.dir = append(g.cyl.dir, v.dir...)
		g.cyl.cos = append(g.cyl.cos, v.cos...)
		g.cyl.sin = append(g.cyl.sin, v.sin...)
		g.cyl.norm = append(g.cyl.norm, v.norm...)
		g.cyl.bits = append(g.cyl.bits, v.bits...)
		g.index[oldKeys[i]] = len(g.entries)
		g.entries = append(g.entries, ne)
		g.keys = append(g.keys, oldKeys[i])
	}
}

// view returns the cylinders of one entry as sub-slices (no copy).
func (c *cylinders) view(e entry) cylinders {
	lo, hi := int(e.off), int(e.off+e.n)
	return cylinders{x: c.x[lo:hi], y: c.y[lo:hi], dir: c.dir[lo:hi], cos: c.cos[lo:hi], sin: c.sin[lo:hi],
		norm: c.norm[lo:hi], bits: c.bits[lo:hi]}
}

// SearchOptions tunes Search; the zero value uses every core and keeps every
// candidate.
type SearchOptions = gallery.Options

// Search compares probe with every template in the gallery and returns those
// scoring at least threshold, best first (ties by insertion order). It is
// meant for deduplication inside an enrolment the person consented to; it
// returns keys and scores only.
func (g *Gallery) Search(ctx context.Context, probe *Template, threshold float64, opt SearchOptions) ([]Candidate, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	scorer := func(lo, hi int, emit func(int, float64)) {
		var s scratch
		for i := lo; i < hi; i++ {
			e := g.entries[i]
			if e.dead {
				continue
			}
			v := g.cyl.view(e)
			if sc := match(&probe.cyl, &v, &s); sc >= threshold {
				emit(i, sc)
			}
		}
	}
	found, err := gallery.Scan(ctx, len(g.entries), scorer, opt)
	if err != nil {
		return nil, fmt.Errorf("fingerprint: search: %w", err)
	}
	out := make([]Candidate, len(found))
	for i, c := range found {
		out[i] = Candidate{Key: g.keys[c.Index], Score: c.Score}
	}
	return out, nil
}
