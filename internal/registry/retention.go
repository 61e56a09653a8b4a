package registry

import (
	"context"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// Care retention: what happens to check-up data when a person's
// registration ends (docs/consent.md, "Care data after a withdrawal"). One
// rule, stated by consent.CareRetentionStatement on every receipt and in
// the answer to a withdrawal: with Options.CareRetention 0 the care rows go
// with the person; otherwise they stay, sealed under the person's care
// keys (health, blood_type, dna), readable only by a clinician for care
// (the policy's care_retention), until the period after the erasure ends
// and `assent maintain` deletes them and shreds the keys.

// careMaintenanceActor deletes retained care data at the end of its period.
var careMaintenanceActor = Actor{OperatorID: "system:maintain", Role: consent.Clinician, Route: "assent maintain"}

// careRetainedUntil is when an erased person's retained care data must be
// gone (zero when none is kept).
func (r *Registry) careRetainedUntil(p store.Person) time.Time {
	if r.careRetention <= 0 || p.Status != store.StatusErased {
		return time.Time{}
	}
	return p.UpdatedAt.Add(r.careRetention)
}

// erasePersonRows leaves a tombstone, keeping the care rows when the
// programme retains them.
func (r *Registry) erasePersonRows(ctx context.Context, tx store.Tx, id string, now time.Time) error {
	if err := r.galleryChange(ctx, tx, store.GalleryRemove, "", id, ""); err != nil {
		return err
	}
	if r.careRetention > 0 {
		return tx.ErasePersonKeepCare(ctx, id, now)
	}
	return tx.ErasePerson(ctx, id, now)
}

// shredPersonKeys destroys an erased person's data keys: all of them, or,
// while their care data is retained, all but the care keys. It returns
// how many keys it destroyed.
func (r *Registry) shredPersonKeys(ctx context.Context, id string, retained bool) (int, error) {
	if !retained {
		return r.keys.ShredPerson(ctx, id)
	}
	for _, c := range consent.Categories {
		if c.IsCare() {
			continue
		}
		if err := r.keys.Shred(ctx, id, string(c)); err != nil {
			return 0, err
		}
	}
	return 0, nil
}

// endCareRetention deletes the retained care data of the tombstones whose
// period is over (an audited delete for care by the system) and shreds
// every key they had left. It returns how many persons it finished.
func (r *Registry) endCareRetention(ctx context.Context) (int, error) {
	var ids []string
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		ids, err = tx.ErasedWithCareData(ctx, r.clock().Add(-r.careRetention), 100000)
		return err
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		a := access{actor: careMaintenanceActor, purpose: consent.Care, persons: []string{id}, categories: consent.CareCategories, action: consent.Delete}
		if err := r.guard(ctx, a, func(tx store.Tx, _ map[string]*facts) error {
			return tx.DeleteCareData(ctx, id)
		}); err != nil {
			return n, err
		}
		if _, err := r.keys.ShredPerson(ctx, id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
