package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/assent-registry/assent/internal/store"
	"github.com/google/go-cmp/cmp"
)

// testGalleryOutbox: changes come back in the order written with
// increasing seqs; a rolled-back change is never seen; deleting some seqs
// leaves the others for the next round.
func testGalleryOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	in := []store.GalleryChange{
		{Op: store.GalleryAdd, Modality: "fingerprint", PersonID: "p1", Ref: "r1", At: t0},
		{Op: store.GallerySync, PersonID: "p2", At: t0},
		{Op: store.GalleryRemove, PersonID: "p1", At: t0},
	}
	update(t, s, func(tx store.Tx) error { return tx.AppendGalleryChange(ctx, in[0]) })
	boom := errors.New("boom")
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.AppendGalleryChange(ctx, store.GalleryChange{Op: store.GalleryAdd, Modality: "iris", PersonID: "p9", Ref: "r9", At: t0}); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("rolled back update: %v", err)
	}
	update(t, s, func(tx store.Tx) error {
		for _, c := range in[1:] {
			if err := tx.AppendGalleryChange(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
	var got []store.GalleryChange
	update(t, s, func(tx store.Tx) error {
		var err error
		got, err = tx.PendingGalleryChanges(ctx, 10)
		return err
	})
	if len(got) != 3 {
		t.Fatalf("pending: %d changes, want 3: %+v", len(got), got)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Errorf("seqs not increasing: %d then %d", got[i-1].Seq, got[i].Seq)
		}
	}
	want := make([]store.GalleryChange, len(in))
	for i := range in {
		want[i] = in[i]
		want[i].Seq = got[i].Seq
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("pending (-want +got):\n%s", d)
	}
	update(t, s, func(tx store.Tx) error {
		first, err := tx.PendingGalleryChanges(ctx, 1)
		if err != nil || len(first) != 1 || first[0].Seq != got[0].Seq {
			t.Errorf("limit 1: %+v %v", first, err)
		}
		return tx.DeleteGalleryChanges(ctx, []int64{got[0].Seq, got[2].Seq})
	})
	update(t, s, func(tx store.Tx) error {
		left, err := tx.PendingGalleryChanges(ctx, 10)
		if err != nil || len(left) != 1 || left[0].Seq != got[1].Seq {
			t.Errorf("after delete: %+v %v, want only seq %d", left, err, got[1].Seq)
		}
		return nil
	})
}
