package registry

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/totp"
)

func TestOperatorTOTP(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	r := newTestRegistry(t, clk)
	op, _, err := r.CreateOperator(ctx, NewOperator{Role: consent.Registrar, Name: "R"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetOperatorPassword(ctx, Actor{Role: consent.Admin}, op.ID, "reg", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	me := Actor{OperatorID: op.ID, Role: consent.Registrar}
	secret, uri := NewTOTPSecret("reg")
	if !bytes.Contains([]byte(uri), []byte("otpauth://totp/Assent:reg?")) {
		t.Errorf("uri %s", uri)
	}
	if err := r.EnableTOTP(ctx, me, secret, wrongCode(secret, clk.now())); err == nil {
		t.Fatal("a wrong first code turned TOTP on")
	}
	if err := r.EnableTOTP(ctx, me, secret, totp.Code(secret, clk.now())); err != nil {
		t.Fatal(err)
	}
	if on, err := r.TOTPEnabled(ctx, me); !on || err != nil {
		t.Fatalf("enabled: %v %v", on, err)
	}
	// Sealed, not in clear.
	var sealed []byte
	_ = r.store.View(ctx, func(tx store.Tx) error { sealed, _, err = tx.OperatorTOTP(ctx, op.ID); return err })
	if len(sealed) == 0 || bytes.Contains(sealed, secret) {
		t.Fatalf("stored secret %x", sealed)
	}
	if _, err := r.AuthenticatePassword(ctx, "reg", "correct horse battery", "c"); !errors.Is(err, ErrCodeRequired) {
		t.Fatalf("password alone: %v, want code required", err)
	}
	// The confirming code's step is used: the same code is refused.
	if _, err := r.AuthenticatePasswordCode(ctx, "reg", "correct horse battery", totp.Code(secret, clk.now()), "c"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("replayed code: %v", err)
	}
	clk.set(clk.now().Add(time.Minute))
	a, err := r.AuthenticatePasswordCode(ctx, "reg", "correct horse battery", totp.Code(secret, clk.now()), "c")
	if err != nil || a.OperatorID != op.ID {
		t.Fatalf("password and code: %+v %v", a, err)
	}
	// Wrong codes count toward the lock.
	for i := 0; i < MaxPasswordFailures; i++ {
		_, err = r.AuthenticatePasswordCode(ctx, "reg", "correct horse battery", wrongCode(secret, clk.now()), "c")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("after %d wrong codes: %v, want locked", MaxPasswordFailures, err)
	}
	// Only an admin resets TOTP; then the password alone signs in.
	if err := r.ResetOperatorTOTP(ctx, me, op.ID); err == nil {
		t.Fatal("a registrar reset TOTP")
	}
	if err := r.ResetOperatorTOTP(ctx, Actor{Role: consent.Admin}, op.ID); err != nil {
		t.Fatal(err)
	}
	clk.set(clk.now().Add(PasswordLockout))
	if _, err := r.AuthenticatePassword(ctx, "reg", "correct horse battery", "c"); err != nil {
		t.Fatalf("password after reset: %v", err)
	}
}

// wrongCode is a 6-digit code that is not the secret's around t.
func wrongCode(secret []byte, t time.Time) string {
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if _, ok := totp.Verify(secret, c, t, 0); !ok {
			return c
		}
	}
	panic("unreachable")
}
