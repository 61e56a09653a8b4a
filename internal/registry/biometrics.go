package registry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

const kindTemplate = "template"

// VerifyMinEvidence is the 1:1 decision threshold: a comparison matches when
// its estimated false-match rate is at most 1 in 10,000.
const VerifyMinEvidence = 4.0

// dedupMinEvidence is the 1:N candidate threshold for a gallery of n
// templates: the per-comparison false-match rate is held at 1/(100 n), so a
// search of the whole gallery expects at most 0.01 false candidates; never
// looser than 1 in 10,000.
func dedupMinEvidence(n int) float64 { return max(VerifyMinEvidence, math.Log10(float64(max(n, 1)))+2) }

// Capture is one biometric capture sent for enrolment or verification.
type Capture struct {
	Modality string `json:"modality"`
	Position string `json:"position"`
	Format   string `json:"format"`
	Data     []byte `json:"data"` // base64 in JSON
	DPI      int    `json:"dpi,omitempty"`
}

// Duplicate is a possible duplicate found at enrolment.
type Duplicate struct {
	PersonID string  `json:"person_id"`
	Score    float64 `json:"score"` // fused evidence: -log10 of the estimated false-match rate
	CaseID   string  `json:"case_id"`
}

// Enrolled is the answer to a biometric capture.
type Enrolled struct {
	ReferenceID string      `json:"reference_id"`
	Duplicates  []Duplicate `json:"duplicates"`
}

func (c *Capture) validate() (consent.Category, error) {
	positions := map[string][]string{"fingerprint": FingerPositions, "iris": EyePositions, "face": FacePositions}
	if c.Modality == "" {
		return "", missing("modality")
	}
	ps, ok := positions[c.Modality]
	if !ok {
		return "", invalid("modality", "must be fingerprint, iris or face")
	}
	if c.Position == "" {
		return "", missing("position")
	}
	if err := checkEnum("position", c.Position, ps); err != nil {
		return "", err
	}
	if c.Format == "" {
		c.Format = FormatImage
	}
	if err := checkEnum("format", c.Format, []string{FormatImage, FormatISO}); err != nil {
		return "", err
	}
	if len(c.Data) == 0 {
		return "", missing("data")
	}
	if len(c.Data) > MaxCaptureBytes {
		return "", &InputError{Code: CodeInvalidCapture, Field: "data", Detail: "larger than 4 MiB"}
	}
	if c.DPI != 0 && (c.DPI < 250 || c.DPI > 1000) {
		return "", invalid("dpi", "must be between 250 and 1000")
	}
	return consent.Category(c.Modality), nil
}

// extract turns a capture into a template (or a face photo). Quality
// failures become quality_too_low: the registrar captures again.
func (r *Registry) extract(cat consent.Category, c Capture) (template, error) {
	if cat == consent.Face {
		return extractFace(c.Format, c.Data)
	}
	t, err := r.gal.engines[cat].extract(c.Format, c.Data, c.DPI)
	if errors.Is(err, errQuality) {
		return nil, &InputError{Code: CodeQualityTooLow, Field: "data", Detail: "the capture is too poor to enrol; capture again"}
	}
	return t, err
}

// EnrolBiometric stores a capture for the declared purpose (verification or
// deduplication), under the person's consent for that category and purpose.
// For deduplication the template is first searched 1:N in the gallery of
// people who consented to deduplication too; candidates open cases for an
// adjudicator and come back in Duplicates. This is the only 1:N search.
func (r *Registry) EnrolBiometric(ctx context.Context, actor Actor, purpose consent.Purpose, id string, c Capture) (Enrolled, error) {
	cat, err := c.validate()
	if err != nil {
		return Enrolled{}, err
	}
	// Extraction is CPU work: done before the write transaction, and its
	// failure is still recorded through the gate below.
	t, extractErr := r.extract(cat, c)
	return r.enrolTemplate(ctx, actor, purpose, id, cat, c, t, extractErr)
}

