package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/store"
)

// testCountCases: a backend counts cases by status, and a decided case
// leaves the open count.
func testCountCases(t *testing.T, s store.Store) {
	ctx := context.Background()
	count := func(status string) int {
		t.Helper()
		var n int
		view(t, s, func(tx store.Tx) error {
			cc, ok := tx.(store.CaseCounter)
			if !ok {
				t.Fatalf("%T does not implement store.CaseCounter", tx)
			}
			var err error
			n, err = cc.CountCases(ctx, status)
			return err
		})
		return n
	}
	if n := count(store.CaseOpen); n != 0 {
		t.Errorf("open cases in an empty store: %d", n)
	}
	update(t, s, func(tx store.Tx) error {
		for _, c := range []store.Case{
			{ID: "c1", PersonA: "a", PersonB: "b", Score: 10, Modalities: "fingerprint", CreatedAt: t0},
			{ID: "c2", PersonA: "a", PersonB: "c", Score: 10, Modalities: "iris", CreatedAt: t0},
			{ID: "c3", PersonA: "b", PersonB: "c", Score: 10, Modalities: "iris", CreatedAt: t0},
		} {
			if _, err := tx.OpenCase(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	at := t0.Add(time.Hour)
	update(t, s, func(tx store.Tx) error {
		return tx.DecideCase(ctx, store.Case{ID: "c2", Decision: "different", DecidedBy: "adj", DecidedAt: &at})
	})
	if o, d := count(store.CaseOpen), count(store.CaseDecided); o != 2 || d != 1 {
		t.Errorf("counts: open %d decided %d, want 2 and 1", o, d)
	}
}
