package dedup

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// Entry is one sealed template offered to a gallery load.
type Entry struct {
	PersonID string
	Ref      string
	Sealed   []byte
}

// Page is a page of one modality's templates read for a load. Keep[i]
// tells whether Entries[i] belongs in the gallery (the source decides: a
// deduplication template of a person whose deduplication consent counts).
type Page struct {
	Modality string
	Entries  []Entry
	Keep     []bool
}

// Source is where a load reads templates: the registry implements it over
// its store and keyring, deciding which templates belong.
type Source interface {
	// Pages calls fn with every page of every modality in modalities, in
	// order, and stops at fn's first error (returned).
	Pages(ctx context.Context, modalities []string, fn func(Page) error) error
	// Open unseals one entry's template (serialised bytes).
	Open(ctx context.Context, modality string, e Entry) ([]byte, error)
}

// PageOpener is a Source that unseals a page's kept entries at once (the
// registry's: one key-store read for the page's persons, not one per
// entry). OpenPage returns the serialised templates in the page's order,
// nil where Keep is false; or nil and no error when it cannot open this
// page at once, and the loader calls Open for each kept entry.
type PageOpener interface {
	OpenPage(ctx context.Context, p Page) ([][]byte, error)
}

// Stats reports a load.
type Stats struct {
	Persons   int
	Templates map[string]int
	Skipped   int // entries the source said do not belong
	Duration  time.Duration
}

// Load adds every template the source keeps. Reading a page (one
// goroutine, in source order) overlaps with opening, decoding and adding
// the page before it (every core). progress, if not nil, is called after
// every page with the entries read so far.
func (l *Local) Load(ctx context.Context, src Source, progress func(done int)) (Stats, error) {
	start := time.Now()
	st := Stats{Templates: map[string]int{}}
	persons := map[string]bool{}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan Page, 1)
	var readErr error
	go func() {
		defer close(pages)
		readErr = src.Pages(ctx, Modalities(), func(p Page) error {
			select {
			case pages <- p:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	done := 0
	var loadErr error
	for p := range pages {
		if loadErr != nil {
			continue // drain
		}
		decoded, err := l.openPage(ctx, src, p)
		if err != nil {
			loadErr = err
			cancel()
			continue
		}
		var owners, refs []string
		var ts []any
		for i, e := range p.Entries {
			if decoded[i] == nil {
				st.Skipped++
				continue
			}
			owners, refs, ts = append(owners, e.PersonID), append(refs, e.Ref), append(ts, decoded[i])
			st.Templates[p.Modality]++
			persons[e.PersonID] = true
		}
		if len(ts) > 0 {
			if err := l.addAll(p.Modality, owners, refs, ts); err != nil {
				loadErr = err
				cancel()
				continue
			}
		}
		done += len(p.Entries)
		if progress != nil {
			progress(done)
		}
	}
	if loadErr != nil {
		return st, loadErr
	}
	if readErr != nil {
		return st, fmt.Errorf("dedup: load: %w", readErr)
	}
	// Pack what the load added to the fingerprint index compactly (2.25
	// bytes a posting, no spare capacity), and drop the spare room the
	// galleries' growing arrays were left with.
	l.fingers.Seal()
	l.irises.Trim()
	st.Persons = len(persons)
	st.Duration = time.Since(start)
	if progress != nil {
		progress(done)
	}
	return st, nil
}

// openPage opens and decodes the kept entries of a page on every core; the
// result is nil where the page does not keep the entry.
func (l *Local) openPage(ctx context.Context, src Source, p Page) ([]any, error) {
	out := make([]any, len(p.Entries))
	var raws [][]byte
	if po, ok := src.(PageOpener); ok {
		var err error
		if raws, err = po.OpenPage(ctx, p); err != nil {
			return nil, fmt.Errorf("dedup: load: %w", err)
		}
		if raws != nil && len(raws) != len(p.Entries) {
			return nil, fmt.Errorf("dedup: load: %d templates opened for a page of %d", len(raws), len(p.Entries))
		}
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, len(p.Entries)))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(p.Entries); i += workers {
				if !p.Keep[i] {
					continue
				}
				e := p.Entries[i]
				var raw []byte
				var err error
				if raws != nil {
					raw = raws[i]
				} else {
					raw, err = src.Open(ctx, p.Modality, e)
				}
				if err == nil {
					out[i], err = decode(p.Modality, raw)
				}
				if err != nil {
					errs[w] = fmt.Errorf("dedup: load: reference %s: %w", e.Ref, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
