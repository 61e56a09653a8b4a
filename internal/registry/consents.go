package registry

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/failpoint"
	"github.com/assent-registry/assent/internal/store"
)

// NewConsent is one answer recorded after registration: a grant, a decline
// or a withdrawal, by the person or (for a minor) their guardian.
type NewConsent struct {
	Category      string `json:"category"`
	Purpose       string `json:"purpose"`
	Decision      string `json:"decision"`
	Method        string `json:"method"`
	NoticeVersion string `json:"notice_version"`
	Language      string `json:"language"`
	GuardianID    string `json:"guardian_id,omitempty"`
}

// ConsentView is one consent record.
type ConsentView struct {
	Seq           int64     `json:"seq"`
	Category      string    `json:"category"`
	Purpose       string    `json:"purpose"`
	Decision      string    `json:"decision"`
	Method        string    `json:"method"`
	NoticeVersion string    `json:"notice_version"`
	Language      string    `json:"language"`
	OperatorID    string    `json:"operator_id,omitempty"`
	Site          string    `json:"site,omitempty"`
	GuardianID    string    `json:"guardian_id,omitempty"`
	At            time.Time `json:"at"`
}

// ConsentRecorded is the answer to recording a consent.
type ConsentRecorded struct {
	Consent ConsentView `json:"consent"`
	// Erased lists the categories whose data was destroyed because of this
	// answer; ErasedPerson is set when the whole person was.
	Erased       []string `json:"erased"`
	ErasedPerson bool     `json:"erased_person"`
	Receipt      Receipt  `json:"receipt"`
	// Notice says, in words for the person, what the answer did and what
	// happens to their check-up records (the portal's confirmation).
	Notice string `json:"notice"`
}

// consentNotice is the confirmation of an answer: what it did, then the
// care retention rule, so that what the person is told is what happens.
func (r *Registry) consentNotice(rec consent.Record, shred []consent.Category, person bool) string {
	var did string
	switch {
	case person:
		did = "Your registration is withdrawn: your record, identity and biometric data are erased."
	case len(shred) > 0:
		names := make([]string, len(shred))
		for i, c := range shred {
			names[i] = string(c)
		}
		did = "Recorded: " + string(rec.Decision) + " for " + string(rec.Category) + " / " + string(rec.Purpose) + ". Erased, as nothing else uses it: " + strings.Join(names, ", ") + "."
	default:
		did = "Recorded: " + string(rec.Decision) + " for " + string(rec.Category) + " / " + string(rec.Purpose) + "."
	}
	return did + " " + consent.CareRetentionStatement(r.careRetention)
}

func consentView(c store.ConsentRecord) ConsentView {
	return ConsentView{Seq: c.Seq, Category: c.Category, Purpose: c.Purpose, Decision: c.Decision, Method: c.Method,
		NoticeVersion: c.NoticeVersion, Language: c.Language, OperatorID: c.OperatorID, Site: c.Site, GuardianID: c.GuardianID, At: c.At}
}

func (in *NewConsent) validate(subject bool) error {
	if in.Category == "" {
		return missing("category")
	}
	if in.Purpose == "" {
		return missing("purpose")
	}
	if !consent.Category(in.Category).Valid() {
		return invalid("category", "unknown category")
	}
	if !consent.Purpose(in.Purpose).Valid() {
		return invalid("purpose", "unknown purpose")
	}
	if !consent.ValidPair(consent.Category(in.Category), consent.Purpose(in.Purpose)) {
		return invalid("purpose", "no consent is asked for this (category, purpose); care needs none")
	}
	if !consent.Decision(in.Decision).Valid() {
		return invalid("decision", "must be granted, declined or withdrawn")
	}
	if subject {
		// The person answering through the portal: the method is the
		// portal, and the notice version and language, which the person
		// cannot know, are filled from their record (fillFromRecord).
		if in.Method == "" {
			in.Method = "portal"
		}
	}
	for _, f := range []struct{ name, v string }{{"method", in.Method}, {"notice_version", in.NoticeVersion}, {"language", in.Language}} {
		if strings.TrimSpace(f.v) == "" && !(subject && f.name != "method") {
			return missing(f.name)
		}
	}
	return nil
}

