package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/google/go-cmp/cmp"
)

// testIdentifiers: an identifier (system, lookup) belongs to one person;
// the same value in another system is another identifier; a person's
// identifiers list in the order attached; erasure deletes them.
func testIdentifiers(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := store.PersonIdentifier{PersonID: "p1", System: "urn:emr:a", Lookup: []byte{1, 2}, Sealed: []byte("s1"), OperatorID: "o1", Site: "s1", At: t0}
	b := store.PersonIdentifier{PersonID: "p1", System: "urn:emr:b", Lookup: []byte{1, 2}, Sealed: []byte("s2"), OperatorID: "o1", Site: "s1", At: t0.Add(time.Minute)}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreatePerson(ctx, person("p1")); err != nil {
			return err
		}
		if err := tx.CreatePerson(ctx, person("p2")); err != nil {
			return err
		}
		if err := tx.AddIdentifier(ctx, b); err != nil {
			return err
		}
		return tx.AddIdentifier(ctx, a)
	})
	taken := a
	taken.PersonID = "p2"
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.AddIdentifier(ctx, taken) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("an identifier attached to a second person: %v, want ErrConflict", err)
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.ListIdentifiers(ctx, "p1")
		if err != nil {
			return err
		}
		if d := cmp.Diff([]store.PersonIdentifier{a, b}, got); d != "" {
			t.Errorf("identifiers (-want +got):\n%s", d)
		}
		id, err := tx.PersonByIdentifier(ctx, "urn:emr:b", []byte{1, 2})
		if err != nil || id != "p1" {
			t.Errorf("person by identifier: %q %v", id, err)
		}
		if _, err := tx.PersonByIdentifier(ctx, "urn:emr:c", []byte{1, 2}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown system: %v, want ErrNotFound", err)
		}
		if got, err := tx.ListIdentifiers(ctx, "p2"); err != nil || len(got) != 0 {
			t.Errorf("p2 has identifiers %v %v", got, err)
		}
		return nil
	})
	// Erasing the person, with or without keeping care data, deletes them.
	c := store.PersonIdentifier{PersonID: "p2", System: "urn:emr:c", Lookup: []byte{3}, Sealed: []byte("s3"), OperatorID: "o1", Site: "s1", At: t0}
	update(t, s, func(tx store.Tx) error {
		if err := tx.AddIdentifier(ctx, c); err != nil {
			return err
		}
		return tx.ErasePersonKeepCare(ctx, "p2", t0.Add(time.Hour))
	})
	view(t, s, func(tx store.Tx) error {
		if got, _ := tx.ListIdentifiers(ctx, "p2"); len(got) != 0 {
			t.Errorf("identifiers survive an erasure that keeps care data: %d", len(got))
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.ErasePerson(ctx, "p1", t0.Add(time.Hour)) })
	view(t, s, func(tx store.Tx) error {
		if got, _ := tx.ListIdentifiers(ctx, "p1"); len(got) != 0 {
			t.Errorf("identifiers survive erasure: %d", len(got))
		}
		if _, err := tx.PersonByIdentifier(ctx, "urn:emr:a", []byte{1, 2}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an erased person's identifier still resolves: %v", err)
		}
		return nil
	})
}
