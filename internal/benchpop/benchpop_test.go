package benchpop

import (
	"context"
	"testing"

	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/registry/registrytest"
	"github.com/assent-registry/assent/internal/store"
)

// TestRun: a small synthetic population loads into the galleries, every
// mate enrolled afterwards finds its person through the registry's use
// cases, with no false candidate and every search complete; the probes'
// registrations and captures are audited like any other.
func TestRun(t *testing.T) {
	ctx := context.Background()
	db, kr := registrytest.Store(t)
	rep, err := Run(ctx, db, kr, registry.Options{}, Options{People: 300, Probes: 6, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Templates != 1200 || rep.DuplicatesExpected != 3 || rep.DuplicatesFound != 3 || rep.FalseCandidates != 0 || rep.DedupPending != 0 {
		t.Fatalf("report %+v", rep)
	}
	if rep.BytesPerPerson <= 0 || rep.EnrolP50MS <= 0 || rep.EnrolP95MS < rep.EnrolP50MS {
		t.Errorf("measurements %+v", rep)
	}
	var audited uint64
	if err := db.View(ctx, func(tx store.Tx) error { audited, err = tx.AuditSize(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	if audited < 6*5 { // a registration and four captures per probe
		t.Errorf("%d audit entries for 6 probes, want at least 30", audited)
	}
}

// TestRunMoreMatesThanPeople: with fewer persons than mated probes, two
// probes mate the same person and the later one finds the earlier one
// too: a true duplicate, which the report must not count as a false
// candidate (it did: tiny benches reported false candidates).
func TestRunMoreMatesThanPeople(t *testing.T) {
	ctx := context.Background()
	db, kr := registrytest.Store(t)
	rep, err := Run(ctx, db, kr, registry.Options{}, Options{People: 2, Probes: 8, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if rep.DuplicatesExpected != 4 || rep.DuplicatesFound != 4 || rep.FalseCandidates != 0 {
		t.Fatalf("report %+v: want 4 of 4 mates found and no false candidate", rep)
	}
	if rep.OtherBytes < 0 {
		t.Errorf("other bytes a person %.0f: never negative", rep.OtherBytes)
	}
}