// enrolTemplate is EnrolBiometric after extraction (extractErr, if any, is
// recorded through the gate).
func (r *Registry) enrolTemplate(ctx context.Context, actor Actor, purpose consent.Purpose, id string, cat consent.Category, c Capture, t template, extractErr error) (Enrolled, error) {
	a := enrolAccess(actor, purpose, id, cat)
	// The 1:N scan takes seconds on a large gallery, so it runs before the
	// write transaction, not inside it: other requests are never held up by
	// it. Deduplicating enrolments of one modality take turns (searchMu), so
	// two captures of one finger enrolled at once still find each other. The
	// scan runs only after the policy allows this access (checked here, and
	// decided again and audited in the transaction).
	var candidates map[string]bool
	e, searchable := r.gal.engines[cat]
	if extractErr == nil && purpose == consent.Deduplication && searchable {
		if ok, err := r.allowed(ctx, a, id); err != nil {
			return Enrolled{}, err
		} else if ok {
			mu := r.gal.searchMu[cat]
			mu.Lock()
			defer mu.Unlock()
			if candidates, err = r.search(ctx, id, e, t); err != nil {
				return Enrolled{}, err
			}
		}
	}
	var out Enrolled
	var added []string // one per attempt: a backend may retry the transaction
	err := r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		if extractErr != nil {
			return extractErr
		}
		var err error
		var ref string
		out, ref, err = r.enrolTx(ctx, tx, f[id].person, purpose, cat, c, t, candidates)
		if ref != "" {
			added = append(added, ref)
		}
		return err
	})
	// Only the committed attempt's reference stays in the gallery.
	for _, ref := range added {
		if err != nil || ref != out.ReferenceID {
			r.gal.removeRef(cat, ref)
		}
	}
	return out, err
}

func enrolAccess(actor Actor, purpose consent.Purpose, id string, cat consent.Category) access {
	return access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{cat}, action: consent.Write,
		only: []consent.Purpose{consent.Verification, consent.Deduplication}}
}

// enrolTx stores an extracted capture and, for deduplication, searches and
// joins the gallery. added is the reference put in the gallery (the caller
// takes it out again if the transaction does not commit).
func (r *Registry) enrolTx(ctx context.Context, tx store.Tx, p store.Person, purpose consent.Purpose, cat consent.Category, c Capture, t template, candidates map[string]bool) (out Enrolled, added string, err error) {
	out.Duplicates = []Duplicate{}
	if p.AliasOf != "" {
		return out, "", &InputError{Code: CodeInvalidValue, Field: "person", Detail: "this record was merged into " + p.AliasOf}
	}
	raw, err := t.MarshalBinary()
	if err != nil {
		return out, "", err
	}
	sealed, err := r.keys.Seal(ctx, p.ID, string(cat), kindTemplate, raw)
	if err != nil {
		return out, "", err
	}
	now := r.clock()
	b := store.Biometric{ReferenceID: newID(), PersonID: p.ID, Category: string(cat), Position: c.Position, Format: c.Format,
		Purpose: string(purpose), TemplateSealed: sealed, CreatedAt: now}
	if err := tx.AddBiometric(ctx, b); err != nil {
		return out, "", err
	}
	out.ReferenceID = b.ReferenceID
	if _, searchable := r.gal.engines[cat]; purpose != consent.Deduplication || !searchable {
		return out, "", nil
	}
	if out.Duplicates, err = r.deduplicate(ctx, tx, p.ID, candidates, now); err != nil {
		return out, "", err
	}
	if err := r.gal.add(cat, p.ID, b.ReferenceID, t); err != nil {
		return out, "", err
	}
	return out, b.ReferenceID, nil
}

