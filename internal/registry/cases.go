package registry

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// CaseView is a possible duplicate as an adjudicator lists it.
type CaseView struct {
	ID         string     `json:"id"`
	Status     string     `json:"status"`
	PersonIDs  []string   `json:"person_ids"` // the earlier-registered first
	Score      float64    `json:"score"`
	Modalities []string   `json:"modalities"`
	Decision   string     `json:"decision,omitempty"`
	Note       string     `json:"note,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	DecidedAt  *time.Time `json:"decided_at,omitempty"`
}

// CaseSide is one person of a case, for the side-by-side view.
type CaseSide struct {
	Person PersonView `json:"person"`
	// FacePhoto (base64 JPEG or PNG) is shown only when both people
	// consented to face deduplication.
	FacePhoto  []byte   `json:"face_photo,omitempty"`
	Biometrics []string `json:"biometrics"` // positions enrolled for deduplication
}

// CaseDetail is both records side by side with the scores.
type CaseDetail struct {
	CaseView
	Records []CaseSide `json:"records"`
	// Fingerprints are the minutiae of the fingerprint evidence pairs,
	// present only when the policy lets the adjudicator see both people's
	// fingerprints (the gate decides and records that, like the face).
	Fingerprints []FingerprintPair `json:"fingerprints,omitempty"`
}

func caseView(c store.Case) CaseView {
	mods := []string{}
	if c.Modalities != "" {
		mods = strings.Split(c.Modalities, ",")
	}
	return CaseView{ID: c.ID, Status: c.Status, PersonIDs: []string{c.PersonA, c.PersonB}, Score: c.Score, Modalities: mods,
		Decision: c.Decision, Note: c.Note, CreatedAt: c.CreatedAt, DecidedAt: c.DecidedAt}
}

// dedupOnly: adjudication serves deduplication and nothing else.
var dedupOnly = []consent.Purpose{consent.Deduplication}

// MaxCases bounds one listing of open cases.
const MaxCases = 100

// Cases lists open cases (adjudicator, purpose deduplication); each person
// named is an audited identity read.
func (r *Registry) Cases(ctx context.Context, actor Actor, purpose consent.Purpose) ([]CaseView, error) {
	var open []store.Case
	if err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		open, err = tx.ListCases(ctx, store.CaseOpen, MaxCases)
		return err
	}); err != nil {
		return nil, err
	}
	var persons []string
	seen := map[string]bool{}
	for _, c := range open {
		for _, p := range []string{c.PersonA, c.PersonB} {
			if !seen[p] {
				seen[p] = true
				persons = append(persons, p)
			}
		}
	}
	out := []CaseView{}
	a := access{actor: actor, purpose: purpose, persons: persons, categories: []consent.Category{consent.Identity}, action: consent.Adjudicate, only: dedupOnly}
	err := r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
		out = out[:0] // a backend may retry this function
		for _, c := range open {
			out = append(out, caseView(c))
		}
		return nil
	})
	return out, err
}

func (r *Registry) loadCase(ctx context.Context, id string) (store.Case, error) {
	var c store.Case
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		c, err = tx.GetCase(ctx, id)
		return err
	})
	return c, mapNotFound(err)
}

// Case shows both records of a case side by side (adjudicator, purpose
// deduplication).
func (r *Registry) Case(ctx context.Context, actor Actor, purpose consent.Purpose, id string) (CaseDetail, error) {
	c, err := r.loadCase(ctx, id)
	if err != nil {
		return CaseDetail{}, err
	}
	out := CaseDetail{CaseView: caseView(c)}
	// The face photo is shown only when the policy lets the adjudicator see
	// both people's faces; the gate decides and records that too.
	a := access{actor: actor, purpose: purpose, persons: []string{c.PersonA, c.PersonB}, categories: []consent.Category{consent.Identity},
		optional: []consent.Category{consent.Face, consent.Fingerprint}, action: consent.Adjudicate, only: dedupOnly}
	err = r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		out.Records, out.Fingerprints = nil, nil // a backend may retry this function
		faces := f[c.PersonA].optional[consent.Face]
		if f[c.PersonA].optional[consent.Fingerprint] {
			ps, err := r.fingerprintPairs(ctx, tx, c.PersonA, c.PersonB)
			if err != nil {
				return err
			}
			out.Fingerprints = ps
		}
		for _, p := range []string{c.PersonA, c.PersonB} {
			side := CaseSide{Person: view(f[p].person, f[p].identity), Biometrics: []string{}}
			bs, err := tx.ListBiometrics(ctx, p)
			if err != nil {
				return err
			}
			for _, b := range bs {
				switch {
				case b.Category == string(consent.Face) && faces && side.FacePhoto == nil:
					photo, err := r.keys.Open(ctx, p, b.Category, kindTemplate, b.TemplateSealed)
					if err != nil {
						return fmt.Errorf("registry: open face photo: %w", err)
					}
					side.FacePhoto = photo
				case b.Purpose == string(consent.Deduplication):
					side.Biometrics = append(side.Biometrics, b.Category+"/"+b.Position)
				}
			}
			out.Records = append(out.Records, side)
		}
		return nil
	})
	return out, err
}

// CaseDecision is an adjudicator's verdict on a case.
type CaseDecision struct {
	Decision string `json:"decision"` // same or different
	Note     string `json:"note,omitempty"`
}

// DecideCase records a verdict. "same" makes the newer record an alias of
// the older one (both consent histories are kept; the alias leaves the 1:N
// gallery); "different" closes the case and keeps the pair from being
// proposed again. A case never blocks care.
func (r *Registry) DecideCase(ctx context.Context, actor Actor, purpose consent.Purpose, id string, in CaseDecision) (CaseView, error) {
	if err := checkEnum("decision", in.Decision, []string{"same", "different"}); err != nil {
		return CaseView{}, err
	}
	if len(in.Note) > 2000 {
		return CaseView{}, invalid("note", "longer than 2000 bytes")
	}
	c, err := r.loadCase(ctx, id)
	if err != nil {
		return CaseView{}, err
	}
	var out CaseView
	a := access{actor: actor, purpose: purpose, persons: []string{c.PersonA, c.PersonB}, categories: []consent.Category{consent.Identity}, action: consent.Adjudicate, only: dedupOnly}
	err = r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		if c.Status != store.CaseOpen {
			return &InputError{Code: CodeCaseClosed, Field: "decision", Detail: "this case was already decided (" + c.Decision + "); a decision is final"}
		}
		now := r.clock()
		c.Decision, c.Note, c.DecidedBy, c.DecidedAt = in.Decision, in.Note, actor.OperatorID, &now
		if err := tx.DecideCase(ctx, c); err != nil {
			return err
		}
		if in.Decision == "same" {
			b := f[c.PersonB].person
			b.AliasOf, b.Version, b.UpdatedAt = c.PersonA, b.Version+1, now
			if err := tx.UpdatePerson(ctx, b); err != nil {
				return err
			}
			// An alias is not a second person: it leaves the statistics.
			if err := tx.DeletePersonStats(ctx, b.ID); err != nil {
				return err
			}
			// and the galleries (its templates answer for A through the case).
			if err := r.galleryChange(ctx, tx, store.GalleryRemove, "", b.ID, ""); err != nil {
				return err
			}
		}
		c.Status = store.CaseDecided
		out = caseView(c)
		return nil
	})
	if err != nil {
		return out, err
	}
	if in.Decision == "same" {
		if err := r.gal.Remove(ctx, c.PersonB, ""); err != nil {
			return out, err
		}
	}
	return out, nil
}

// closeCasesOf closes the open cases of a person who can no longer be
// deduplicated (withdrawal or erasure), so no adjudicator sees them again.
func (r *Registry) closeCasesOf(ctx context.Context, id string) error {
	return r.store.Update(ctx, func(tx store.Tx) error {
		cs, err := tx.CasesOf(ctx, id)
		if err != nil {
			return err
		}
		now := r.clock()
		for _, c := range cs {
			if c.Status != store.CaseOpen {
				continue
			}
			c.Decision, c.Note, c.DecidedBy, c.DecidedAt = "withdrawn", "closed: a person withdrew from deduplication or was erased", "system", &now
			if err := tx.DecideCase(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
}
