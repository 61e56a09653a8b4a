package registry

import (
	"context"
	"iter"
	"testing"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/audit/audittest"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/sqlite"
)

// TestAuditStoreConformance runs the audit package's conformance suite
// against the SQLite store through the registry's adapter.
func TestAuditStoreConformance(t *testing.T) {
	audittest.Run(t, func(t *testing.T) audittest.Harness {
		ctx := context.Background()
		db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		as := NewAuditStore(db, (&clock{}).now)
		return audittest.Harness{
			Leaves:      as,
			Checkpoints: as,
			Append: func(ctx context.Context, e audit.Event) (uint64, error) {
				var idx uint64
				err := db.Update(ctx, func(tx store.Tx) error {
					size, err := tx.AuditSize(ctx)
					if err != nil {
						return err
					}
					row, err := audit.NewRow(size, e)
					if err != nil {
						return err
					}
					idx, err = tx.AppendAudit(ctx, e.PersonID, row.Data, row.LeafHash)
					return err
				})
				return idx, err
			},
			Rows:  func(ctx context.Context) iter.Seq2[audit.Row, error] { return AuditRows(ctx, db) },
			Notes: func(ctx context.Context) ([][]byte, error) { return AuditCheckpointNotes(ctx, db) },
		}
	})
}
