package postgres

import (
	"context"

	"github.com/assent-registry/assent/internal/store"
	"github.com/jackc/pgx/v5"
)

// AddIdentifier attaches an identifier of another system to a person;
// store.ErrConflict if (system, lookup) is attached already.
func (t *tx) AddIdentifier(ctx context.Context, id store.PersonIdentifier) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO person_identifiers(system, lookup, person_id, sealed, operator_id, site, at) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		id.System, id.Lookup, id.PersonID, id.Sealed, id.OperatorID, id.Site, ms(id.At))
	if err != nil {
		return t.fail("add identifier", err)
	}
	return nil
}

// PersonByIdentifier returns the person (system, lookup) is attached to.
func (t *tx) PersonByIdentifier(ctx context.Context, system string, lookup []byte) (string, error) {
	var id string
	if err := t.tx.QueryRow(ctx, `SELECT person_id FROM person_identifiers WHERE system = $1 AND lookup = $2`, system, lookup).Scan(&id); err != nil {
		return "", t.fail("person by identifier", err)
	}
	return id, nil
}

// ListIdentifiers lists a person's identifiers in the order attached.
func (t *tx) ListIdentifiers(ctx context.Context, personID string) ([]store.PersonIdentifier, error) {
	return collect(ctx, t, "list identifiers", `SELECT system, lookup, person_id, sealed, operator_id, site, at FROM person_identifiers WHERE person_id = $1 ORDER BY at, system`,
		func(r pgx.Row) (store.PersonIdentifier, error) {
			var id store.PersonIdentifier
			var at int64
			err := r.Scan(&id.System, &id.Lookup, &id.PersonID, &id.Sealed, &id.OperatorID, &id.Site, &at)
			id.At = fromMS(at)
			return id, err
		}, personID)
}
