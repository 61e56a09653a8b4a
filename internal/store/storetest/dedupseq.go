package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/assent-registry/assent/internal/store"
	"github.com/google/go-cmp/cmp"
)

// testDedupSequence: numbers per modality start at 1 and rise by one per
// call, independently per modality; a rolled-back number is not a point;
// concurrent adders get distinct numbers and the point is the last; the
// references numbered after a point come back in number order, only
// deduplication references of that modality, renumbered ones at their new
// number, erased ones never.
func testDedupSequence(t *testing.T, s store.Store) {
	ctx := context.Background()
	point := func(m string) int64 {
		t.Helper()
		var p int64
		view(t, s, func(tx store.Tx) error {
			var err error
			p, err = tx.DedupPoint(ctx, m)
			return err
		})
		return p
	}
	next := func(m string) int64 {
		t.Helper()
		var n int64
		update(t, s, func(tx store.Tx) error {
			var err error
			n, err = tx.NextDedupPoint(ctx, m)
			return err
		})
		return n
	}
	if p := point("fingerprint"); p != 0 {
		t.Fatalf("point of an empty store: %d, want 0", p)
	}
	if a, b, c := next("fingerprint"), next("fingerprint"), next("iris"); a != 1 || b != 2 || c != 1 {
		t.Fatalf("numbers: fingerprint %d, %d, iris %d; want 1, 2, 1", a, b, c)
	}
	boom := errors.New("boom")
	if err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.NextDedupPoint(ctx, "fingerprint"); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("rolled back update: %v", err)
	}
	if p := point("fingerprint"); p != 2 {
		t.Fatalf("point after a rolled-back number: %d, want 2", p)
	}

	// Concurrent adders: distinct numbers, 3..10.
	var mu sync.Mutex
	var got []int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int64
			err := s.Update(ctx, func(tx store.Tx) error {
				var err error
				n, err = tx.NextDedupPoint(ctx, "fingerprint")
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(got)
	if d := cmp.Diff([]int64{3, 4, 5, 6, 7, 8, 9, 10}, got); d != "" {
		t.Errorf("concurrent numbers (-want +got):\n%s", d)
	}
	if p := point("fingerprint"); p != 10 {
		t.Errorf("point after concurrent adders: %d, want 10", p)
	}

	// References and the window after a point.
	update(t, s, func(tx store.Tx) error {
		for _, id := range []string{"p1", "p2", "p3"} {
			if err := tx.CreatePerson(ctx, person(id)); err != nil {
				return err
			}
		}
		for _, b := range []store.Biometric{
			{ReferenceID: "old", PersonID: "p1", Category: "fingerprint", Purpose: "deduplication"}, // before 0015: 0
			{ReferenceID: "a", PersonID: "p1", Category: "fingerprint", Purpose: "deduplication", DedupSeq: 11},
			{ReferenceID: "b", PersonID: "p2", Category: "fingerprint", Purpose: "deduplication", DedupSeq: 12},
			{ReferenceID: "c", PersonID: "p2", Category: "fingerprint", Purpose: "verification"},
			{ReferenceID: "d", PersonID: "p3", Category: "iris", Purpose: "deduplication", DedupSeq: 12},
			{ReferenceID: "e", PersonID: "p3", Category: "fingerprint", Purpose: "deduplication", DedupSeq: 13},
		} {
			b.Position, b.Format, b.TemplateSealed, b.CreatedAt = "right_index", "image", []byte(b.ReferenceID), t0
			if err := tx.AddBiometric(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	window := func(after int64, limit int) []string {
		t.Helper()
		var refs []string
		view(t, s, func(tx store.Tx) error {
			bs, err := tx.DedupAddedAfter(ctx, "fingerprint", after, limit)
			refs = nil
			for _, b := range bs {
				if string(b.TemplateSealed) != b.ReferenceID || b.Purpose != "deduplication" || b.Category != "fingerprint" {
					t.Errorf("window row %+v", b)
				}
				refs = append(refs, b.ReferenceID)
			}
			return err
		})
		return refs
	}
	if d := cmp.Diff([]string{"a", "b", "e"}, window(10, 10)); d != "" {
		t.Errorf("after 10 (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"b", "e"}, window(11, 10)); d != "" {
		t.Errorf("after 11 (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"a", "b"}, window(10, 2)); d != "" {
		t.Errorf("after 10, limit 2 (-want +got):\n%s", d)
	}
	// p1 counts again: both its deduplication references take number 14.
	update(t, s, func(tx store.Tx) error {
		n, err := tx.RenumberDedup(ctx, "p1", "fingerprint", 14)
		if err == nil && n != 2 {
			t.Errorf("renumbered %d references, want 2", n)
		}
		return err
	})
	if d := cmp.Diff([]string{"b", "e", "a", "old"}, window(11, 10)); d != "" {
		t.Errorf("after 11, p1 renumbered (-want +got):\n%s", d)
	}
	view(t, s, func(tx store.Tx) error {
		bs, err := tx.DedupAddedAfter(ctx, "fingerprint", 13, 10)
		for _, b := range bs {
			if b.DedupSeq != 14 {
				t.Errorf("%s: number %d, want 14", b.ReferenceID, b.DedupSeq)
			}
		}
		return err
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteBiometrics(ctx, "p2", "") })
	if d := cmp.Diff([]string{"e", "a", "old"}, window(11, 10)); d != "" {
		t.Errorf("after 11, p2 erased (-want +got):\n%s", d)
	}
}
