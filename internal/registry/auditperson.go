package registry

import (
	"context"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// AuditEventsForPerson lists the audit metadata about one person for an
// auditor (at most MaxAuditPage, from the oldest): ids, roles, sites,
// purposes and outcomes, never a name. Like AuditEvents it is an operation
// on audit metadata (consent.ReadAuditLog), decided on the role alone and
// recorded through the gate.
func (r *Registry) AuditEventsForPerson(ctx context.Context, actor Actor, personID string) ([]AuditEntry, error) {
	if personID == "" {
		return nil, missing("patient")
	}
	out := []AuditEntry{}
	err := r.guard(ctx, operationAccess(actor, consent.ReadAuditLog), func(tx store.Tx, _ map[string]*facts) error {
		out = out[:0] // a backend may retry this function
		rows, err := tx.AuditRowsForPerson(ctx, personID, MaxAuditPage)
		if err != nil {
			return err
		}
		for _, row := range rows {
			e, err := entryFrom(row)
			if err != nil {
				return err
			}
			if e.PersonID == personID { // the index column may be edited; the event is the truth
				out = append(out, e)
			}
		}
		return nil
	})
	return out, err
}
