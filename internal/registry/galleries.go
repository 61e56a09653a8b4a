package registry

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/dedup"
	"github.com/assent-registry/assent/internal/store"
)

// Galleries is the 1:N gallery service the registry asks at enrolment. It
// holds the deduplication templates of the people whose deduplication
// consent counts, as the registry tells it (Add, Remove); it decides
// nothing. Templates are their serialised bytes. internal/dedup.Local
// implements it in this process (the default).
//
// Search answers the persons (other than exclude) with a template of
// modality that may be the probe's mate. complete is false when part of the
// gallery did not answer (a shard down): the candidates found are real but
// the search is not finished, and the registry says deduplication
// "pending", never "no duplicates".
type Galleries interface {
	Search(ctx context.Context, modality string, probe []byte, exclude string) (candidates []string, complete bool, err error)
	Add(ctx context.Context, modality, personID, ref string, template []byte) error
	// Remove takes out reference ref of the person, or every template of
	// the person when ref is empty.
	Remove(ctx context.Context, personID, ref string) error
	Sizes() map[string]int
}

// decodedGalleries is a Galleries in this process that also takes
// templates as the engines made them, sparing a decode per call.
type decodedGalleries interface {
	SearchDecoded(ctx context.Context, modality string, probe any, exclude string) ([]string, bool, error)
	AddDecoded(ctx context.Context, modality, personID, ref string, t any) error
}

// gallerySearch searches the gallery service with a template.
func (r *Registry) gallerySearch(ctx context.Context, cat consent.Category, t template, exclude string) ([]string, bool, error) {
	if d, ok := r.gal.(decodedGalleries); ok {
		return d.SearchDecoded(ctx, string(cat), t, exclude)
	}
	raw, err := t.MarshalBinary()
	if err != nil {
		return nil, false, err
	}
	return r.gal.Search(ctx, string(cat), raw, exclude)
}

// galleryAdd gives the gallery service a template (raw is its serialised
// form).
func (r *Registry) galleryAdd(ctx context.Context, cat consent.Category, personID, ref string, t template, raw []byte) error {
	if d, ok := r.gal.(decodedGalleries); ok {
		return d.AddDecoded(ctx, string(cat), personID, ref, t)
	}
	return r.gal.Add(ctx, string(cat), personID, ref, raw)
}

// galleryLoader is a Galleries that the registry fills at start from its
// store (an in-process gallery). Others load themselves.
type galleryLoader interface {
	Load(ctx context.Context, src dedup.Source, progress func(done int)) (dedup.Stats, error)
}

// GalleryStats reports a gallery load.
type GalleryStats struct {
	Persons   int                      `json:"persons"`
	Templates map[consent.Category]int `json:"templates"`
	Skipped   int                      `json:"skipped"` // templates whose person's consent no longer counts
	Duration  time.Duration            `json:"duration_ns"`
}

// LoadGalleries fills an in-process gallery service from the store: every
// deduplication template of an active person whose deduplication consent
// for its category counts, opened under that person's key. progress, if
// not nil, is called now and then with the templates read so far. A
// gallery service that loads itself is left alone.
func (r *Registry) LoadGalleries(ctx context.Context, progress func(done int)) (GalleryStats, error) {
	st := GalleryStats{Templates: map[consent.Category]int{}}
	l, ok := r.gal.(galleryLoader)
	if !ok {
		return st, nil
	}
	ds, err := l.Load(ctx, gallerySource{r}, progress)
	st.Persons, st.Skipped, st.Duration = ds.Persons, ds.Skipped, ds.Duration
	for m, n := range ds.Templates {
		st.Templates[consent.Category(m)] = n
	}
	return st, err
}

// GallerySizes reports how many templates each 1:N gallery holds.
func (r *Registry) GallerySizes() map[consent.Category]int {
	out := map[consent.Category]int{}
	for m, n := range r.gal.Sizes() {
		out[consent.Category(m)] = n
	}
	return out
}

// gallerySource reads the store for a gallery load. It is one of the named
// exceptions to "every store transaction goes through guard": it returns
// nothing to any caller, only feeds the gallery service what the consent
// policy says belongs in it (see the architecture test).
type gallerySource struct{ r *Registry }

