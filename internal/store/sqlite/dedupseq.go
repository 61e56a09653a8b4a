package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/assent-registry/assent/internal/store"
)

// --- the sequence of gallery additions (store.DedupSequence) ---

func (t *tx) DedupPoint(ctx context.Context, modality string) (int64, error) {
	var seq int64
	err := t.tx.QueryRowContext(ctx, `SELECT seq FROM dedup_points WHERE modality = ?`, modality).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("sqlite: dedup point: %w", err)
	}
	return seq, nil
}

// NextDedupPoint increments the counter in this transaction; SQLite has
// one writer at a time, so numbers and commits come in the same order.
func (t *tx) NextDedupPoint(ctx context.Context, modality string) (int64, error) {
	var seq int64
	err := t.tx.QueryRowContext(ctx, `INSERT INTO dedup_points(modality, seq) VALUES (?, 1)
		ON CONFLICT(modality) DO UPDATE SET seq = dedup_points.seq + 1 RETURNING seq`, modality).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("sqlite: next dedup point: %w", err)
	}
	return seq, nil
}

func (t *tx) RenumberDedup(ctx context.Context, personID, modality string, seq int64) (int, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE biometrics SET dedup_seq = ? WHERE person_id = ? AND category = ? AND purpose = 'deduplication'`,
		seq, personID, modality)
	if err != nil {
		return 0, fmt.Errorf("sqlite: renumber dedup: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: renumber dedup: %w", err)
	}
	return int(n), nil
}

// DedupAddedAfter's "dedup_seq > 0" is what lets the planner use the
// partial index biometrics_dedup_seq (WHERE dedup_seq > 0): with only the
// bound parameter it cannot tell the rows are in the index, and scans the
// whole table on every capture.
const dedupAddedAfterSQL = `SELECT ` + biometricCols + `, dedup_seq FROM biometrics
	WHERE category = ? AND dedup_seq > 0 AND dedup_seq > ? AND purpose = 'deduplication' ORDER BY dedup_seq, reference_id LIMIT ?`

func (t *tx) DedupAddedAfter(ctx context.Context, modality string, after int64, limit int) ([]store.Biometric, error) {
	rows, err := t.tx.QueryContext(ctx, dedupAddedAfterSQL, modality, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: dedup added after: %w", err)
	}
	defer rows.Close()
	var out []store.Biometric
	for rows.Next() {
		var b store.Biometric
		var at int64
		if err := rows.Scan(&b.ReferenceID, &b.PersonID, &b.Category, &b.Position, &b.Format, &b.Purpose, &b.Quality, &b.TemplateSealed, &at, &b.DedupSeq); err != nil {
			return nil, fmt.Errorf("sqlite: dedup added after: %w", err)
		}
		b.CreatedAt = fromMS(at)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: dedup added after: %w", err)
	}
	return out, nil
}
