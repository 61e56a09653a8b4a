package registry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/failpoint"
	"github.com/assent-registry/assent/internal/store"
)

const kindTemplate = "template"

// VerifyMinEvidence is the 1:1 decision threshold: a comparison matches when
// its estimated false-match rate is at most 1 in 10,000.
const VerifyMinEvidence = 4.0

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

// Deduplication outcomes of a capture.
const (
	DedupDone         = "done"          // the 1:N search ran over the whole gallery (or the modality has none: face)
	DedupPending      = "pending"       // part of the gallery did not answer; the search completes later
	DedupNotConsented = "not_consented" // the capture was not for deduplication, or the consent does not count
)

// Enrolled is the answer to a biometric capture.
type Enrolled struct {
	ReferenceID   string      `json:"reference_id"`
	Duplicates    []Duplicate `json:"duplicates"`
	Deduplication string      `json:"deduplication"`
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

// EnrolBiometric stores a capture for the declared purpose (verification or
// deduplication), under the person's consent for that category and purpose.
// The policy is decided first (role, purpose, consent, the person exists):
// nothing is decoded for a refused request. For deduplication the template
// is then searched 1:N in the galleries of people who consented to
// deduplication too; candidates open cases for an adjudicator and come back
// in Duplicates. This is the only 1:N search.
func (r *Registry) EnrolBiometric(ctx context.Context, actor Actor, purpose consent.Purpose, id string, c Capture) (Enrolled, error) {
	cat, err := c.validate()
	if err != nil {
		return Enrolled{}, err
	}
	if err := r.decideFirst(ctx, enrolAccess(actor, purpose, id, cat), id, nil); err != nil {
		return Enrolled{}, err
	}
	// Extraction is CPU work: done before the write transaction, and its
	// failure is still recorded through the gate below.
	t, extractErr := r.extract(ctx, cat, c, false)
	out, err := r.enrolTemplate(ctx, actor, purpose, id, cat, c, t, extractErr)
	if ie := (*InputError)(nil); errors.As(err, &ie) && ie.Code == CodeQualityTooLow {
		r.recordExclusion(ctx, actor, cat, store.ExclusionCaptureFailed)
	}
	return out, err
}

// EnrolTemplate stores a template already extracted by one of the
// registry's engines (its serialised bytes), as EnrolBiometric stores a
// capture: same gate, audit, search and cases. It serves tools that make
// templates themselves (assent bench enrol); no HTTP route exposes it.
func (r *Registry) EnrolTemplate(ctx context.Context, actor Actor, purpose consent.Purpose, id string, modality consent.Category, position string, raw []byte) (Enrolled, error) {
	c := Capture{Modality: string(modality), Position: position, Format: FormatImage, Data: raw}
	if _, err := c.validate(); err != nil {
		return Enrolled{}, err
	}
	e, ok := r.engines[modality]
	if !ok {
		return Enrolled{}, invalid("modality", "templates are fingerprint or iris")
	}
	if err := r.decideFirst(ctx, enrolAccess(actor, purpose, id, modality), id, nil); err != nil {
		return Enrolled{}, err
	}
	t, err := e.decode(raw)
	if err != nil {
		err = &InputError{Code: CodeInvalidCapture, Field: "data", Detail: "not a template of this modality"}
	}
	return r.enrolTemplate(ctx, actor, purpose, id, modality, c, t, err)
}

// enrolTemplate is EnrolBiometric after extraction (extractErr, if any, is
// recorded through the gate). The caller has asked the policy first
// (decideFirst), so the 1:N search runs only for an access the policy
// allowed a moment ago; the gate decides again, and records, in the
// transaction that stores the template (a search for an access refused
// meanwhile is discarded unread).
func (r *Registry) enrolTemplate(ctx context.Context, actor Actor, purpose consent.Purpose, id string, cat consent.Category, c Capture, t template, extractErr error) (Enrolled, error) {
	a := enrolAccess(actor, purpose, id, cat)
	// The 1:N scan takes seconds on a large gallery, so it runs before the
	// write transaction, not inside it, and without any turn: other
	// requests, and other deduplicating captures, are never held up by it.
	// Only the commit takes the modality's turn (dedupTurn: in this
	// process, and across nodes over PostgreSQL), and compares 1:1 what
	// was added since the search's point, so two captures of one finger
	// enrolled at once still find each other (turns.go).
	var s *dedupSearch
	release := func() {}
	dedupState := DedupNotConsented
	_, searchable := r.engines[cat]
	if extractErr == nil && purpose == consent.Deduplication {
		dedupState = DedupDone
		if searchable {
			found, err := r.search(ctx, cat, t, id)
			if err != nil {
				return Enrolled{}, err
			}
			s = &found
			turn, err := r.dedupTurn(ctx, cat)
			if err != nil {
				return Enrolled{}, err
			}
			release = sync.OnceFunc(turn)
			defer release() // also if the transaction panics
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
		out, ref, err = r.enrolTx(ctx, tx, f[id].person, purpose, cat, c, t, s)
		if ref != "" {
			added = append(added, ref)
		}
		return err
	})
	// Only the committed attempt's reference stays in the gallery.
	for _, ref := range added {
		if err != nil || ref != out.ReferenceID {
			if rerr := r.gal.Remove(ctx, id, ref); rerr != nil {
				r.log.ErrorContext(ctx, "gallery: remove an uncommitted template", "err", rerr, "reference_id", ref)
			}
		}
	}
	// The turn ends with the commit and the gallery's Add: the relay below
	// needs none (the outbox row is committed; every search relays first).
	release()
	if err == nil {
		if out.Deduplication == "" { // not searched: enrolTx says done or pending when it was
			out.Deduplication = dedupState
		}
		failpoint.Hit(failpoint.EnrolCommitted)
		r.galleryFlush(ctx)
	}
	return out, err
}

func enrolAccess(actor Actor, purpose consent.Purpose, id string, cat consent.Category) access {
	return access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{cat}, action: consent.Write,
		only: []consent.Purpose{consent.Verification, consent.Deduplication}, capture: true}
}

