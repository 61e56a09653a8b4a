package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/failpoint"
	"github.com/assent-registry/assent/internal/store"
)

// The lifecycle of a pending deduplication search (docs/galleries.md):
//
//  1. An enrolment whose 1:N search was partial (Galleries.Search answered
//     complete=false) stores the template, opens the cases of the
//     candidates found, and records a store.PendingSearch, all in one
//     transaction; only then does it answer deduplication "pending".
//  2. CompletePendingSearches (serve runs it every --complete-pending-every;
//     `assent maintain` runs it once) searches again with the stored
//     template. Still partial: the row stays, with one more attempt noted.
//     Complete: in one transaction the row is taken (deleted) and the cases
//     are opened through the gate, as the enrolment opens them, by the
//     system actor pendingActor.
//  3. A person erased, merged into another record, or whose deduplication
//     consent for the modality no longer counts: the row is deleted and no
//     case is opened. (An erasure deletes the row with the template.)

// pendingActor is the system completing pending searches, as the audit log
// records it.
var pendingActor = Actor{OperatorID: "system:deduplication", Role: consent.Registrar, Route: "complete pending deduplication"}

// pendingBatch bounds the rows one run of CompletePendingSearches reads;
// the least recently tried come first, so a long queue is walked in turns.
const pendingBatch = 500

// maxPendingError bounds the reason kept with a row.
const maxPendingError = 200

// whyIncomplete is the reason noted when a search is still partial.
const whyIncomplete = "part of the gallery did not answer"

// ErrGalleriesNotLoaded: the in-process gallery service has not been
// loaded, so a search of it would wrongly look complete.
var ErrGalleriesNotLoaded = errors.New("registry: the in-process 1:N galleries are not loaded (LoadGalleries)")

// galleriesReady tells whether a search of the gallery service means what it
// says: a service that loads itself always, an in-process one once loaded.
func (r *Registry) galleriesReady() bool {
	if _, ok := r.gal.(GalleryLoader); !ok {
		return true
	}
	return r.galLoaded.Load()
}

// PendingSearchCount counts the deduplication searches still pending: a
// count only, no personal data (like OpsStats).
func (r *Registry) PendingSearchCount(ctx context.Context) (int, error) {
	var n int
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.CountPendingSearches(ctx)
		return err
	})
	return n, err
}

// CompletePendingSearches tries once more every pending deduplication
// search (up to pendingBatch of them, the least recently tried first; after
// the first that is still partial, the others are only checked). done
// counts the searches finished now (their cases opened, their rows gone),
// or dropped because the person can no longer be deduplicated; still counts
// those that stay pending (the gallery still did not answer in full, or
// the search failed: the reason is noted on the row). A row another node
// finishes meanwhile counts in neither. It is safe to run on several nodes
// at once: each row is taken by one transaction only, and a pair of people
// has one open case at most. err is a store failure, which stops the run.
func (r *Registry) CompletePendingSearches(ctx context.Context) (done, still int, err error) {
	if !r.galleriesReady() {
		return 0, 0, ErrGalleriesNotLoaded
	}
	var rows []store.PendingSearch
	if err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		rows, err = tx.ListPendingSearches(ctx, pendingBatch)
		return err
	}); err != nil {
		return 0, 0, fmt.Errorf("registry: pending searches: %w", err)
	}
	// Once one search of the run comes back partial, the gallery is still
	// missing a part (every search asks every shard), so the other rows are
	// only checked, not searched, until the next run: a run with a shard
	// down costs one search's wait, not one per row.
	search := true
	for _, p := range rows {
		if err := ctx.Err(); err != nil {
			return done, still, err
		}
		finished, taken, err := r.completePending(ctx, p, search)
		switch {
		case err != nil:
			return done, still, err
		case finished && taken:
			done++
		case !finished:
			still++
			search = false
		}
	}
	return done, still, nil
}

