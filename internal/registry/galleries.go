package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// GalleryLoader is a gallery the registry can fill from its store (an
// in-process dedup.Local). Others load themselves.
type GalleryLoader interface {
	Load(ctx context.Context, src dedup.Source, progress func(done int)) (dedup.Stats, error)
}

// outboxGalleries is a Galleries fed through the store's gallery outbox
// (internal/cluster): the registry writes a store.GalleryChange in the
// transaction of every change that must reach the galleries (a
// deduplication template stored; an erasure, a merge, a consent change),
// so a committed change is never lost, and calls Flush after the commit so
// that it is searchable at once. Add and Remove then carry nothing the
// outbox does not: Add is called before the commit.
type outboxGalleries interface {
	Galleries
	// Flush relays the committed changes now (a background relay covers a
	// node that dies before it flushes).
	Flush(ctx context.Context) error
}

// galleryChange records a change for the galleries in tx, when they are
// fed through the outbox.
func (r *Registry) galleryChange(ctx context.Context, tx store.Tx, op, modality, personID, ref string) error {
	if _, ok := r.gal.(outboxGalleries); !ok {
		return nil
	}
	return tx.AppendGalleryChange(ctx, store.GalleryChange{Op: op, Modality: modality, PersonID: personID, Ref: ref, At: r.clock()})
}

// galleryFlush relays committed gallery changes at once, when the
// galleries are fed through the outbox. A failure is logged: the change is
// committed in the outbox and the background relay delivers it.
func (r *Registry) galleryFlush(ctx context.Context) {
	if o, ok := r.gal.(outboxGalleries); ok {
		if err := o.Flush(ctx); err != nil {
			r.log.WarnContext(ctx, "gallery: relay flush failed; the background relay retries", "err", err)
		}
	}
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
	l, ok := r.gal.(GalleryLoader)
	if !ok {
		return GalleryStats{Templates: map[consent.Category]int{}}, nil
	}
	st, err := r.loadInto(ctx, l, nil, progress)
	if err == nil {
		r.galLoaded.Store(true)
	}
	return st, err
}

// LoadShard fills l (a gallery shard's own gallery) as LoadGalleries
// fills the registry's, with only the persons for whom owns returns true.
// It serves the gallery worker (assent gallery, internal/cluster); it
// returns nothing to any caller but what it puts in l.
func (r *Registry) LoadShard(ctx context.Context, l GalleryLoader, owns func(personID string) bool, progress func(done int)) (GalleryStats, error) {
	return r.loadInto(ctx, l, owns, progress)
}

