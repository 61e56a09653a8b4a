package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/failpoint"
	"github.com/assent-registry/assent/internal/store"
)

// ImportRecord is one line of a bulk import: a person with their consents
// and the biometric captures they consented to.
type ImportRecord struct {
	Person     NewPerson       `json:"person"`
	Biometrics []ImportCapture `json:"biometrics,omitempty"`
}

// ImportCapture is a capture in an import line. Data may be given inline
// (base64) or as File, a path the importer reads (relative to the import
// file).
type ImportCapture struct {
	Capture
	Purpose string `json:"purpose"` // verification or deduplication
	File    string `json:"file,omitempty"`
}

// ImportResult is what one imported line became.
type ImportResult struct {
	PersonID    string      `json:"person_id"`
	Duplicates  []Duplicate `json:"duplicates"`
	AlreadyDone bool        `json:"already_done"`
	// Deduplication is "pending" when part of a gallery did not answer (the
	// search completes later), else empty.
	Deduplication string `json:"deduplication,omitempty"`
}

// ImportOne imports one line atomically under key (file and line): the
// person, their consents and their captures are written in one transaction
// with the audit events and a record that key is done, so a resumed import
// skips it and a killed one leaves nothing half-written. Captures are
// checked against the line's own consents before anything is written.
func (r *Registry) ImportOne(ctx context.Context, actor Actor, key string, rec ImportRecord) (ImportResult, error) {
	np, err := r.prepareNewPerson(actor, consent.Registration, rec.Person)
	if err != nil {
		return ImportResult{}, err
	}
	type prepared struct {
		cat     consent.Category
		purpose consent.Purpose
		c       Capture
		t       template
	}
	var caps []prepared
	lineFacts := consent.Facts{Person: consent.Person{Exists: true, BirthDate: np.access.birth}, Records: np.pending, Now: np.now, Config: r.cfg}
	for i, ic := range rec.Biometrics {
		field := fmt.Sprintf("biometrics[%d]", i)
		cat, err := ic.Capture.validate()
		if err != nil {
			return ImportResult{}, fmt.Errorf("%s: %w", field, err)
		}
		p := consent.Purpose(ic.Purpose)
		if p != consent.Verification && p != consent.Deduplication {
			return ImportResult{}, invalid(field+".purpose", "must be verification or deduplication")
		}
		v := consent.Decide(consent.Request{Role: actor.Role, Purpose: p, PersonID: np.id, Category: cat, Action: consent.Write}, lineFacts)
		if !v.Allow {
			return ImportResult{}, &InputError{Code: CodeConsentRequired, Field: field, Detail: fmt.Sprintf("no counting consent for %s/%s on this line", cat, p)}
		}
		t, err := r.extract(ctx, cat, ic.Capture, true)
		if err != nil {
			return ImportResult{}, fmt.Errorf("%s: %w", field, err)
		}
		caps = append(caps, prepared{cat: cat, purpose: p, c: ic.Capture, t: t})
	}
	// 1:N scans before the transaction, without any turn; then the turns
	// of the modalities searched (in a fixed order) for the transaction,
	// which compares 1:1 what was added since each search (turns.go).
	searches := make([]*dedupSearch, len(caps))
	var turns []consent.Category
	for _, cat := range []consent.Category{consent.Fingerprint, consent.Iris} {
		for i, pc := range caps {
			if pc.cat == cat && pc.purpose == consent.Deduplication {
				s, err := r.search(ctx, cat, pc.t, np.id)
				if err != nil {
					return ImportResult{}, err
				}
				searches[i] = &s
				if !slices.Contains(turns, cat) {
					turns = append(turns, cat)
				}
			}
		}
	}
	var releases []func()
	releaseTurns := func() { // the turns end with the commit and the gallery Adds
		for i := len(releases) - 1; i >= 0; i-- {
			releases[i]()
		}
		releases = nil
	}
	defer releaseTurns()
	for _, cat := range turns {
		release, err := r.dedupTurn(ctx, cat)
		if err != nil {
			return ImportResult{}, err
		}
		releases = append(releases, release)
	}
	pending := false
	var out ImportResult
	var added []string
	var final []string // the gallery refs of the last attempt
	err = r.store.Update(ctx, func(tx store.Tx) error {
		final, pending = nil, false
		if id, err := tx.ImportedPerson(ctx, key); err == nil {
			out = ImportResult{PersonID: id, AlreadyDone: true, Duplicates: []Duplicate{}}
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		denied, err := r.guardTx(ctx, tx, np.access, func(tx store.Tx, _ map[string]*facts) error {
			_, err := r.insertPerson(ctx, tx, np)
			return err
		})
		if err := firstErr(denied, err); err != nil {
			return err
		}
		out = ImportResult{PersonID: np.id, Duplicates: []Duplicate{}}
		for i, pc := range caps {
			denied, err := r.guardTx(ctx, tx, enrolAccess(actor, pc.purpose, np.id, pc.cat), func(tx store.Tx, f map[string]*facts) error {
				e, a, err := r.enrolTx(ctx, tx, f[np.id].person, pc.purpose, pc.cat, pc.c, pc.t, searches[i])
				pending = pending || e.Deduplication == DedupPending
				if a != "" {
					added = append(added, a)
					final = append(final, a)
				}
				out.Duplicates = append(out.Duplicates, e.Duplicates...)
				return err
			})
			if err := firstErr(denied, err); err != nil {
				return err
			}
		}
		return tx.RecordImport(ctx, key, np.id, time.Now().UTC())
	})
	committed := map[string]bool{}
	if err == nil {
		for _, id := range final {
			committed[id] = true
		}
	}
	for _, a := range added { // refs of failed or retried attempts leave the gallery
		if !committed[a] {
			if rerr := r.gal.Remove(ctx, np.id, a); rerr != nil {
				r.log.ErrorContext(ctx, "gallery: remove an uncommitted template", "err", rerr, "reference_id", a)
			}
		}
	}
	releaseTurns()
	if err != nil {
		return ImportResult{}, storeError(err)
	}
	failpoint.Hit(failpoint.EnrolCommitted)
	r.galleryFlush(ctx)
	if !out.AlreadyDone {
		r.observe(np.access, nil, nil, nil)
		for _, pc := range caps {
			r.observe(enrolAccess(actor, pc.purpose, np.id, pc.cat), nil, nil, nil)
		}
	}
	r.notifyAudit()
	if pending && !out.AlreadyDone {
		out.Deduplication = DedupPending
	}
	return out, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
