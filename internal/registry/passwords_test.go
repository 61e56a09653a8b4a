package registry

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
)

func TestOperatorPasswords(t *testing.T) {
	ctx := context.Background()
	r := newTestRegistry(t, &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)})
	admin := Actor{Role: consent.Admin}
	op, _, err := r.CreateOperator(ctx, NewOperator{Role: consent.Clinician, Name: "Dr A"})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetOperatorPassword(ctx, Actor{Role: consent.Registrar}, op.ID, "dr.a", "long enough password"); err == nil {
		t.Fatal("a registrar set a password")
	}
	if err := r.SetOperatorPassword(ctx, admin, op.ID, "dr.a", "short"); err == nil {
		t.Fatal("a short password was taken")
	}
	if err := r.SetOperatorPassword(ctx, admin, op.ID, "Dr.A", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	a, err := r.AuthenticatePassword(ctx, "dr.a", "correct horse battery", "c1")
	if err != nil || a.OperatorID != op.ID || a.Role != consent.Clinician {
		t.Fatalf("sign-in: %+v %v", a, err)
	}
	if _, err := r.AuthenticatePassword(ctx, "dr.a", "wrong", "c1"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := r.AuthenticatePassword(ctx, "nobody", "correct horse battery", "c1"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("unknown user: %v", err)
	}
	// Five wrong passwords in a row lock the name, even for the right one.
	for i := 0; i < MaxPasswordFailures; i++ {
		_, err = r.AuthenticatePassword(ctx, "dr.a", "wrong "+strings.Repeat("x", i), "c2")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("after %d failures: %v, want locked", MaxPasswordFailures, err)
	}
	if _, err := r.AuthenticatePassword(ctx, "dr.a", "correct horse battery", "c3"); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked name signed in: %v", err)
	}
	// Revoked: the session check and the password both refuse.
	if _, err := r.OperatorActor(ctx, op.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.RevokeOperator(ctx, op.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.OperatorActor(ctx, op.ID); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked operator's session: %v", err)
	}
	if h := hashPassword("p"); !strings.HasPrefix(string(h), "$argon2id$v=19$m=19456,t=2,p=1$") || !checkPassword(h, "p") || checkPassword(h, "q") {
		t.Fatalf("PHC hash %s", h)
	}
}
