package postgres

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/assent-registry/assent/internal/audit"
	"github.com/assent-registry/assent/internal/audit/audittest"
	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/registry/registrytest"
)

// registryOn builds a registry over a fresh PostgreSQL store and returns it
// with a function that enrols person i.
func registryOn(t *testing.T) (*DB, *registry.Registry, registry.Actor, func(i int) (registry.Registered, error)) {
	t.Helper()
	db := openTest(t, Options{})
	ctx := context.Background()
	m, err := envelope.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := envelope.NewKeyring(ctx, &envelope.MemStore{}, m, envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := registry.New(db, kr, registry.Options{})
	if _, err := r.PutArea(ctx, registry.Actor{Role: consent.Admin}, "A", registry.AreaInput{Name: "Area A"}); err != nil {
		t.Fatal(err)
	}
	registrar := registry.Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}
	enrol := func(i int) (registry.Registered, error) {
		return r.CreatePerson(ctx, registrar, consent.Registration, registry.NewPerson{
			GivenName: fmt.Sprintf("Given%d", i), FamilyName: "Family", BirthDate: "1985-06-07", Sex: "female", AreaCode: "A",
			Consent: &registry.ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en",
				Decisions: []registry.DecisionInput{{Category: "fingerprint", Purpose: "deduplication", Decision: "granted"}}}})
	}
	return db, r, registrar, enrol
}

// TestRegistryOverPostgres runs the registry's enrolment and read on this
// store and checks the audit log it leaves.
func TestRegistryOverPostgres(t *testing.T) {
	db, r, registrar, enrol := registryOn(t)
	ctx := context.Background()
	for i := range 3 {
		reg, err := enrol(i)
		if err != nil {
			t.Fatal(err)
		}
		p, err := r.GetPerson(ctx, registrar, consent.Registration, reg.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("Given%d", i); p.GivenName != want || p.FamilyName != "Family" {
			t.Errorf("read back %q %q, want %q Family", p.GivenName, p.FamilyName, want)
		}
	}
	checkAuditLog(t, db, 6)
}

// TestRegistryConcurrentEnrolment enrols from several goroutines at once,
// so some registry transactions meet serialization failures and are run
// again by Update.
func TestRegistryConcurrentEnrolment(t *testing.T) {
	testURL(t)
	db, r, registrar, enrol := registryOn(t)
	ctx := context.Background()
	const workers, each = 6, 5
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]int{}
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				n := w*each + i
				reg, err := enrol(n)
				if err != nil {
					t.Errorf("enrol %d: %v", n, err)
					return
				}
				mu.Lock()
				ids[reg.ID] = n
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for id, n := range ids {
		p, err := r.GetPerson(ctx, registrar, consent.Registration, id)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("Given%d", n); p.GivenName != want {
			t.Errorf("person %s: given name %q, want %q", id, p.GivenName, want)
		}
	}
	checkAuditLog(t, db, 2*workers*each)
}

// checkAuditLog checks the log holds at least min rows and verifies.
func checkAuditLog(t *testing.T, db *DB, min uint64) {
	t.Helper()
	ctx := context.Background()
	var rows uint64
	for _, err := range registry.AuditRows(ctx, db) {
		if err != nil {
			t.Fatal(err)
		}
		rows++
	}
	if rows < min {
		t.Errorf("%d audit rows, want at least %d (one per enrolment and per read)", rows, min)
	}
	if _, err := audit.Verify(ctx, registry.AuditRows(ctx, db), nil, audittest.Signer(t).VerifierKey()); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// TestPendingSearchesOverPostgres runs the pending-search lifecycle on this
// store, ending with two registries (two API nodes) completing the same
// pending searches at once: one case, one audit event.
func TestPendingSearchesOverPostgres(t *testing.T) {
	testURL(t)
	db := openTest(t, Options{})
	kr := registrytest.MemKeys(t)
	registrytest.PendingSearches(t, db, func(g registry.Galleries) *registry.Registry {
		return registry.New(db, kr, registry.Options{Galleries: g})
	})
}

// TestEnrolmentRaceOverPostgres forces the interleavings a turn held
// around the 1:N search used to forbid (registrytest.EnrolmentRace) with
// two registries over one PostgreSQL, as two API nodes: their commits
// take turns on the advisory lock only.
func TestEnrolmentRaceOverPostgres(t *testing.T) {
	testURL(t)
	db := openTest(t, Options{})
	kr := registrytest.MemKeys(t)
	registrytest.EnrolmentRace(t, db, func(g registry.Galleries) *registry.Registry {
		return registry.New(db, kr, registry.Options{Galleries: g})
	})
}
