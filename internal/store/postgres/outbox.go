package postgres

import (
	"context"

	"github.com/assent-registry/assent/internal/store"
	"github.com/jackc/pgx/v5"
)

// --- the gallery outbox (gallery_changes) ---

// galleryRelayLock is the advisory lock key relays take in turn (an
// arbitrary constant: "assent gallery relay").
const galleryRelayLock int64 = 0x617373656e7401

func (t *tx) AppendGalleryChange(ctx context.Context, c store.GalleryChange) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO gallery_changes(op, modality, person_id, ref, at) VALUES ($1, $2, $3, $4, $5)`,
		c.Op, c.Modality, c.PersonID, c.Ref, ms(c.At))
	if err != nil {
		return t.fail("append gallery change", err)
	}
	return nil
}

// PendingGalleryChanges takes the relay lock for the rest of the
// transaction (pg_advisory_xact_lock), so one relay at a time reads,
// publishes and deletes, in seq order. A BIGSERIAL is handed out at
// insert, not at commit, so a lower seq can commit after a higher one has
// been relayed; the relay deletes exactly what it read, and a late row
// is read by the next round (gallery events are idempotent, order within a
// person does not matter to a shard: see internal/cluster).
func (t *tx) PendingGalleryChanges(ctx context.Context, limit int) ([]store.GalleryChange, error) {
	if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, galleryRelayLock); err != nil {
		return nil, t.fail("lock gallery relay", err)
	}
	return collect(ctx, t, "pending gallery changes",
		`SELECT seq, op, modality, person_id, ref, at FROM gallery_changes ORDER BY seq LIMIT $1`,
		func(r pgx.Row) (store.GalleryChange, error) {
			var c store.GalleryChange
			var at int64
			err := r.Scan(&c.Seq, &c.Op, &c.Modality, &c.PersonID, &c.Ref, &at)
			c.At = fromMS(at)
			return c, err
		}, limit)
}

func (t *tx) DeleteGalleryChanges(ctx context.Context, seqs []int64) error {
	if _, err := t.tx.Exec(ctx, `DELETE FROM gallery_changes WHERE seq = ANY($1)`, seqs); err != nil {
		return t.fail("delete gallery changes", err)
	}
	return nil
}