// search runs the 1:N scan of probe in the gallery of category cat and
// returns the candidate persons (other than id).
func (r *Registry) search(ctx context.Context, id string, e engine, probe template) (map[string]bool, error) {
	hits, err := e.search(ctx, probe, dedupMinEvidence(e.size()))
	if err != nil {
		return nil, err
	}
	candidates := map[string]bool{}
	for _, h := range hits {
		if p := r.gal.ownerOf(h.ref); p != "" && p != id {
			candidates[p] = true
		}
	}
	return candidates, nil
}

// deduplicate opens a case per candidate person. The case score fuses
// evidence: for every deduplication template
// of the probe person (this one included), the best comparison with the
// candidate's templates of the same modality, summed.
func (r *Registry) deduplicate(ctx context.Context, tx store.Tx, id string, candidates map[string]bool, now time.Time) ([]Duplicate, error) {
	// The probe person's deduplication templates, this capture included (it
	// was stored earlier in this transaction).
	mine, err := r.dedupTemplates(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	var dups []Duplicate
	ids := make([]string, 0, len(candidates))
	for p := range candidates {
		ids = append(ids, p)
	}
	slices.Sort(ids)
	for _, p := range ids {
		theirs, err := r.dedupTemplates(ctx, tx, p)
		if err != nil {
			return nil, err
		}
		score, mods := fuse(mine, theirs, r.gal)
		other, err := tx.GetPerson(ctx, p)
		if err != nil {
			return nil, err
		}
		a, b := p, id // the earlier-registered person is A
		if other.CreatedAt.After(now) {
			a, b = id, p
		}
		if decidedDifferent(ctx, tx, a, b) {
			continue
		}
		cs, err := tx.OpenCase(ctx, store.Case{ID: newID(), PersonA: a, PersonB: b, Score: math.Round(score*100) / 100, Modalities: mods, CreatedAt: now})
		if err != nil {
			return nil, err
		}
		dups = append(dups, Duplicate{PersonID: p, Score: cs.Score, CaseID: cs.ID})
	}
	slices.SortFunc(dups, func(x, y Duplicate) int { return int(math.Copysign(1, y.Score-x.Score)) })
	if dups == nil {
		dups = []Duplicate{}
	}
	return dups, nil
}

func decidedDifferent(ctx context.Context, tx store.Tx, a, b string) bool {
	cs, err := tx.CasesOf(ctx, a)
	if err != nil {
		return false
	}
	for _, c := range cs {
		if c.Decision == "different" && (c.PersonA == b || c.PersonB == b) {
			return true
		}
	}
	return false
}

type ownedTemplate struct {
	cat consent.Category
	t   template
}

// dedupTemplates opens a person's deduplication templates (fingerprint, iris).
func (r *Registry) dedupTemplates(ctx context.Context, tx store.Tx, id string) ([]ownedTemplate, error) {
	bs, err := tx.ListBiometrics(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []ownedTemplate
	for _, b := range bs {
		e, ok := r.gal.engines[consent.Category(b.Category)]
		if !ok || b.Purpose != string(consent.Deduplication) {
			continue
		}
		raw, err := r.keys.Open(ctx, id, b.Category, kindTemplate, b.TemplateSealed)
		if err != nil {
			return nil, fmt.Errorf("registry: open template: %w", err)
		}
		t, err := e.decode(raw)
		if err != nil {
			return nil, err
		}
		out = append(out, ownedTemplate{cat: consent.Category(b.Category), t: t})
	}
	return out, nil
}

// fuse sums, over the probe person's templates, the best evidence against
// the candidate's templates of the same modality.
func fuse(mine, theirs []ownedTemplate, g *galleries) (float64, string) {
	var total float64
	var mods []string
	for _, m := range mine {
		best := 0.0
		for _, o := range theirs {
			if o.cat == m.cat {
				best = max(best, g.engines[m.cat].compare(m.t, o.t))
			}
		}
		if best >= VerifyMinEvidence && !slices.Contains(mods, string(m.cat)) {
			mods = append(mods, string(m.cat))
		}
		if best >= 1 { // ignore chance-level comparisons
			total += best
		}
	}
	slices.Sort(mods)
	s := ""
	for i, m := range mods {
		if i > 0 {
			s += ","
		}
		s += m
	}
	return total, s
}

// VerifyRequest is a 1:1 check at a service point.
type VerifyRequest struct {
	PersonID string `json:"person_id"`
	Capture
}

// Verification is the whole answer of a 1:1 check: match or not, no data.
type Verification struct {
	Match bool `json:"match"`
}

// Verify compares a capture with the person's own templates of that modality
// (verifier or registrar, purpose verification, with the person's
// verification consent). It answers match or no match and nothing else.
func (r *Registry) Verify(ctx context.Context, actor Actor, purpose consent.Purpose, in VerifyRequest) (Verification, error) {
	if in.PersonID == "" {
		return Verification{}, missing("person_id")
	}
	cat, err := in.Capture.validate()
	if err != nil {
		return Verification{}, err
	}
	e, ok := r.gal.engines[cat]
	if !ok {
		return Verification{}, invalid("modality", "verification works with fingerprint or iris")
	}
	probe, extractErr := r.extract(cat, in.Capture)
	var out Verification
	a := access{actor: actor, purpose: purpose, persons: []string{in.PersonID}, categories: []consent.Category{cat}, action: consent.Read,
		only: []consent.Purpose{consent.Verification}}
	err = r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		if extractErr != nil {
			return extractErr
		}
		bs, err := tx.ListBiometrics(ctx, in.PersonID)
		if err != nil {
			return err
		}
		for _, b := range bs {
			if b.Category != string(cat) {
				continue
			}
			raw, err := r.keys.Open(ctx, in.PersonID, b.Category, kindTemplate, b.TemplateSealed)
			if err != nil {
				return fmt.Errorf("registry: open template: %w", err)
			}
			t, err := e.decode(raw)
			if err != nil {
				return err
			}
			if e.compare(probe, t) >= VerifyMinEvidence {
				out.Match = true
				return nil
			}
		}
		return nil
	})
	return out, err
}