func (r *Registry) loadInto(ctx context.Context, l GalleryLoader, owns func(string) bool, progress func(done int)) (GalleryStats, error) {
	st := GalleryStats{Templates: map[consent.Category]int{}}
	ds, err := l.Load(ctx, gallerySource{r: r, owns: owns}, progress)
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
type gallerySource struct {
	r    *Registry
	owns func(personID string) bool // nil: every person
}

func (s gallerySource) Pages(ctx context.Context, modalities []string, fn func(dedup.Page) error) error {
	r := s.r
	pageSize := r.galleryPage
	counts := map[string]categorySet{} // person -> categories whose dedup consent counts
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
			mine := page
			if s.owns != nil { // a shard's load: only its own persons are decided and opened
				mine = make([]store.Biometric, 0, len(page))
				for _, b := range page {
					if s.owns(b.PersonID) {
						mine = append(mine, b)
					}
				}
			}
			if err := r.countConsents(ctx, mine, counts); err != nil {
				return err
			}
			p.Entries, p.Keep = make([]dedup.Entry, len(page)), make([]bool, len(page))
			for i, b := range page {
				if s.owns != nil && !s.owns(b.PersonID) {
					p.Entries[i] = dedup.Entry{PersonID: b.PersonID, Ref: b.ReferenceID} // another shard's person
					continue
				}
				p.Entries[i] = dedup.Entry{PersonID: b.PersonID, Ref: b.ReferenceID, Sealed: b.TemplateSealed}
				p.Keep[i] = b.Purpose == string(consent.Deduplication) && counts[b.PersonID].has(cat)
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
// which categories' deduplication consent counts. The page's persons and
// consent histories are read in one transaction, two queries
// (Tx.GetPersons, Tx.ConsentHistories); their identities are opened for
// the birth date in one batch (one key-store read, batchOpener), and the
// decisions are made on every core, by the rule dedupConsents applies to
// one person.
func (r *Registry) countConsents(ctx context.Context, page []store.Biometric, counts map[string]categorySet) error {
	var todo []string
	seen := map[string]bool{}
	for _, b := range page {
		if _, ok := counts[b.PersonID]; !ok && !seen[b.PersonID] {
			seen[b.PersonID] = true
			todo = append(todo, b.PersonID)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	persons := make(map[string]store.Person, len(todo))
	var hists map[string][]store.ConsentRecord
	err := r.store.View(ctx, func(tx store.Tx) error {
		ps, err := tx.GetPersons(ctx, todo)
		if err != nil {
			return err
		}
		for _, p := range ps {
			persons[p.ID] = p
		}
		hists, err = tx.ConsentHistories(ctx, todo)
		return err
	})
	if err != nil {
		return err
	}
	// The identities (for the birth date) of the persons whose consents are
	// decided: opened in one batch when the keyring can (one key-store read
	// for the page), else one at a time on every core.
	births := make([]time.Time, len(todo))
	opened := make([]bool, len(todo))
	if b, ok := r.keys.(batchOpener); ok {
		ids, sealed := make([]string, len(todo)), make([][]byte, len(todo))
		for i, id := range todo {
			ids[i] = id
			if p, ok := persons[id]; ok && p.Status == store.StatusActive && p.AliasOf == "" {
				sealed[i] = p.IdentitySealed
			}
		}
		raws, err := b.OpenAll(ctx, string(consent.Identity), kindPerson, ids, sealed)
		if err != nil {
			return fmt.Errorf("registry: open %s: %w", kindPerson, err)
		}
		for i, raw := range raws {
			if raw == nil {
				continue
			}
			var ident Identity
			if err := json.Unmarshal(raw, &ident); err != nil {
				return fmt.Errorf("registry: open %s: %w", kindPerson, err)
			}
			births[i], opened[i] = birthTime(ident.BirthDate), true
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
			for i := w; i < len(todo); i += workers {
				p, ok := persons[todo[i]]
				if !ok {
					// erased since the page was read: nothing of theirs counts
					out[i] = map[consent.Category]bool{}
					continue
				}
				var c map[consent.Category]bool
				var err error
				if opened[i] {
					c = r.decideDedupBorn(p, hists[p.ID], births[i])
				} else {
					c, err = r.decideDedup(ctx, p, hists[p.ID])
				}
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = c
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for i, id := range todo {
		counts[id] = setOf(out[i])
	}
	return nil
}

// categorySet is a set of consent.BiometricCategories, a bit each: what a
// gallery load keeps for every person it has decided (a million of them at
// a time; a map a person took about 200 bytes more).
type categorySet uint8

func init() {
	if len(consent.BiometricCategories) > 8 {
		panic("registry: categorySet holds 8 biometric categories at most")
	}
}

func setOf(m map[consent.Category]bool) categorySet {
	var s categorySet
	for i, c := range consent.BiometricCategories {
		if m[c] {
			s |= 1 << i
		}
	}
	return s
}

func (s categorySet) has(c consent.Category) bool {
	for i, b := range consent.BiometricCategories {
		if b == c {
			return s&(1<<i) != 0
		}
	}
	return false
}

func (s gallerySource) Open(ctx context.Context, modality string, e dedup.Entry) ([]byte, error) {
	return s.r.keys.Open(ctx, e.PersonID, modality, kindTemplate, e.Sealed)
}

// batchOpener is a Keyring that opens many values of one category and
// kind at once, reading their keys in one key-store query
// (envelope.Keyring.OpenAll).
type batchOpener interface {
	OpenAll(ctx context.Context, category, kind string, persons []string, values [][]byte) ([][]byte, error)
}

// OpenPage implements dedup.PageOpener: a page's kept templates opened in
// one batch when the keyring can; else nil, and the loader opens them one
// at a time (Open) on every core.
func (s gallerySource) OpenPage(ctx context.Context, p dedup.Page) ([][]byte, error) {
	b, ok := s.r.keys.(batchOpener)
	if !ok {
		return nil, nil
	}
	ids, sealed := make([]string, len(p.Entries)), make([][]byte, len(p.Entries))
	for i, e := range p.Entries {
		ids[i] = e.PersonID
		if p.Keep[i] {
			sealed[i] = e.Sealed
		}
	}
	return b.OpenAll(ctx, p.Modality, kindTemplate, ids, sealed)
}

// dedupConsents tells, for a person, which biometric categories' deduplication
// consent counts now.
func (r *Registry) dedupConsents(ctx context.Context, tx store.Tx, id string) (map[consent.Category]bool, error) {
	p, err := tx.GetPerson(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Status != store.StatusActive || p.AliasOf != "" {
		return map[consent.Category]bool{}, nil
	}
	hist, err := tx.ConsentHistory(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.decideDedup(ctx, p, hist)
}

// decideDedup is dedupConsents on a person's record and consent history
// (oldest first) already read: nothing counts for a person not active or
// an alias; otherwise the identity is opened for the birth date and the
// consent policy decides each biometric category.
func (r *Registry) decideDedup(ctx context.Context, p store.Person, hist []store.ConsentRecord) (map[consent.Category]bool, error) {
	out := map[consent.Category]bool{}
	if p.Status != store.StatusActive || p.AliasOf != "" {
		return out, nil
	}
	ident, err := r.openIdentity(ctx, p)
	if err != nil {
		return nil, err
	}
	return r.decideDedupBorn(p, hist, birthTime(ident.BirthDate)), nil
}

// decideDedupBorn is decideDedup with the person's birth date already
// opened.
func (r *Registry) decideDedupBorn(p store.Person, hist []store.ConsentRecord, birth time.Time) map[consent.Category]bool {
	out := map[consent.Category]bool{}
	if p.Status != store.StatusActive || p.AliasOf != "" {
		return out
	}
	facts := consent.Facts{Person: consent.Person{Exists: true, BirthDate: birth}, Records: toConsentRecords(hist), Now: r.clock(), Config: r.cfg}
	for _, c := range consent.BiometricCategories {
		v := consent.Decide(consent.Request{Role: consent.Registrar, Purpose: consent.Deduplication, PersonID: p.ID, Category: c, Action: consent.Read}, facts)
		out[c] = v.Allow
	}
	return out
}

// refreshGallery brings one person's gallery entries in line with their
// current consents and status (after a consent change, erasure or merge).
// Like gallerySource, a named exception to "through guard": it runs after
// the gated, audited change that calls for it and returns nothing.
func (r *Registry) refreshGallery(ctx context.Context, id string) error {
	if o, ok := r.gal.(outboxGalleries); ok {
		// The change is in the outbox, written with the gated change.
		return o.Flush(ctx)
	}
	if err := r.gal.Remove(ctx, id, ""); err != nil {
		return err
	}
	es, err := r.GalleryEntries(ctx, id)
	if err != nil {
		return err
	}
	for _, e := range es {
		if err := r.gal.Add(ctx, e.Modality, id, e.Ref, e.Template); err != nil {
			return err
		}
	}
	return nil
}

// GalleryEntry is one template of a person that belongs in a 1:N gallery.
type GalleryEntry struct {
	Modality string
	Ref      string
	Template []byte // serialised, opened
}

// GalleryEntries lists the templates of person id that belong in the 1:N
// galleries now: the deduplication templates of an active person (not an
// alias) whose deduplication consent for the modality counts; none for an
// erased or unknown person. Like gallerySource, a named exception to
// "through guard": gallery upkeep after a gated, audited change (the
// in-process refresh, and a gallery shard applying a relayed change); the
// templates go only into a gallery.
func (r *Registry) GalleryEntries(ctx context.Context, id string) ([]GalleryEntry, error) {
	var out []GalleryEntry
	err := r.store.View(ctx, func(tx store.Tx) error {
		out = nil
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
			out = append(out, GalleryEntry{Modality: b.Category, Ref: b.ReferenceID, Template: raw})
		}
		return nil
	})
	return out, err
}

// RelayGalleryChanges hands the oldest changes of the gallery outbox (at
// most limit, in Seq order) to publish and deletes them once publish
// returns nil, in one store transaction (on PostgreSQL under the relay's
// advisory lock: relays on several nodes take turns). When publish fails
// nothing is deleted and the changes are offered again next round, so
// publish must be idempotent per Seq (JetStream drops a message whose
// Msg-Id it has seen). It returns how many changes were relayed; fewer
// than limit means the outbox is empty. The rows carry ids only.
func (r *Registry) RelayGalleryChanges(ctx context.Context, limit int, publish func(context.Context, []store.GalleryChange) error) (int, error) {
	var n int
	err := r.store.Update(ctx, func(tx store.Tx) error {
		n = 0
		cs, err := tx.PendingGalleryChanges(ctx, limit)
		if err != nil || len(cs) == 0 {
			return err
		}
		if err := publish(ctx, cs); err != nil {
			return err
		}
		seqs := make([]int64, len(cs))
		for i, c := range cs {
			seqs[i] = c.Seq
		}
		n = len(cs)
		return tx.DeleteGalleryChanges(ctx, seqs)
	})
	return n, err
}