// fillFromRecord completes a portal answer's notice version and language
// from the person's own records: the latest answer about the same pair,
// else the registration's.
func (in *NewConsent) fillFromRecord(records []consent.Record) error {
	state := consent.State(records)
	for _, p := range []consent.Pair{{Category: consent.Category(in.Category), Purpose: consent.Purpose(in.Purpose)}, {Category: consent.Identity, Purpose: consent.Registration}} {
		if rec, ok := state[p]; ok {
			if in.NoticeVersion == "" {
				in.NoticeVersion = rec.NoticeVersion
			}
			if in.Language == "" {
				in.Language = rec.Language
			}
		}
	}
	if in.NoticeVersion == "" {
		return missing("notice_version")
	}
	if in.Language == "" {
		return missing("language")
	}
	return nil
}

// RecordConsent appends one answer. When it withdraws or declines the last
// counting purpose of a category, that category's data is destroyed in the
// same transaction and its key shredded right after; withdrawing
// identity/registration erases the person, leaving a tombstone.
func (r *Registry) RecordConsent(ctx context.Context, actor Actor, purpose consent.Purpose, id string, in NewConsent) (ConsentRecorded, error) {
	if err := in.validate(actor.Role == consent.Subject); err != nil {
		return ConsentRecorded{}, err
	}
	if in.GuardianID != "" && in.GuardianID == id {
		return ConsentRecorded{}, invalid("guardian_id", "a person is not their own guardian")
	}
	var out ConsentRecorded
	var shred []consent.Category
	var erasePerson bool
	a := access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{consent.Category(in.Category)}, action: consent.ManageConsent}
	// A grant may make the person's deduplication templates count again:
	// they are then additions to the galleries, numbered under the turns
	// of their modalities and refreshed in an in-process gallery before
	// the turns end (turns.go).
	turns := r.consentTurns(consent.Category(in.Category), consent.Decision(in.Decision))
	for _, cat := range turns {
		release, err := r.dedupTurn(ctx, cat)
		if err != nil {
			return ConsentRecorded{}, err
		}
		defer release()
	}
	err := r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		in := in // a backend may retry this function
		if err := in.fillFromRecord(f[id].records); err != nil {
			return err
		}
		now := r.clock()
		rec := consent.Record{PersonID: id, Category: consent.Category(in.Category), Purpose: consent.Purpose(in.Purpose),
			Decision: consent.Decision(in.Decision), Method: in.Method, NoticeVersion: in.NoticeVersion, Language: in.Language,
			OperatorID: actor.OperatorID, Site: actor.Site, GuardianID: in.GuardianID, At: now}
		if err := consent.CheckGuardian(rec, f[id].birth, r.cfg.AgeOfMajority); err != nil {
			return &InputError{Code: CodeGuardianRequired, Field: "guardian_id", Detail: "a minor's consent is given by a guardian"}
		}
		if rec.GuardianID != "" {
			if !consent.IsMinor(f[id].birth, now, r.cfg.AgeOfMajority) {
				return &InputError{Code: CodeGuardianNotNeeded, Field: "guardian_id", Detail: "the person is of age and answers for themself; send no guardian_id"}
			}
			if err := r.checkGuardian(ctx, tx, rec.GuardianID, now); err != nil {
				return err
			}
		}
		stored, err := tx.AppendConsent(ctx, toStoreConsent(rec))
		if err != nil {
			return err
		}
		shred, erasePerson = consent.AfterWithdrawal(f[id].records, rec)
		if rec.Category == consent.DNA && rec.Decision != consent.Granted && !erasePerson {
			if err := r.requestDestruction(ctx, tx, actor, id); err != nil {
				return err
			}
		}
		if erasePerson {
			if err := r.erasePersonRows(ctx, tx, id, now); err != nil {
				return err
			}
		} else {
			for _, c := range shred {
				if err := r.eraseCategoryRows(ctx, tx, id, c); err != nil {
					return err
				}
			}
		}
		if _, ok := r.engines[rec.Category]; !erasePerson && (rec.Category == consent.Identity || ok) {
			// The galleries bring the person in line with the new consents.
			if err := r.galleryChange(ctx, tx, store.GallerySync, "", id, ""); err != nil {
				return err
			}
		}
		if !erasePerson {
			if err := r.renumberDedup(ctx, tx, id, turns); err != nil {
				return err
			}
		}
		out.Consent = consentView(stored)
		out.ErasedPerson = erasePerson
		out.Erased = []string{}
		for _, c := range shred {
			out.Erased = append(out.Erased, string(c))
		}
		out.Notice = r.consentNotice(rec, shred, erasePerson)
		out.Receipt, err = r.receipt(ctx, id, f[id].person.Number, []consent.Record{rec}, "", now, actor.Site)
		return err
	})
	if err != nil {
		return out, err
	}
	if erasePerson {
		failpoint.Hit(failpoint.EraseCommitted)
	}
	if err := r.shredAfterCommit(ctx, id, shred, erasePerson); err != nil {
		return out, err
	}
	if c := consent.Category(in.Category); c == consent.Identity || c.IsBiometric() {
		if err := r.afterDedupChange(ctx, id); err != nil {
			return out, err
		}
	}
	return out, nil
}

