package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/assent-registry/assent/internal/store"
)

// --- the gallery outbox (gallery_changes) ---

func (t *tx) AppendGalleryChange(ctx context.Context, c store.GalleryChange) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO gallery_changes(op, modality, person_id, ref, at) VALUES (?, ?, ?, ?, ?)`,
		c.Op, c.Modality, c.PersonID, c.Ref, ms(c.At))
	if err != nil {
		return fmt.Errorf("sqlite: append gallery change: %w", err)
	}
	return nil
}

// PendingGalleryChanges needs no lock: SQLite has one writer at a time.
func (t *tx) PendingGalleryChanges(ctx context.Context, limit int) ([]store.GalleryChange, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT seq, op, modality, person_id, ref, at FROM gallery_changes ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending gallery changes: %w", err)
	}
	defer rows.Close()
	return scanGalleryChanges(rows)
}

func scanGalleryChanges(rows *sql.Rows) ([]store.GalleryChange, error) {
	var out []store.GalleryChange
	for rows.Next() {
		var c store.GalleryChange
		var at int64
		if err := rows.Scan(&c.Seq, &c.Op, &c.Modality, &c.PersonID, &c.Ref, &at); err != nil {
			return nil, fmt.Errorf("sqlite: pending gallery changes: %w", err)
		}
		c.At = fromMS(at)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: pending gallery changes: %w", err)
	}
	return out, nil
}

func (t *tx) DeleteGalleryChanges(ctx context.Context, seqs []int64) error {
	for _, s := range seqs {
		if _, err := t.tx.ExecContext(ctx, `DELETE FROM gallery_changes WHERE seq = ?`, s); err != nil {
			return fmt.Errorf("sqlite: delete gallery changes: %w", err)
		}
	}
	return nil
}
