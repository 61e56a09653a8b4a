package postgres

import (
	"context"
	"time"
)

// RecordImport marks key (file and line) as imported as personID;
// store.ErrConflict if it already was.
func (t *tx) RecordImport(ctx context.Context, key, personID string, at time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO import_lines("key", person_id, at) VALUES ($1,$2,$3)`, key, personID, ms(at))
	if err != nil {
		return t.fail("record import", err)
	}
	return nil
}

// ImportedPerson returns the person key was imported as, or
// store.ErrNotFound.
func (t *tx) ImportedPerson(ctx context.Context, key string) (string, error) {
	var id string
	if err := t.tx.QueryRow(ctx, `SELECT person_id FROM import_lines WHERE "key" = $1`, key).Scan(&id); err != nil {
		return "", t.fail("imported person", err)
	}
	return id, nil
}
