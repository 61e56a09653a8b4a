// Package gallery runs 1:N scans over all cores for any biometric modality.
//
// A modality keeps its gallery in whatever packed layout suits its matcher and
// hands Scan a function that scores a contiguous range of entries. Scan splits
// the gallery into chunks, runs them on a bounded set of goroutines and merges
// the candidates that reach the threshold, best first.
//
// Scan never sees templates, only indices and scores, so it cannot leak them.
package gallery

import (
	"cmp"
	"context"
	"runtime"
	"slices"
	"sync"
)

// Candidate is one gallery entry whose score reached the threshold.
type Candidate struct {
	Index int     // position in the gallery, as the modality numbered it
	Score float64 // higher means more alike
}

// RangeScorer scores gallery entries [lo, hi) and calls emit for every entry
// whose score is at least the threshold it was built for. It is called from
// several goroutines at once, each with its own disjoint range, so it must only
// read shared state. emit is safe to call from the goroutine it was given to.
type RangeScorer func(lo, hi int, emit func(index int, score float64))

// Options tunes a scan. The zero value uses every core and chunks of 1024.
type Options struct {
	Workers   int // goroutines; 0 means runtime.GOMAXPROCS(0)
	ChunkSize int // entries per unit of work; 0 means 1024
	Limit     int // keep at most this many best candidates; 0 keeps all
}

// Scan scores n entries with score and returns the emitted candidates sorted by
// descending score (ties by ascending index, so the result is deterministic).
// It stops early, returning ctx.Err(), when ctx is cancelled.
func Scan(ctx context.Context, n int, score RangeScorer, opt Options) ([]Candidate, error) {
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	chunk := opt.ChunkSize
	if chunk <= 0 {
		chunk = 1024
	}
	if n <= 0 {
		return nil, ctx.Err()
	}
	chunks := (n + chunk - 1) / chunk
	if workers > chunks {
		workers = chunks
	}

	var (
		mu   sync.Mutex
		next int
		out  []Candidate
		wg   sync.WaitGroup
	)
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if next >= chunks || ctx.Err() != nil {
			return 0, false
		}
		c := next
		next++
		return c, true
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []Candidate
			emit := func(i int, s float64) { local = append(local, Candidate{Index: i, Score: s}) }
			for {
				c, ok := take()
				if !ok {
					break
				}
				lo := c * chunk
				score(lo, min(lo+chunk, n), emit)
			}
			mu.Lock()
			out = append(out, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Candidate) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
	if opt.Limit > 0 && len(out) > opt.Limit {
		out = out[:opt.Limit]
	}
	return out, nil
}
