package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := Open(context.Background(), t.TempDir(), Options{Migrate: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	})
}

func TestSchemaChecks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Open(ctx, dir, Options{}); !errors.Is(err, store.ErrStaleSchema) {
		t.Fatalf("fresh dir without migrate: got %v, want ErrStaleSchema", err)
	}
	db, err := Open(ctx, dir, Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil || v != LatestSchema() {
		t.Fatalf("schema version = %d, %v; want %d", v, err, LatestSchema())
	}
	// Pretend a newer binary migrated this file.
	if _, err := db.w.ExecContext(ctx, `INSERT INTO schema_migrations(version, name) VALUES (?, 'future')`, LatestSchema()+1); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, dir, Options{Migrate: true}); !errors.Is(err, store.ErrSchemaTooNew) {
		t.Fatalf("newer schema: got %v, want ErrSchemaTooNew", err)
	}
}
