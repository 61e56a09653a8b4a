package benchpop

import (
	"context"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/registry"
	"github.com/assent-registry/assent/internal/registry/registrytest"
	"github.com/assent-registry/assent/internal/store"
)

// TestReportsOverAnExistingPopulation: the bench writes a population, then
// (People 0) times the reports again over the same store without writing,
// every run a real, audited request.
func TestReportsOverAnExistingPopulation(t *testing.T) {
	ctx := context.Background()
	db, kr := registrytest.Store(t)
	reg := registry.New(db, kr, registry.Options{})
	first, err := Reports(ctx, db, reg, ReportOptions{People: 300, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if first.Areas != 111 || first.Sites != 20 || len(first.RunSeconds[registry.ReportCoverage]) != 1 {
		t.Fatalf("first %+v", first)
	}
	audit := func() uint64 {
		var n uint64
		if err := db.View(ctx, func(tx store.Tx) error { n, err = tx.AuditSize(ctx); return err }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := audit()
	again, err := Reports(ctx, db, reg, ReportOptions{Runs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if again.Areas != 0 || again.PopulateSeconds != 0 {
		t.Errorf("People 0 wrote a population: %+v", again)
	}
	for _, k := range []string{registry.ReportCoverage, registry.ReportConsent, registry.ReportExclusion, registry.ReportRegister} {
		if rs := again.RunSeconds[k]; len(rs) != 2 || rs[0] != again.ReportSeconds[k] || again.MaxReportSeconds < rs[1] {
			t.Errorf("%s runs %v, first %v, max %v", k, rs, again.ReportSeconds[k], again.MaxReportSeconds)
		}
	}
	if got := audit() - before; got != 8 {
		t.Errorf("%d audit entries for 2 runs of 4 reports, want 8", got)
	}
	var people int
	if err := db.View(ctx, func(tx store.Tx) error {
		cs, err := tx.CountRegistered(ctx, store.Period{To: time.Now().Add(time.Minute)})
		for _, c := range cs {
			people += c.N
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if people != 300 {
		t.Errorf("%d people registered after the second bench, want 300", people)
	}
}
