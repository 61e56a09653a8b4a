package registry_test

import (
	"context"
	"testing"

	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/registry/registrytest"
	"github.com/assent-registry/assent/internal/store/sqlite"
)

// TestPendingSearches runs the pending-search lifecycle on SQLite (the
// PostgreSQL store runs the same in internal/store/postgres).
func TestPendingSearches(t *testing.T) {
	db, kr := registrytest.Store(t)
	registrytest.PendingSearches(t, db, func(g registry.Galleries) *registry.Registry {
		return registry.New(db, kr, registry.Options{Galleries: g})
	})
}

// TestPendingNeedsLoadedGalleries: an in-process gallery service that was
// never loaded would answer every search complete and empty, so the job
// refuses to run on it.
func TestPendingNeedsLoadedGalleries(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, _ := envelope.GenerateMasterKey()
	kr, err := envelope.NewKeyring(ctx, &envelope.MemStore{}, m, envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := registry.New(db, kr, registry.Options{})
	if _, _, err := r.CompletePendingSearches(ctx); err != registry.ErrGalleriesNotLoaded {
		t.Fatalf("before LoadGalleries: %v, want ErrGalleriesNotLoaded", err)
	}
	if _, err := r.LoadGalleries(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if done, still, err := r.CompletePendingSearches(ctx); err != nil || done != 0 || still != 0 {
		t.Fatalf("after LoadGalleries: %d %d %v", done, still, err)
	}
}