// enrolTx stores an extracted capture and, for deduplication, numbers it
// in its modality's additions, opens cases for the candidates (those of
// the 1:N search s and those found 1:1 among the additions it may not
// have seen: lateCandidates) and joins the gallery; the caller holds the
// modality's turn (dedupTurn). s is nil when no search ran (a purpose
// other than deduplication, or a modality without a gallery). When the
// search did not cover the whole gallery (s.partial, or too many late
// additions) the transaction also records the search as pending
// (store.PendingSearch), so that the answer "pending" is never given
// without the record that CompletePendingSearches finishes; out says done
// or pending when a search ran. added is the reference put in the gallery
// (the caller takes it out again if the transaction does not commit).
func (r *Registry) enrolTx(ctx context.Context, tx store.Tx, p store.Person, purpose consent.Purpose, cat consent.Category, c Capture, t template, s *dedupSearch) (out Enrolled, added string, err error) {
	out.Duplicates = []Duplicate{}
	if err := refuseMerged(p); err != nil { // a capture goes to the surviving record, like an exam
		return out, "", err
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
	_, searchable := r.engines[cat]
	dedupAdd := purpose == consent.Deduplication && searchable
	if dedupAdd {
		if s == nil {
			return out, "", fmt.Errorf("registry: a deduplication template stored without its search")
		}
		if b.DedupSeq, err = tx.NextDedupPoint(ctx, string(cat)); err != nil {
			return out, "", err
		}
	}
	if err := tx.AddBiometric(ctx, b); err != nil {
		return out, "", err
	}
	out.ReferenceID = b.ReferenceID
	if !dedupAdd {
		return out, "", nil
	}
	late, complete, err := r.lateCandidates(ctx, tx, cat, t, p.ID, s.point, b.DedupSeq, s.candidates)
	if err != nil {
		return out, "", err
	}
	partial := s.partial || !complete
	candidates := append(slices.Clone(s.candidates), late...)
	if out.Duplicates, err = r.deduplicate(ctx, tx, p.ID, candidates); err != nil {
		return out, "", err
	}
	out.Deduplication = DedupDone
	if partial {
		out.Deduplication = DedupPending
		if err := tx.AddPendingSearch(ctx, store.PendingSearch{ReferenceID: b.ReferenceID, PersonID: p.ID, Modality: string(cat), Since: now}); err != nil {
			return out, "", err
		}
	}
	if err := r.galleryChange(ctx, tx, store.GalleryAdd, string(cat), p.ID, b.ReferenceID); err != nil {
		return out, "", err
	}
	if err := r.galleryAdd(ctx, cat, p.ID, b.ReferenceID, t, raw); err != nil {
		return out, "", err
	}
	return out, b.ReferenceID, nil
}

// deduplicate opens a case per candidate person (or raises the open case
// of the pair), unless an adjudicator already decided the pair are
// different people. The case score fuses evidence: for every deduplication
// template of the probe person (this one included), the best comparison
// with the candidate's templates of the same modality, summed. Enrolment
// and the completion of a pending search (CompletePendingSearches) both
// open their cases here.
func (r *Registry) deduplicate(ctx context.Context, tx store.Tx, id string, candidates []string) ([]Duplicate, error) {
	// The probe person's deduplication templates, this capture included (it
	// was stored earlier in this transaction).
	mine, err := r.dedupTemplates(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	probe, err := tx.GetPerson(ctx, id)
	if err != nil {
		return nil, err
	}
	cases, err := tx.CasesOf(ctx, id)
	if err != nil {
		return nil, err
	}
	now := r.clock()
	dups := []Duplicate{}
	ids := slices.Clone(candidates)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, p := range ids {
		if p == id {
			continue
		}
		theirs, err := r.dedupTemplates(ctx, tx, p)
		if err != nil {
			return nil, err
		}
		score, mods := r.fuse(mine, theirs)
		other, err := tx.GetPerson(ctx, p)
		if err != nil {
			return nil, err
		}
		a, b := p, id // the earlier-registered person is A
		if other.CreatedAt.After(probe.CreatedAt) {
			a, b = id, p
		}
		different := false
		for _, c := range cases {
			if c.PersonA != p && c.PersonB != p {
				continue
			}
			switch {
			case c.Decision == "different":
				different = true
			case c.Status == store.CaseOpen:
				a, b = c.PersonA, c.PersonB // one open case per pair, whichever way it was opened
			}
		}
		if different {
			continue
		}
		cs, err := tx.OpenCase(ctx, store.Case{ID: newID(), PersonA: a, PersonB: b, Score: math.Round(score*100) / 100, Modalities: mods, CreatedAt: now})
		if err != nil {
			return nil, err
		}
		dups = append(dups, Duplicate{PersonID: p, Score: cs.Score, CaseID: cs.ID})
	}
	sortDuplicates(dups)
	return dups, nil
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
		e, ok := r.engines[consent.Category(b.Category)]
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
func (r *Registry) fuse(mine, theirs []ownedTemplate) (float64, string) {
	var total float64
	var mods []string
	for _, m := range mine {
		best := 0.0
		for _, o := range theirs {
			if o.cat == m.cat {
				best = max(best, r.engines[m.cat].compare(m.t, o.t))
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
	return total, strings.Join(mods, ",")
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

// Verify compares a capture with the person's own template of that
// modality at that position (verifier or registrar, purpose verification,
// with the person's verification consent). It answers match or no match and
// nothing else; a person with no template at that position gets 422
// not_enrolled (the verifier already holds the person's id, so this tells
// nothing new) and the desk falls back to another check. The policy and
// the enrolment are checked before the capture is decoded.
func (r *Registry) Verify(ctx context.Context, actor Actor, purpose consent.Purpose, in VerifyRequest) (Verification, error) {
	if in.PersonID == "" {
		return Verification{}, missing("person_id")
	}
	cat, err := in.Capture.validate()
	if err != nil {
		return Verification{}, err
	}
	e, ok := r.engines[cat]
	if !ok {
		return Verification{}, invalid("modality", "verification works with fingerprint or iris")
	}
	a := access{actor: actor, purpose: purpose, persons: []string{in.PersonID}, categories: []consent.Category{cat}, action: consent.Read,
		only: []consent.Purpose{consent.Verification}}
	enrolledAt := func(tx store.Tx) ([]store.Biometric, error) {
		bs, err := tx.ListBiometrics(ctx, in.PersonID)
		if err != nil {
			return nil, err
		}
		var at []store.Biometric
		for _, b := range bs {
			if b.Category == string(cat) && b.Position == in.Position {
				at = append(at, b)
			}
		}
		if len(at) == 0 {
			return nil, &InputError{Code: CodeNotEnrolled, Field: "position",
				Detail: fmt.Sprintf("the person has no %s template at %s; verify another way", cat, in.Position)}
		}
		return at, nil
	}
	if err := r.decideFirst(ctx, a, in.PersonID, func(tx store.Tx) error { _, err := enrolledAt(tx); return err }); err != nil {
		if ie := (*InputError)(nil); errors.As(err, &ie) && ie.Code == CodeNotEnrolled {
			r.recordExclusion(ctx, actor, cat, store.ExclusionNotEnrolled)
		}
		return Verification{}, err
	}
	probe, extractErr := r.extract(ctx, cat, in.Capture, false)
	var out Verification
	err = r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		if extractErr != nil {
			return extractErr
		}
		bs, err := enrolledAt(tx)
		if err != nil {
			return err
		}
		for _, b := range bs {
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
	if err == nil && !out.Match {
		r.recordExclusion(ctx, actor, cat, store.ExclusionNoMatch)
	}
	return out, err
}

// decideFirst asks the policy, before any expensive work, whether access a
// to person id would be allowed now, and runs check (if given) in the same
// read. When the answer is no, the request goes through the gate at once,
// which decides again and records the refusal (or check's error), and that
// error is returned; nil means go ahead (the gate decides again, and
// records, when the work is done).
func (r *Registry) decideFirst(ctx context.Context, a access, id string, check func(tx store.Tx) error) error {
	var ok bool
	var checkErr error
	err := r.store.View(ctx, func(tx store.Tx) error {
		f, err := r.loadFacts(ctx, tx, a, id)
		if err != nil {
			return err
		}
		ok, checkErr = r.decide(a, id, f).Allow, nil
		if ok && check != nil {
			checkErr = check(tx)
		}
		return nil
	})
	if err != nil {
		return storeError(err)
	}
	if ok && checkErr == nil {
		return nil
	}
	return r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		if checkErr != nil {
			return checkErr
		}
		// Refused a moment ago, allowed now: the facts changed meanwhile.
		return fmt.Errorf("registry: the policy's facts changed during the request: %w", ErrConflict)
	})
}