// afterDedupChange keeps the gallery and the open cases in line with a
// person's consents after a change (or an erasure).
func (r *Registry) afterDedupChange(ctx context.Context, id string) error {
	if err := r.refreshGallery(ctx, id); err != nil {
		return err
	}
	var any bool
	if err := r.store.View(ctx, func(tx store.Tx) error {
		counts, err := r.dedupConsents(ctx, tx, id)
		for _, ok := range counts {
			any = any || ok
		}
		return err
	}); err != nil {
		return err
	}
	if !any {
		return r.closeCasesOf(ctx, id)
	}
	return nil
}

// eraseCategoryRows deletes the rows of category c of a person (inside the
// transaction that records why). Care categories are kept: care never
// depends on consent (consent.AfterWithdrawal never returns them).
func (r *Registry) eraseCategoryRows(ctx context.Context, tx store.Tx, id string, c consent.Category) error {
	switch c {
	case consent.Health, consent.BloodType:
		return tx.DeleteExamCategory(ctx, id, string(c))
	}
	if _, ok := r.engines[c]; ok {
		if err := r.galleryChange(ctx, tx, store.GallerySync, "", id, ""); err != nil {
			return err
		}
	}
	if e, ok := tx.(biometricEraser); ok {
		return e.DeleteBiometrics(ctx, id, string(c))
	}
	return nil
}

// biometricEraser is the optional store ability to delete biometric rows.
type biometricEraser interface {
	DeleteBiometrics(ctx context.Context, personID, category string) error
}

// shredAfterCommit destroys the data keys once the erasure is committed. A
// failure here leaves rows already deleted and keys that `assent maintain`
// shreds on its next run (it shreds every tombstone's keys).
func (r *Registry) shredAfterCommit(ctx context.Context, id string, cats []consent.Category, person bool) error {
	if person {
		_, err := r.shredPersonKeys(ctx, id, r.careRetention > 0)
		return err
	}
	var errs []error
	for _, c := range cats {
		errs = append(errs, r.keys.Shred(ctx, id, string(c)))
	}
	return errors.Join(errs...)
}

// Consents lists a person's current consent states (the latest answer per
// (category, purpose)), or every record when history is true.
func (r *Registry) Consents(ctx context.Context, actor Actor, purpose consent.Purpose, id string, history bool) ([]ConsentView, error) {
	out := []ConsentView{}
	a := access{actor: actor, purpose: purpose, persons: []string{id}, categories: []consent.Category{consent.Identity}, action: consent.ManageConsent}
	err := r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
		out = out[:0] // a backend may retry this function
		hist, err := tx.ConsentHistory(ctx, id)
		if err != nil {
			return err
		}
		if history {
			for _, h := range hist {
				out = append(out, consentView(h))
			}
			return nil
		}
		latest := map[[2]string]store.ConsentRecord{}
		for _, h := range hist { // ConsentHistory is ordered by seq: the last wins
			latest[[2]string{h.Category, h.Purpose}] = h
		}
		for _, h := range latest {
			out = append(out, consentView(h))
		}
		slices.SortFunc(out, func(a, b ConsentView) int { return cmp.Compare(a.Seq, b.Seq) })
		return nil
	})
	return out, err
}