// GalleryStats reports a gallery load.
type GalleryStats struct {
	Persons   int                      `json:"persons"`
	Templates map[consent.Category]int `json:"templates"`
	Skipped   int                      `json:"skipped"` // templates whose person's consent no longer counts
	Duration  time.Duration            `json:"duration_ns"`
}

// LoadGalleries rebuilds the 1:N galleries from the store: every
// deduplication template of an active person whose deduplication consent
// for its category counts, opened under that person's key. progress, if
// not nil, is called now and then with the templates read so far.
func (r *Registry) LoadGalleries(ctx context.Context, progress func(done int)) (GalleryStats, error) {
	start := time.Now()
	st := GalleryStats{Templates: map[consent.Category]int{}}
	persons := map[string]bool{}
	// Reading a page and deciding its persons' consents (one goroutine, in
	// store order) overlaps with opening, decoding and adding the page
	// before it (every core).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pages := make(chan loadPage, 1)
	go r.readGalleryPages(ctx, pages)
	done := 0
	for lp := range pages {
		if lp.err != nil {
			return st, lp.err
		}
		e := r.gal.engines[lp.cat]
		decoded, err := r.openPage(ctx, e, lp.page, func(i int) bool { return lp.keep[i] })
		if err != nil {
			return st, err
		}
		var owners, refs []string
		var ts []template
		for i, b := range lp.page {
			if decoded[i] == nil {
				st.Skipped++
				continue
			}
			owners, refs, ts = append(owners, b.PersonID), append(refs, b.ReferenceID), append(ts, decoded[i])
			st.Templates[lp.cat]++
			persons[b.PersonID] = true
		}
		if err := r.gal.addAll(lp.cat, owners, refs, ts); err != nil {
			return st, err
		}
		done += len(lp.page)
		if progress != nil {
			progress(done)
		}
	}
	st.Persons = len(persons)
	st.Duration = time.Since(start)
	if progress != nil {
		progress(done)
	}
	return st, nil
}

