package postgres

import (
	"context"
	"errors"

	"github.com/assent-registry/assent/internal/store"
	"github.com/jackc/pgx/v5"
)

// --- the sequence of gallery additions (store.DedupSequence) ---

func (t *tx) DedupPoint(ctx context.Context, modality string) (int64, error) {
	var seq int64
	err := t.tx.QueryRow(ctx, `SELECT seq FROM dedup_points WHERE modality = $1`, modality).Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, t.fail("dedup point", err)
	}
	return seq, nil
}

// NextDedupPoint increments the counter row of modality in this
// transaction, not a SEQUENCE: a SEQUENCE's numbers are handed out before
// their transactions commit, so a reader could see number n while n-1 is
// still uncommitted. The row stays locked until this transaction ends, so
// a second adder waits for it: numbers are given in commit order even
// without the registry's deduplication turn.
func (t *tx) NextDedupPoint(ctx context.Context, modality string) (int64, error) {
	var seq int64
	err := t.tx.QueryRow(ctx, `INSERT INTO dedup_points(modality, seq) VALUES ($1, 1)
		ON CONFLICT (modality) DO UPDATE SET seq = dedup_points.seq + 1 RETURNING seq`, modality).Scan(&seq)
	if err != nil {
		return 0, t.fail("next dedup point", err)
	}
	return seq, nil
}

func (t *tx) RenumberDedup(ctx context.Context, personID, modality string, seq int64) (int, error) {
	tag, err := t.tx.Exec(ctx, `UPDATE biometrics SET dedup_seq = $1 WHERE person_id = $2 AND category = $3 AND purpose = 'deduplication'`,
		seq, personID, modality)
	if err != nil {
		return 0, t.fail("renumber dedup", err)
	}
	return int(tag.RowsAffected()), nil
}

// DedupAddedAfter's "dedup_seq > 0" is what lets the planner use the
// partial index biometrics_dedup_seq (WHERE dedup_seq > 0): with only the
// bound parameter it cannot tell the rows are in the index, and scans the
// whole table on every capture.
func (t *tx) DedupAddedAfter(ctx context.Context, modality string, after int64, limit int) ([]store.Biometric, error) {
	return collect(ctx, t, "dedup added after",
		`SELECT `+biometricCols+`, dedup_seq FROM biometrics
		WHERE category = $1 AND dedup_seq > 0 AND dedup_seq > $2 AND purpose = 'deduplication' ORDER BY dedup_seq, reference_id LIMIT $3`,
		func(r pgx.Row) (store.Biometric, error) {
			var b store.Biometric
			var at int64
			err := r.Scan(&b.ReferenceID, &b.PersonID, &b.Category, &b.Position, &b.Format, &b.Purpose, &b.Quality, &b.TemplateSealed, &at, &b.DedupSeq)
			b.CreatedAt = fromMS(at)
			return b, err
		}, modality, after, limit)
}
