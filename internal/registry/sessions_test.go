package registry

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// TestUISessions: a web session lives while used, dies after the idle
// timeout, keeps its desk, ends at sign-out; a person's web session ends
// with the portal session it rides on, and its sign-out ends that one; the
// store never holds a token.
func TestUISessions(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)}
	r := newTestRegistry(t, c)
	now := c.now()
	tok, err := r.StartUISession(ctx, UISession{OperatorID: "op-1", Role: consent.Registrar, Password: true}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.StartUISession(ctx, UISession{Role: consent.Registrar}, now); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("session without an operator: %v", err)
	}
	// Used every 20 minutes it stays; the expiry moves on.
	for i := range 4 {
		now = now.Add(20 * time.Minute)
		u, err := r.UISession(ctx, tok, now)
		if err != nil || u.OperatorID != "op-1" || !u.Password || u.Role != consent.Registrar {
			t.Fatalf("use %d: %+v %v", i, u, err)
		}
	}
	if err := r.SetUISessionPurpose(ctx, tok, consent.Verification, now); err != nil {
		t.Fatal(err)
	}
	if u, err := r.UISession(ctx, tok, now); err != nil || u.Purpose != consent.Verification {
		t.Fatalf("desk: %+v %v", u, err)
	}
	if err := r.store.View(ctx, func(tx store.Tx) error {
		_, err := tx.GetSession(ctx, []byte(tok), now)
		return err
	}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a session is stored under its token: %v", err)
	}
	if _, err := r.UISession(ctx, tok, now.Add(UIIdleTimeout+time.Second)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("after the idle timeout: %v", err)
	}
	tok2, err := r.StartUISession(ctx, UISession{OperatorID: "op-1", Role: consent.Registrar}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.EndUISession(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	if _, err := r.UISession(ctx, tok2, now); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("after sign-out: %v", err)
	}
	if err := r.SetUISessionPurpose(ctx, tok2, consent.Registration, now); err != nil {
		t.Fatal(err)
	}
	if _, err := r.UISession(ctx, tok2, now); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("a desk change brought an ended session back: %v", err)
	}

	// A person's session rides on the portal session.
	p, err := r.CreatePerson(ctx, registrar, consent.Registration, NewPerson{GivenName: "A", FamilyName: "F", BirthDate: "1980-01-01", Sex: "female", AreaCode: "A",
		Consent: &ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en"}})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := r.Login(ctx, p.ID, p.Receipt.Code, "203.0.113.5")
	if err != nil {
		t.Fatal(err)
	}
	now = c.now()
	ptok, err := r.StartPortalUISession(ctx, ps.Token, now)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := r.UISession(ctx, ptok, now); err != nil || u.PersonID != p.ID || u.Role != consent.Subject || u.OperatorID != "" {
		t.Fatalf("person's session: %+v %v", u, err)
	}
	c.set(c.now().Add(SessionTTL))
	if _, err := r.UISession(ctx, ptok, now.Add(time.Minute)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("web session outlived its portal session: %v", err)
	}
	if _, err := r.AuthenticateSession(ctx, ps.Token); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("portal session after its TTL: %v", err)
	}
	if _, err := r.StartPortalUISession(ctx, ps.Token, now); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("web session on an expired portal session: %v", err)
	}
	ps, err = r.Login(ctx, p.ID, p.Receipt.Code, "203.0.113.5")
	if err != nil {
		t.Fatal(err)
	}
	ptok, err = r.StartPortalUISession(ctx, ps.Token, c.now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.EndUISession(ctx, ptok); err != nil {
		t.Fatal(err)
	}
	if _, err := r.AuthenticateSession(ctx, ps.Token); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("the person's sign-out left the portal session: %v", err)
	}
	if _, err := r.AuthenticateSession(ctx, "subject.forged"); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("forged token: %v", err)
	}
}
