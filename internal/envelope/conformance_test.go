package envelope_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/envelope/keystoretest"
)

// TestKeyStoreConformance runs the shared suite over the stores of this
// package (pgkeys runs it over PostgreSQL).
func TestKeyStoreConformance(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		keystoretest.Run(t, func(t *testing.T) envelope.KeyStore { return &envelope.MemStore{} })
	})
	t.Run("sqlite", func(t *testing.T) {
		keystoretest.Run(t, func(t *testing.T) envelope.KeyStore {
			s, err := envelope.OpenSQLiteStore(context.Background(), filepath.Join(t.TempDir(), "keys.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}