func (s gallerySource) Pages(ctx context.Context, modalities []string, fn func(dedup.Page) error) error {
	r := s.r
	pageSize := r.galleryPage
	counts := map[string]map[consent.Category]bool{} // person -> categories whose dedup consent counts
	for _, m := range modalities {
		cat := consent.Category(m)
		after := ""
		for {
			p := dedup.Page{Modality: m}
			var page []store.Biometric
			err := r.store.View(ctx, func(tx store.Tx) error {
				var err error
				page, err = tx.BiometricsPage(ctx, m, after, pageSize)
				return err
			})
			if err != nil {
				return err
			}
			if err := r.countConsents(ctx, page, counts); err != nil {
				return err
			}
			p.Entries, p.Keep = make([]dedup.Entry, len(page)), make([]bool, len(page))
			for i, b := range page {
				p.Entries[i] = dedup.Entry{PersonID: b.PersonID, Ref: b.ReferenceID, Sealed: b.TemplateSealed}
				p.Keep[i] = b.Purpose == string(consent.Deduplication) && counts[b.PersonID][cat]
			}
			if err := fn(p); err != nil {
				return err
			}
			if len(p.Entries) < pageSize {
				break
			}
			after = p.Entries[len(p.Entries)-1].Ref
		}
	}
	return nil
}

// countConsents adds to counts, for every person of page not in it yet,
// which categories' deduplication consent counts: on every core, each
// worker in a read transaction of its own (a person's record, identity
// and consent history are read and opened for the decision).
func (r *Registry) countConsents(ctx context.Context, page []store.Biometric, counts map[string]map[consent.Category]bool) error {
	var todo []string
	seen := map[string]bool{}
	for _, b := range page {
		if _, ok := counts[b.PersonID]; !ok && !seen[b.PersonID] {
			seen[b.PersonID] = true
			todo = append(todo, b.PersonID)
		}
	}
	out := make([]map[consent.Category]bool, len(todo))
	workers := min(runtime.GOMAXPROCS(0), len(todo))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = r.store.View(ctx, func(tx store.Tx) error {
				for i := w; i < len(todo); i += workers {
					c, err := r.dedupConsents(ctx, tx, todo[i])
					if errors.Is(err, store.ErrNotFound) {
						// erased since the page was read: nothing of theirs counts
						c, err = map[consent.Category]bool{}, nil
					}
					if err != nil {
						return err
					}
					out[i] = c
				}
				return nil
			})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, id := range todo {
		counts[id] = out[i]
	}
	return nil
}

func (s gallerySource) Open(ctx context.Context, modality string, e dedup.Entry) ([]byte, error) {
	return s.r.keys.Open(ctx, e.PersonID, modality, kindTemplate, e.Sealed)
}

// dedupConsents tells, for a person, which biometric categories' deduplication
// consent counts now.
func (r *Registry) dedupConsents(ctx context.Context, tx store.Tx, id string) (map[consent.Category]bool, error) {
	p, err := tx.GetPerson(ctx, id)
	if err != nil {
		return nil, err
	}
	out := map[consent.Category]bool{}
	if p.Status != store.StatusActive || p.AliasOf != "" {
		return out, nil
	}
	ident, err := r.openIdentity(ctx, p)
	if err != nil {
		return nil, err
	}
	birth := birthTime(ident.BirthDate)
	hist, err := tx.ConsentHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	facts := consent.Facts{Person: consent.Person{Exists: true, BirthDate: birth}, Records: toConsentRecords(hist), Now: r.clock(), Config: r.cfg}
	for _, c := range consent.BiometricCategories {
		v := consent.Decide(consent.Request{Role: consent.Registrar, Purpose: consent.Deduplication, PersonID: id, Category: c, Action: consent.Read}, facts)
		out[c] = v.Allow
	}
	return out, nil
}

// refreshGallery brings one person's gallery entries in line with their
// current consents and status (after a consent change, erasure or merge).
// Like gallerySource, a named exception to "through guard": it runs after
// the gated, audited change that calls for it and returns nothing.
func (r *Registry) refreshGallery(ctx context.Context, id string) error {
	if err := r.gal.Remove(ctx, id, ""); err != nil {
		return err
	}
	type add struct{ cat, ref string }
	var adds []add
	var raws [][]byte
	err := r.store.View(ctx, func(tx store.Tx) error {
		adds, raws = nil, nil
		counts, err := r.dedupConsents(ctx, tx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		bs, err := tx.ListBiometrics(ctx, id)
		if err != nil {
			return err
		}
		for _, b := range bs {
			cat := consent.Category(b.Category)
			if _, ok := r.engines[cat]; !ok || b.Purpose != string(consent.Deduplication) || !counts[cat] {
				continue
			}
			raw, err := r.keys.Open(ctx, id, b.Category, kindTemplate, b.TemplateSealed)
			if err != nil {
				return err
			}
			adds, raws = append(adds, add{b.Category, b.ReferenceID}), append(raws, raw)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, a := range adds {
		if err := r.gal.Add(ctx, a.cat, id, a.ref, raws[i]); err != nil {
			return err
		}
	}
	return nil
}
