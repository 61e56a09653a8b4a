package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/google/go-cmp/cmp"
)

// testBatchReads checks GetPersons and ConsentHistories (a gallery load's
// page of persons read in two queries) against GetPerson and
// ConsentHistory, one person at a time: tombstones and aliases included,
// unknown ids left out, records oldest first and never another person's.
func testBatchReads(t *testing.T, s store.Store) {
	ctx := context.Background()
	const n = 1200 // more ids than SQLite's default 999 parameters
	var ids []string
	update(t, s, func(tx store.Tx) error {
		for i := range n {
			id := fmt.Sprintf("b%04d", i)
			ids = append(ids, id)
			p := person(id)
			if i%7 == 3 {
				p.AliasOf = "b0000"
			}
			if err := tx.CreatePerson(ctx, p); err != nil {
				return err
			}
			for k := range i % 4 {
				dec := []string{"granted", "withdrawn"}[k%2]
				if _, err := tx.AppendConsent(ctx, store.ConsentRecord{PersonID: id, Category: "iris", Purpose: "deduplication", Decision: dec,
					Method: "paper", NoticeVersion: "v1", Language: "en", Site: "s1", At: t0.Add(time.Duration(n-i+k) * time.Minute)}); err != nil {
					return err
				}
			}
		}
		return tx.ErasePerson(ctx, "b0005", t0.Add(time.Hour))
	})
	ask := append(slices.Clone(ids), "nobody", "b0001") // an unknown id, a repeated one
	view(t, s, func(tx store.Tx) error {
		ps, err := tx.GetPersons(ctx, ask)
		if err != nil {
			return err
		}
		slices.SortFunc(ps, func(a, b store.Person) int { return strings.Compare(a.ID, b.ID) })
		var want []store.Person
		for _, id := range ids {
			p, err := tx.GetPerson(ctx, id)
			if err != nil {
				return err
			}
			want = append(want, p)
		}
		if d := cmp.Diff(want, ps); d != "" {
			t.Errorf("GetPersons (-one at a time +batch):\n%s", d)
		}
		hs, err := tx.ConsentHistories(ctx, ask)
		if err != nil {
			return err
		}
		wantH := map[string][]store.ConsentRecord{}
		for _, id := range ids {
			h, err := tx.ConsentHistory(ctx, id)
			if err != nil {
				return err
			}
			if len(h) > 0 {
				wantH[id] = h
			}
		}
		if len(wantH) == 0 {
			t.Fatal("no consent records written")
		}
		if d := cmp.Diff(wantH, hs); d != "" {
			t.Errorf("ConsentHistories (-one at a time +batch):\n%s", d)
		}
		if ps, err := tx.GetPersons(ctx, nil); err != nil || len(ps) != 0 {
			t.Errorf("GetPersons(nil) = %v, %v", ps, err)
		}
		if hs, err := tx.ConsentHistories(ctx, nil); err != nil || len(hs) != 0 {
			t.Errorf("ConsentHistories(nil) = %v, %v", hs, err)
		}
		return nil
	})
}
