package registry

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
	_ "modernc.org/sqlite"
)

// TestMaintainReprojectsOldProjections: a projection written before
// migration 0011 (here: one of 0006-0008, without the estimated birth date
// mark) is rewritten from the sealed record by maintenance, through the
// gate, and the report counts follow.
func TestMaintainReprojectsOldProjections(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)}
	db, kr := newTestStore(t)
	r := New(db, kr, Options{Clock: c.now})
	ci := &ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en"}
	for _, bd := range []string{"1980", "1990-05-01", "1975-03"} {
		if _, err := r.CreatePerson(ctx, registrar, consent.Registration, NewPerson{GivenName: "P", FamilyName: "F", BirthDate: bd, Sex: "female", AreaCode: "A", Consent: ci}); err != nil {
			t.Fatal(err)
		}
	}
	estimated := func() int {
		t.Helper()
		var q store.RegisterQuality
		if err := db.View(ctx, func(tx store.Tx) error {
			var err error
			q, err = tx.RegisterQuality(ctx, c.now().Add(time.Hour), 18)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return q.EstimatedBirthDates
	}
	if n := estimated(); n != 2 {
		t.Fatalf("estimated birth dates = %d, want 2 (1980 and 1975-03)", n)
	}
	// Make the projection what migration 0006 wrote: no estimated mark,
	// marked for re-projection by 0011, counts rebuilt to match.
	raw, err := sql.Open("sqlite", "file:"+db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.ExecContext(ctx, `UPDATE person_stats SET birth_estimated = 0, reproject = 1`); err != nil {
		t.Fatal(err)
	}
	if n := estimated(); n != 0 {
		t.Fatalf("estimated birth dates of old projections = %d, want 0", n)
	}
	rep, err := r.Maintain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Reprojected != 3 {
		t.Errorf("reprojected %d, want 3", rep.Reprojected)
	}
	if n := estimated(); n != 2 {
		t.Errorf("estimated birth dates after maintenance = %d, want 2", n)
	}
	if rep, err := r.Maintain(ctx); err != nil || rep.Reprojected != 0 {
		t.Errorf("second maintenance reprojected %d (%v), want 0", rep.Reprojected, err)
	}
	changed, err := r.RebuildReportCounts(ctx)
	if err != nil || changed != 0 {
		t.Errorf("rebuild after maintenance changed %d count rows (%v), want 0", changed, err)
	}
}
