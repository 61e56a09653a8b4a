package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/assent-registry/assent/internal/store"
)

// testOperatorLogins: a user name and password hash set on an operator find
// it again; a user name is one operator's; a revoked operator is not found
// by user; GetOperator finds revoked ones too.
func testOperatorLogins(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := store.Operator{ID: "op-a", Role: "registrar", Site: "", Name: "A", KeyMAC: []byte("mac-a"), CreatedAt: t0}
	b := store.Operator{ID: "op-b", Role: "clinician", Name: "B", KeyMAC: []byte("mac-b"), CreatedAt: t0}
	update(t, s, func(tx store.Tx) error {
		if err := tx.CreateOperator(ctx, a); err != nil {
			return err
		}
		return tx.CreateOperator(ctx, b)
	})
	update(t, s, func(tx store.Tx) error { return tx.SetOperatorLogin(ctx, "op-a", "ama", []byte("hash-1")) })
	view(t, s, func(tx store.Tx) error {
		o, h, err := tx.OperatorByUser(ctx, "ama")
		if err != nil {
			return err
		}
		if o.ID != "op-a" || o.Role != "registrar" || !bytes.Equal(h, []byte("hash-1")) {
			t.Errorf("by user: %+v %q", o, h)
		}
		if _, _, err := tx.OperatorByUser(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown user: %v", err)
		}
		return nil
	})
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.SetOperatorLogin(ctx, "op-b", "ama", []byte("x")) }); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a user name taken by another operator: %v, want ErrConflict", err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.SetOperatorLogin(ctx, "op-none", "zed", []byte("x")) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("login of no operator: %v, want ErrNotFound", err)
	}
	// A new password replaces the old one.
	update(t, s, func(tx store.Tx) error { return tx.SetOperatorLogin(ctx, "op-a", "ama", []byte("hash-2")) })
	update(t, s, func(tx store.Tx) error { return tx.RevokeOperator(ctx, "op-a", t0) })
	view(t, s, func(tx store.Tx) error {
		if _, _, err := tx.OperatorByUser(ctx, "ama"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("revoked operator found by user: %v", err)
		}
		o, err := tx.GetOperator(ctx, "op-a")
		if err != nil || o.RevokedAt == nil {
			t.Errorf("get revoked operator: %+v %v", o, err)
		}
		if _, err := tx.GetOperator(ctx, "op-none"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get missing operator: %v", err)
		}
		return nil
	})
}
