package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/assent-registry/assent/internal/store"
)

// testOperatorTOTP: a sealed TOTP secret set on an operator is read back;
// a step is used once and never an earlier one; clearing turns TOTP off.
func testOperatorTOTP(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		return tx.CreateOperator(ctx, store.Operator{ID: "op-t", Role: "registrar", Name: "T", KeyMAC: []byte("mac-t"), CreatedAt: t0})
	})
	view(t, s, func(tx store.Tx) error {
		sealed, step, err := tx.OperatorTOTP(ctx, "op-t")
		if err != nil || sealed != nil || step != 0 {
			t.Errorf("new operator's totp: %q %d %v, want off", sealed, step, err)
		}
		if _, _, err := tx.OperatorTOTP(ctx, "op-none"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("totp of no operator: %v", err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.SetOperatorTOTP(ctx, "op-t", []byte("sealed"), 100) })
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.SetOperatorTOTP(ctx, "op-none", []byte("x"), 0) }); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("set totp of no operator: %v, want ErrNotFound", err)
	}
	update(t, s, func(tx store.Tx) error { return tx.UseOperatorTOTPStep(ctx, "op-t", 101) })
	for _, step := range []int64{101, 99} {
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.UseOperatorTOTPStep(ctx, "op-t", step) }); !errors.Is(err, store.ErrConflict) {
			t.Errorf("step %d after 101: %v, want ErrConflict", step, err)
		}
	}
	view(t, s, func(tx store.Tx) error {
		sealed, step, err := tx.OperatorTOTP(ctx, "op-t")
		if err != nil || !bytes.Equal(sealed, []byte("sealed")) || step != 101 {
			t.Errorf("totp: %q %d %v", sealed, step, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.SetOperatorTOTP(ctx, "op-t", nil, 0) })
	view(t, s, func(tx store.Tx) error {
		if sealed, _, err := tx.OperatorTOTP(ctx, "op-t"); err != nil || sealed != nil {
			t.Errorf("cleared totp: %q %v", sealed, err)
		}
		return nil
	})
}
