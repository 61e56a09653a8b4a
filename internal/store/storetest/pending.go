package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/google/go-cmp/cmp"
)

// testPendingSearches: a pending search is recorded once per reference,
// listed least recently tried first, noted per attempt, taken by exactly one
// of two transactions that try at once, and goes with its reference
// (category deletion, erasure, erasure keeping care data).
func testPendingSearches(t *testing.T, s store.Store) {
	ctx := context.Background()
	refs := []string{"r1", "r2", "r3", "r4", "r5"}
	update(t, s, func(tx store.Tx) error {
		for _, id := range []string{"p1", "p2", "p3"} {
			if err := tx.CreatePerson(ctx, person(id)); err != nil {
				return err
			}
		}
		owner := map[string]string{"r1": "p1", "r2": "p1", "r3": "p2", "r4": "p3", "r5": "p2"}
		for i, ref := range refs {
			cat := "fingerprint"
			if ref == "r2" {
				cat = "iris"
			}
			if err := tx.AddBiometric(ctx, store.Biometric{ReferenceID: ref, PersonID: owner[ref], Category: cat, Position: "right_index",
				Format: "image", Purpose: "deduplication", TemplateSealed: []byte{byte(i)}, CreatedAt: t0}); err != nil {
				return err
			}
			if err := tx.AddPendingSearch(ctx, store.PendingSearch{ReferenceID: ref, PersonID: owner[ref], Modality: cat,
				Since: t0.Add(time.Duration(len(refs)-i) * time.Second)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.AddPendingSearch(ctx, store.PendingSearch{ReferenceID: "r1", PersonID: "p1", Modality: "fingerprint", Since: t0})
	}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a second row for r1: %v, want ErrConflict", err)
	}
	list := func() []string {
		var ids []string
		view(t, s, func(tx store.Tx) error {
			ps, err := tx.ListPendingSearches(ctx, 10)
			for _, p := range ps {
				ids = append(ids, p.ReferenceID)
			}
			return err
		})
		return ids
	}
	// Never tried: the oldest first (r5 is the oldest).
	if d := cmp.Diff([]string{"r5", "r4", "r3", "r2", "r1"}, list()); d != "" {
		t.Errorf("pending order (-want +got):\n%s", d)
	}
	update(t, s, func(tx store.Tx) error {
		return tx.NotePendingAttempt(ctx, "r5", t0.Add(time.Hour), "a shard did not answer")
	})
	update(t, s, func(tx store.Tx) error { return tx.NotePendingAttempt(ctx, "r5", t0.Add(2*time.Hour), "timeout") })
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.NotePendingAttempt(ctx, "r9", t0, "") }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("note an attempt of no row: %v, want ErrNotFound", err)
	}
	if d := cmp.Diff([]string{"r4", "r3", "r2", "r1", "r5"}, list()); d != "" {
		t.Errorf("pending order after retrying r5 (-want +got):\n%s", d)
	}
	view(t, s, func(tx store.Tx) error {
		ps, err := tx.ListPendingSearches(ctx, 1)
		if err != nil || len(ps) != 1 {
			t.Errorf("limit 1: %v %v", ps, err)
		}
		return nil
	})
	var got store.PendingSearch
	update(t, s, func(tx store.Tx) error {
		var err error
		got, err = tx.TakePendingSearch(ctx, "r5")
		return err
	})
	want := store.PendingSearch{ReferenceID: "r5", PersonID: "p2", Modality: "fingerprint", Since: t0.Add(time.Second), Attempts: 2,
		TriedAt: t0.Add(2 * time.Hour), LastError: "timeout"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("taken row (-want +got):\n%s", d)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { _, err := tx.TakePendingSearch(ctx, "r5"); return err }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("take r5 twice: %v, want ErrNotFound", err)
	}
	// A rolled-back take leaves the row.
	errBack := errors.New("back")
	if err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.TakePendingSearch(ctx, "r4"); err != nil {
			return err
		}
		return errBack
	}); !errors.Is(err, errBack) {
		t.Fatal(err)
	}
	// Two takers at once: one gets the row, the other none.
	var mu sync.Mutex
	taken := map[string]int{}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for _, ref := range []string{"r4", "r3"} {
				err := s.Update(ctx, func(tx store.Tx) error {
					_, err := tx.TakePendingSearch(ctx, ref)
					return err
				})
				switch {
				case err == nil:
					mu.Lock()
					taken[ref]++
					mu.Unlock()
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("take %s: %v", ref, err)
				}
			}
		})
	}
	wg.Wait()
	if d := cmp.Diff(map[string]int{"r4": 1, "r3": 1}, taken); d != "" {
		t.Errorf("concurrent takes (-want +got):\n%s", d)
	}
	count := func() int {
		var n int
		view(t, s, func(tx store.Tx) error { var err error; n, err = tx.CountPendingSearches(ctx); return err })
		return n
	}
	if n := count(); n != 2 {
		t.Errorf("count = %d, want 2 (r1, r2)", n)
	}
	// The rows go with their references.
	update(t, s, func(tx store.Tx) error {
		if err := tx.AddBiometric(ctx, store.Biometric{ReferenceID: "r6", PersonID: "p3", Category: "fingerprint", Position: "left_index",
			Format: "image", Purpose: "deduplication", TemplateSealed: []byte{6}, CreatedAt: t0}); err != nil {
			return err
		}
		return tx.AddPendingSearch(ctx, store.PendingSearch{ReferenceID: "r6", PersonID: "p3", Modality: "fingerprint", Since: t0})
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteBiometrics(ctx, "p1", "iris") })
	if d := cmp.Diff([]string{"r6", "r1"}, list()); d != "" {
		t.Errorf("after deleting p1's irises (-want +got):\n%s", d)
	}
	update(t, s, func(tx store.Tx) error { return tx.ErasePerson(ctx, "p1", t0.Add(time.Hour)) })
	update(t, s, func(tx store.Tx) error { return tx.ErasePersonKeepCare(ctx, "p3", t0.Add(time.Hour)) })
	if n := count(); n != 0 {
		t.Errorf("after erasing p1 and p3: %d rows, want 0 (%v)", n, list())
	}
	if err := s.Update(ctx, func(tx store.Tx) error {
		return tx.AddPendingSearch(ctx, store.PendingSearch{ReferenceID: "r-none", PersonID: "p2", Modality: "fingerprint", Since: t0})
	}); err == nil {
		t.Errorf("a pending search for no stored reference was accepted")
	}
}
