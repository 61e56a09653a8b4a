package registry_test

import (
	"testing"

	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/registry/registrytest"
)

// TestEnrolmentRace forces on SQLite, in one process, the interleavings a
// turn held around the 1:N search used to forbid (the PostgreSQL store
// runs the same with two nodes in internal/store/postgres).
func TestEnrolmentRace(t *testing.T) {
	db, kr := registrytest.Store(t)
	var r *registry.Registry
	registrytest.EnrolmentRace(t, db, func(g registry.Galleries) *registry.Registry {
		if r == nil { // one process: both desks share one registry
			r = registry.New(db, kr, registry.Options{Galleries: g})
		}
		return r
	})
}
