package postgres

import (
	"context"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/jackc/pgx/v5"
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

func scanPending(row pgx.Row) (store.PendingSearch, error) {
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
	_, err := t.tx.Exec(ctx, `INSERT INTO dedup_pending(`+pendingCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
		p.ReferenceID, p.PersonID, p.Modality, ms(p.Since), p.Attempts, msOrZero(p.TriedAt), p.LastError)
	if err != nil {
		return t.fail("add pending search", err)
	}
	return nil
}

func (t *tx) ListPendingSearches(ctx context.Context, limit int) ([]store.PendingSearch, error) {
	return collect(ctx, t, "list pending searches",
		`SELECT `+pendingCols+` FROM dedup_pending ORDER BY tried_at, since, reference_id LIMIT $1`, scanPending, limit)
}

// TakePendingSearch deletes the row under its lock. A second transaction
// deleting the same row waits for the first; when the first commits, the
// second (serializable) fails with a serialization error, and Update's
// retry finds no row: one taker only.
func (t *tx) TakePendingSearch(ctx context.Context, ref string) (store.PendingSearch, error) {
	p, err := scanPending(t.tx.QueryRow(ctx, `DELETE FROM dedup_pending WHERE reference_id = $1 RETURNING `+pendingCols, ref))
	if err != nil {
		return p, t.fail("take pending search", err)
	}
	return p, nil
}

func (t *tx) NotePendingAttempt(ctx context.Context, ref string, at time.Time, why string) error {
	tag, err := t.tx.Exec(ctx, `UPDATE dedup_pending SET attempts = attempts + 1, tried_at = $1, last_error = $2 WHERE reference_id = $3`, ms(at), why, ref)
	return t.affected("note pending attempt", tag, err)
}

func (t *tx) CountPendingSearches(ctx context.Context) (int, error) {
	var n int
	if err := t.tx.QueryRow(ctx, `SELECT COUNT(*) FROM dedup_pending`).Scan(&n); err != nil {
		return 0, t.fail("count pending searches", err)
	}
	return n, nil
}