// loadPage is one page of a category's biometrics read for a gallery load:
// keep[i] tells whether page[i] belongs in the gallery (a deduplication
// template whose person's deduplication consent for it counts).
type loadPage struct {
	cat  consent.Category
	page []store.Biometric
	keep []bool
	err  error
}

// readGalleryPages sends every page of every gallery category to out, then
// closes it; it stops at the first error (sent) or when ctx ends.
func (r *Registry) readGalleryPages(ctx context.Context, out chan<- loadPage) {
	defer close(out)
	pageSize := r.galleryPage
	counts := map[string]map[consent.Category]bool{} // person -> categories whose dedup consent counts
	for cat := range r.gal.engines {
		after := ""
		for {
			lp := loadPage{cat: cat}
			lp.err = r.store.View(ctx, func(tx store.Tx) error {
				var err error
				lp.page, err = tx.BiometricsPage(ctx, string(cat), after, pageSize)
				if err != nil {
					return err
				}
				lp.keep = make([]bool, len(lp.page))
				for i, b := range lp.page {
					c, ok := counts[b.PersonID]
					if !ok {
						if c, err = r.dedupConsents(ctx, tx, b.PersonID); err != nil {
							return err
						}
						counts[b.PersonID] = c
					}
					lp.keep[i] = b.Purpose == string(consent.Deduplication) && c[cat]
				}
				return nil
			})
			select {
			case out <- lp:
			case <-ctx.Done():
				return
			}
			if lp.err != nil {
				return
			}
			if len(lp.page) < pageSize {
				break
			}
			after = lp.page[len(lp.page)-1].ReferenceID
		}
		if ctx.Err() != nil {
			return
		}
	}
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
func (r *Registry) refreshGallery(ctx context.Context, id string) error {
	r.gal.removePerson(id, "")
	return r.store.View(ctx, func(tx store.Tx) error {
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
			e, ok := r.gal.engines[cat]
			if !ok || b.Purpose != string(consent.Deduplication) || !counts[cat] {
				continue
			}
			raw, err := r.keys.Open(ctx, id, b.Category, kindTemplate, b.TemplateSealed)
			if err != nil {
				return err
			}
			t, err := e.decode(raw)
			if err != nil {
				return err
			}
			if err := r.gal.add(cat, id, b.ReferenceID, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// GallerySizes reports how many templates each 1:N gallery holds.
func (r *Registry) GallerySizes() map[consent.Category]int { return r.gal.sizes() }

// openPage opens and decodes the templates of a page that keep(b) selects,
// on every core; the result is nil where keep said no.
func (r *Registry) openPage(ctx context.Context, e engine, page []store.Biometric, keep func(i int) bool) ([]template, error) {
	out := make([]template, len(page))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(page)))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(page); i += workers {
				b := page[i]
				if !keep(i) {
					continue
				}
				raw, err := r.keys.Open(ctx, b.PersonID, b.Category, kindTemplate, b.TemplateSealed)
				if err == nil {
					out[i], err = e.decode(raw)
				}
				if err != nil {
					errs[w] = fmt.Errorf("registry: load gallery: reference %s: %w", b.ReferenceID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// allowed asks the policy, without recording it, whether access a to person
// id would be allowed now (the gate decides again, and records, in the
// transaction).
func (r *Registry) allowed(ctx context.Context, a access, id string) (bool, error) {
	var ok bool
	err := r.store.View(ctx, func(tx store.Tx) error {
		f, err := r.loadFacts(ctx, tx, a, id)
		if err != nil {
			return err
		}
		ok = r.decide(a, id, f).Allow
		return nil
	})
	return ok, err
}