// completePending tries one pending search (only checks it when search is
// false). finished: the row is gone (or must stay gone); taken: this call
// removed it; err: a store failure.
func (r *Registry) completePending(ctx context.Context, p store.PendingSearch, search bool) (finished, taken bool, err error) {
	cat := consent.Category(p.Modality)
	e, ok := r.engines[cat]
	if !ok {
		return r.dropPending(ctx, p)
	}
	// Whether the person can still be deduplicated in this modality, and
	// the template, read as refreshGallery reads them.
	var t template
	var keep bool
	err = r.store.View(ctx, func(tx store.Tx) error {
		t, keep = nil, false
		counts, err := r.dedupConsents(ctx, tx, p.PersonID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || !counts[cat] {
			return err
		}
		bs, err := tx.ListBiometrics(ctx, p.PersonID)
		if err != nil {
			return err
		}
		for _, b := range bs {
			if b.ReferenceID != p.ReferenceID {
				continue
			}
			raw, err := r.keys.Open(ctx, p.PersonID, b.Category, kindTemplate, b.TemplateSealed)
			if err != nil {
				return fmt.Errorf("registry: open template: %w", err)
			}
			if t, err = e.decode(raw); err != nil {
				return err
			}
			keep = true
		}
		return nil
	})
	if err != nil {
		return false, false, fmt.Errorf("registry: pending search: %w", err)
	}
	if !keep { // erased, merged, consent withdrawn, or the reference gone
		return r.dropPending(ctx, p)
	}
	if !search {
		return false, false, nil
	}
	// The template is in the gallery already (it joined at enrolment), so
	// the search needs no search point: an enrolment that races with it
	// finds this person itself (by its search or, numbered after its
	// point, 1:1 at its commit), or is pending too.
	candidates, complete, serr := r.gallerySearch(ctx, cat, t, p.PersonID)
	if serr != nil || !complete {
		why := whyIncomplete
		if serr != nil {
			why = serr.Error()
			r.log.WarnContext(ctx, "pending deduplication: search failed", "err", serr, "reference_id", p.ReferenceID)
		}
		if len(why) > maxPendingError {
			why = why[:maxPendingError]
		}
		err := r.store.Update(ctx, func(tx store.Tx) error { return tx.NotePendingAttempt(ctx, p.ReferenceID, r.clock(), why) })
		if errors.Is(err, store.ErrNotFound) {
			return true, false, nil // finished or erased meanwhile
		}
		return false, false, err
	}
	failpoint.Hit(failpoint.PendingSearched)
	// Complete: take the row and open the cases through the gate, in one
	// transaction; only the transaction that takes the row opens cases.
	a := enrolAccess(pendingActor, consent.Deduplication, p.PersonID, cat)
	a.capture = false // not a capture: no capture metric
	var denied, fnErr error
	err = r.store.Update(ctx, func(tx store.Tx) error {
		taken, denied, fnErr = false, nil, nil
		if _, err := tx.TakePendingSearch(ctx, p.ReferenceID); errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		taken = true
		var err error
		denied, err = r.guardTx(ctx, tx, a, func(tx store.Tx, f map[string]*facts) error {
			if f[p.PersonID].person.AliasOf != "" {
				return nil // merged a moment ago: the row goes, nothing is opened
			}
			_, err := r.deduplicate(ctx, tx, p.PersonID, candidates)
			return err
		})
		if err != nil && denied == nil {
			fnErr = err
		}
		// A refusal (the consent withdrawn a moment ago) commits with its
		// audit event and the row taken: nothing is opened.
		return err
	})
	if taken && err == nil {
		r.notifyAudit()
	}
	r.observe(a, denied, fnErr, err)
	if err != nil {
		return false, false, fmt.Errorf("registry: complete pending search: %w", err)
	}
	return true, taken, nil
}

// dropPending deletes the row of a search that must not be completed (the
// person erased, merged or no longer consenting): no case is opened, and
// nothing is read but the row.
func (r *Registry) dropPending(ctx context.Context, p store.PendingSearch) (finished, taken bool, err error) {
	err = r.store.Update(ctx, func(tx store.Tx) error {
		_, err := tx.TakePendingSearch(ctx, p.ReferenceID)
		taken = err == nil
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return false, false, fmt.Errorf("registry: drop pending search: %w", err)
	}
	return true, taken, nil
}
