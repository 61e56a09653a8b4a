package registry

import (
	"context"
	"errors"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// MaintenanceReport says what a maintenance run did.
type MaintenanceReport struct {
	Checked         int `json:"checked"`
	ErasedPersons   int `json:"erased_persons"`
	ErasedData      int `json:"erased_categories"`
	ShreddedPersons int `json:"shredded_tombstones"`
	// CareDataErased counts erased persons whose retained care data reached
	// the end of its period and was deleted (Options.CareRetention).
	CareDataErased int `json:"care_data_erased"`
	// Reprojected counts persons whose statistics projection, written
	// before migration 0011, was rewritten from their sealed record.
	Reprojected int `json:"reprojected"`
	// SharedPruned counts dead sessions and login counters deleted.
	SharedPruned int `json:"sessions_and_counters_pruned"`
}

// maintenanceActor is the system itself, as recorded in the audit log.
var maintenanceActor = Actor{OperatorID: "system:maintain", Role: consent.Registrar, Route: "assent maintain"}

// Maintain applies the time-based rules: persons who came of age and did not
// re-affirm guardian consents past the grace period lose the data those
// consents covered (all of it when registration itself lapsed), and every
// tombstone's keys are shredded (idempotent: it finishes an erasure whose
// key shredding was interrupted). Every erasure is an audited delete.
func (r *Registry) Maintain(ctx context.Context) (MaintenanceReport, error) {
	var rep MaintenanceReport
	var err error
	if rep.SharedPruned, err = r.PruneShared(ctx); err != nil {
		return rep, err
	}
	if rep.CareDataErased, err = r.endCareRetention(ctx); err != nil {
		return rep, err
	}
	if rep.Reprojected, err = r.reprojectStale(ctx); err != nil {
		return rep, err
	}
	var ids []string
	err = r.store.View(ctx, func(tx store.Tx) error {
		lister, ok := tx.(personLister)
		if !ok {
			return errors.New("registry: maintain: the store cannot list persons")
		}
		var err error
		ids, err = lister.PersonIDs(ctx)
		return err
	})
	if err != nil {
		return rep, err
	}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		rep.Checked++
		var due []consent.Category
		var erased, retained bool
		err := r.store.View(ctx, func(tx store.Tx) error {
			a := access{actor: maintenanceActor}
			f, err := r.loadFacts(ctx, tx, a, id)
			if err != nil {
				return err
			}
			if f.person.Status == store.StatusErased {
				erased = true
				retained = r.clock().Before(r.careRetainedUntil(f.person))
				return nil
			}
			due = consent.DueForErasure(consent.Facts{Person: consent.Person{Exists: true, BirthDate: f.birth}, Records: f.records, Now: r.clock(), Config: r.cfg})
			return nil
		})
		if err != nil {
			return rep, err
		}
		if erased {
			if n, err := r.shredPersonKeys(ctx, id, retained); err != nil {
				return rep, err
			} else if n > 0 {
				rep.ShreddedPersons++
			}
			continue
		}
		if len(due) == 0 {
			continue
		}
		person := false
		for _, c := range due {
			if c == consent.Identity {
				person = true
			}
		}
		a := access{actor: maintenanceActor, purpose: consent.Registration, persons: []string{id}, categories: []consent.Category{consent.Identity}, action: consent.Delete}
		err = r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
			if person {
				return r.erasePersonRows(ctx, tx, id, r.clock())
			}
			for _, c := range due {
				if err := r.eraseCategoryRows(ctx, tx, id, c); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return rep, err
		}
		if err := r.shredAfterCommit(ctx, id, due, person); err != nil {
			return rep, err
		}
		if err := r.afterDedupChange(ctx, id); err != nil {
			return rep, err
		}
		if person {
			rep.ErasedPersons++
		} else {
			rep.ErasedData += len(due)
		}
	}
	return rep, nil
}

// personLister is the optional store ability to list every person id.
type personLister interface {
	PersonIDs(ctx context.Context) ([]string, error)
}

// reprojectStale rewrites, from the sealed record, the statistics
// projection of every person projected before migration 0011 (people
// projected before 0009 lacked the estimated birth date mark, which is
// sealed with their identity). Each rewrite is a gated, audited write of the
// person's identity category by the system; the count tables follow in the
// same transaction. A person the gate refuses keeps their projection and is
// tried again at the next run.
func (r *Registry) reprojectStale(ctx context.Context) (int, error) {
	n, after := 0, ""
	for {
		var ids []string
		err := r.store.View(ctx, func(tx store.Tx) error {
			var err error
			ids, err = tx.PersonsToReproject(ctx, after, 500)
			return err
		})
		if err != nil || len(ids) == 0 {
			return n, err
		}
		after = ids[len(ids)-1]
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return n, err
			}
			a := access{actor: maintenanceActor, purpose: consent.Registration, persons: []string{id}, categories: []consent.Category{consent.Identity}, action: consent.Write}
			err := r.guard(ctx, a, func(tx store.Tx, f map[string]*facts) error {
				return projectPerson(ctx, tx, f[id].person, f[id].identity, registeringOperator(f[id].records))
			})
			var denied *DeniedError
			switch {
			case err == nil:
				n++
			case errors.As(err, &denied), errors.Is(err, ErrNotFound), errors.Is(err, ErrErased):
				r.log.WarnContext(ctx, "maintain: projection not rewritten (refused)", "err", err)
			default:
				return n, err
			}
		}
	}
}
