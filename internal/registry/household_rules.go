package registry

import (
	"context"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// Household rules (docs/registry.md, "Household rules"), each with its own
// code:
//
//   - an area code must have the documented format (400 invalid_area_code;
//     the area registry adds 400 unknown_area for codes it does not know);
//   - the head of a household is of age (422 minor_cannot_be_head), however
//     they would become head: registration, a move, a change of head or a
//     split;
//   - a head does not leave a household where others still live: the
//     household names a new head first (422 head_must_stay);
//   - a person joining a household says how they are related (400
//     missing_field relationship): nothing becomes "other" silently.
const (
	CodeInvalidAreaCode   = "invalid_area_code"    // 400
	CodeMinorCannotBeHead = "minor_cannot_be_head" // 422
	CodeHeadMustStay      = "head_must_stay"       // 422
)

// checkHeadOfAge refuses a minor (at now) as head of household.
func (r *Registry) checkHeadOfAge(field string, birth, now time.Time) error {
	if !birth.IsZero() && consent.IsMinor(birth, now, r.cfg.AgeOfMajority) {
		return &InputError{Code: CodeMinorCannotBeHead, Field: field, Detail: "the head of a household must be of age"}
	}
	return nil
}

// checkHeadStays refuses moving p out of the household they head, or
// demoting them in it, while other members live there. moving lists every
// person leaving that household together (a split).
func checkHeadStays(ctx context.Context, tx store.Tx, p store.Person, toHousehold, rel string, moving []string) error {
	if p.HouseholdID == "" || (p.HouseholdID == toHousehold && rel == "head") {
		return nil
	}
	h, err := tx.GetHousehold(ctx, p.HouseholdID)
	if err != nil {
		return mapNotFound(err)
	}
	if h.HeadID != p.ID {
		return nil
	}
	ms, err := tx.HouseholdMembers(ctx, h.ID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.ID == p.ID {
			continue
		}
		stays := true
		for _, id := range moving {
			if id == m.ID {
				stays = false
			}
		}
		if stays {
			return &InputError{Code: CodeHeadMustStay, Field: "person_id",
				Detail: "this person heads household " + h.ID + ", where others still live: name a new head there first (PUT /v1/households/" + h.ID + "/head)"}
		}
	}
	return nil
}
