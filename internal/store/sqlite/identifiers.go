package sqlite

import (
	"context"
	"fmt"

	"github.com/assent-registry/assent/internal/store"
)

// AddIdentifier attaches an identifier of another system to a person;
// store.ErrConflict if (system, lookup) is attached already.
func (t *tx) AddIdentifier(ctx context.Context, id store.PersonIdentifier) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO person_identifiers(system, lookup, person_id, sealed, operator_id, site, at) VALUES (?,?,?,?,?,?,?)`,
		id.System, id.Lookup, id.PersonID, id.Sealed, id.OperatorID, id.Site, ms(id.At))
	if err != nil {
		return conflictOr("sqlite: add identifier", err)
	}
	return nil
}

// PersonByIdentifier returns the person (system, lookup) is attached to.
func (t *tx) PersonByIdentifier(ctx context.Context, system string, lookup []byte) (string, error) {
	var id string
	if err := t.tx.QueryRowContext(ctx, `SELECT person_id FROM person_identifiers WHERE system = ? AND lookup = ?`, system, lookup).Scan(&id); err != nil {
		return "", notFound("sqlite: person by identifier", err)
	}
	return id, nil
}

// ListIdentifiers lists a person's identifiers in the order attached.
func (t *tx) ListIdentifiers(ctx context.Context, personID string) ([]store.PersonIdentifier, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT system, lookup, person_id, sealed, operator_id, site, at FROM person_identifiers WHERE person_id = ? ORDER BY at, system`, personID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list identifiers: %w", err)
	}
	defer rows.Close()
	var out []store.PersonIdentifier
	for rows.Next() {
		var id store.PersonIdentifier
		var at int64
		if err := rows.Scan(&id.System, &id.Lookup, &id.PersonID, &id.Sealed, &id.OperatorID, &id.Site, &at); err != nil {
			return nil, fmt.Errorf("sqlite: list identifiers: %w", err)
		}
		id.At = fromMS(at)
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list identifiers: %w", err)
	}
	return out, nil
}
