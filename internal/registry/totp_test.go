package registry

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/audit"
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

// TestOwnTOTPAuditedAndTurnedOff: turning one's own TOTP on is the
// manage_own_credential operation and leaves an allowed audit event with
// the operator's id; turning it off needs the password and a current code
// of the same operator (wrong ones change nothing and count toward the
// lock) and leaves its event too.
func TestOwnTOTPAuditedAndTurnedOff(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	r := newTestRegistry(t, clk)
	admin := Actor{Role: consent.Admin}
	op, _, err := r.CreateOperator(ctx, NewOperator{Role: consent.Clinician, Name: "C"})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := r.CreateOperator(ctx, NewOperator{Role: consent.Clinician, Name: "D"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetOperatorPassword(ctx, admin, op.ID, "clin", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	if err := r.SetOperatorPassword(ctx, admin, other.ID, "clin2", "another long phrase"); err != nil {
		t.Fatal(err)
	}
	me := Actor{OperatorID: op.ID, Role: consent.Clinician, Route: "UI POST /ui/totp"}
	lastEvent := func() audit.Event {
		t.Helper()
		var rows []store.AuditRow
		if err := r.store.View(ctx, func(tx store.Tx) error {
			n, err := tx.AuditSize(ctx)
			if err != nil {
				return err
			}
			rows, err = tx.AuditRows(ctx, n-1, 1)
			return err
		}); err != nil || len(rows) != 1 {
			t.Fatalf("last audit row: %v", err)
		}
		ev, err := audit.DecodeEvent(rows[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	size := func() uint64 {
		var n uint64
		_ = r.store.View(ctx, func(tx store.Tx) error { n, err = tx.AuditSize(ctx); return err })
		return n
	}

	if err := r.DisableTOTP(ctx, me, "correct horse battery", "123456", "c"); err == nil {
		t.Fatal("turning off a TOTP that is off succeeded")
	}
	secret, _ := NewTOTPSecret("clin")
	before := size()
	if err := r.EnableTOTP(ctx, me, secret, totp.Code(secret, clk.now())); err != nil {
		t.Fatal(err)
	}
	if ev := lastEvent(); size() != before+1 || ev.Action != string(consent.ManageOwnCredential) || ev.Outcome != "allow" || ev.OperatorID != op.ID || ev.PersonID != "" {
		t.Fatalf("turning TOTP on: %d events, last %+v", size()-before, ev)
	}

	clk.set(clk.now().Add(time.Minute))
	code := totp.Code(secret, clk.now())
	before = size()
	for _, c := range []struct {
		name, user, password, code string
	}{
		{"wrong password", "clin", "not the password", code},
		{"wrong code", "clin", "correct horse battery", wrongCode(secret, clk.now())},
		{"another operator's credentials", "clin2", "another long phrase", code},
		{"no code", "clin", "correct horse battery", ""},
	} {
		if err := r.DisableTOTP(ctx, me, c.password, c.code, "c"); err == nil {
			t.Errorf("%s turned TOTP off", c.name)
		}
		if on, _ := r.TOTPEnabled(ctx, me); !on {
			t.Fatalf("%s: TOTP is off", c.name)
		}
	}
	if size() != before {
		t.Errorf("refused re-authentications left %d audit events", size()-before)
	}
	if err := r.DisableTOTP(ctx, me, "correct horse battery", code, "c"); err != nil {
		t.Fatalf("password and code: %v", err)
	}
	if on, _ := r.TOTPEnabled(ctx, me); on {
		t.Fatal("TOTP still on")
	}
	if ev := lastEvent(); ev.Action != string(consent.ManageOwnCredential) || ev.Outcome != "allow" || ev.OperatorID != op.ID {
		t.Fatalf("turning TOTP off: last event %+v", ev)
	}
	if _, err := r.AuthenticatePassword(ctx, "clin", "correct horse battery", "c2"); err != nil {
		t.Fatalf("the password alone after turning TOTP off: %v", err)
	}
}
