package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/assent-registry/assent/internal/store"
)

// --- deduplication searches still to finish (dedup_pending) ---

const pendingCols = `reference_id, person_id, modality, since, attempts, tried_at, last_error`

// msOrZero stores the zero time as 0.
func msOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return ms(t)
}

func scanPending(row interface{ Scan(...any) error }) (store.PendingSearch, error) {
	var p store.PendingSearch
	var since, tried int64
	if err := row.Scan(&p.ReferenceID, &p.PersonID, &p.Modality, &since, &p.Attempts, &tried, &p.LastError); err != nil {
		return p, err
	}
	p.Since = fromMS(since)
	if tried != 0 {
		p.TriedAt = fromMS(tried)
	}
	return p, nil
}

func (t *tx) AddPendingSearch(ctx context.Context, p store.PendingSearch) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO dedup_pending(`+pendingCols+`) VALUES (?,?,?,?,?,?,?)`,
		p.ReferenceID, p.PersonID, p.Modality, ms(p.Since), p.Attempts, msOrZero(p.TriedAt), p.LastError)
	if err != nil {
		return conflictOr("sqlite: add pending search", err)
	}
	return nil
}

func (t *tx) ListPendingSearches(ctx context.Context, limit int) ([]store.PendingSearch, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+pendingCols+` FROM dedup_pending ORDER BY tried_at, since, reference_id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list pending searches: %w", err)
	}
	defer rows.Close()
	var out []store.PendingSearch
	for rows.Next() {
		p, err := scanPending(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list pending searches: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list pending searches: %w", err)
	}
	return out, nil
}

// TakePendingSearch: SQLite has one writer at a time, so the delete of one
// transaction is seen by the next.
func (t *tx) TakePendingSearch(ctx context.Context, ref string) (store.PendingSearch, error) {
	p, err := scanPending(t.tx.QueryRowContext(ctx, `DELETE FROM dedup_pending WHERE reference_id = ? RETURNING `+pendingCols, ref))
	if err != nil {
		return p, notFound("sqlite: take pending search", err)
	}
	return p, nil
}

func (t *tx) NotePendingAttempt(ctx context.Context, ref string, at time.Time, why string) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE dedup_pending SET attempts = attempts + 1, tried_at = ?, last_error = ? WHERE reference_id = ?`, ms(at), why, ref)
	return mustAffect("sqlite: note pending attempt", res, err)
}

func (t *tx) CountPendingSearches(ctx context.Context) (int, error) {
	var n int
	if err := t.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM dedup_pending`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count pending searches: %w", err)
	}
	return n, nil
}
