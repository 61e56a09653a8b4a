package registry

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/envelope"
	"github.com/assent-registry/assent/internal/store"
	"github.com/assent-registry/assent/internal/store/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func newTestRegistry(t *testing.T, c *clock) *Registry {
	t.Helper()
	db, kr := newTestStore(t)
	return New(db, kr, Options{Clock: c.now})
}

// newTestStore opens a fresh SQLite store and an in-memory keyring, closed
// when the test ends; several registries may share them.
func newTestStore(t *testing.T) (*sqlite.DB, *envelope.Keyring) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(ctx, func(tx store.Tx) error {
		for _, code := range []string{"A", "A1", "B"} {
			if err := tx.PutArea(ctx, store.Area{Code: code, Name: "Area " + code}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	m, err := envelope.GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	kr, err := envelope.NewKeyring(ctx, &envelope.MemStore{}, m, envelope.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db, kr
}

var registrar = Actor{OperatorID: "op", Role: consent.Registrar, Site: "s1"}

// TestMinorComingOfAge: guardian consents stop counting at majority; the
// person re-affirms or, after the grace period, maintenance erases what the
// guardian's consent covered.
func TestMinorComingOfAge(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)}
	r := newTestRegistry(t, c)
	ci := &ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en",
		Decisions: []DecisionInput{{Category: "fingerprint", Purpose: "verification", Decision: "granted"}}}
	parent, err := r.CreatePerson(ctx, registrar, consent.Registration, NewPerson{GivenName: "P", FamilyName: "F", BirthDate: "1980-01-01", Sex: "female", AreaCode: "A", Consent: ci})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(given string) string {
		p, err := r.CreatePerson(ctx, registrar, consent.Registration, NewPerson{GivenName: given, FamilyName: "F", BirthDate: "2008-03-01", Sex: "male", AreaCode: "A", GuardianID: parent.ID, Consent: ci})
		if err != nil {
			t.Fatal(err)
		}
		return p.ID
	}
	reaffirms, silent := mk("Kid1"), mk("Kid2")
	if _, err := r.GetPerson(ctx, registrar, consent.Registration, silent); err != nil {
		t.Fatalf("minor's record under guardian consent: %v", err)
	}
	// 2026-03-01: both turn 18; guardian consents stop counting.
	c.set(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	var de *DeniedError
	if _, err := r.GetPerson(ctx, registrar, consent.Registration, silent); !errors.As(err, &de) || de.Reason != "consent_missing" {
		t.Fatalf("after majority without re-affirming: %v, want consent_missing", err)
	}
	for _, pair := range [][2]string{{"identity", "registration"}, {"fingerprint", "verification"}} {
		if _, err := r.RecordConsent(ctx, registrar, consent.Registration, reaffirms, NewConsent{Category: pair[0], Purpose: pair[1], Decision: "granted", Method: "verbal", NoticeVersion: "2", Language: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.GetPerson(ctx, registrar, consent.Registration, reaffirms); err != nil {
		t.Fatalf("after re-affirming: %v", err)
	}
	// Within the grace period nothing is erased.
	c.set(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	rep, err := r.Maintain(ctx)
	if err != nil || rep.ErasedPersons != 0 {
		t.Fatalf("maintenance inside the grace period: %+v %v", rep, err)
	}
	// After 180 days the silent one is erased, the other kept.
	c.set(time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC))
	rep, err = r.Maintain(ctx)
	if err != nil || rep.ErasedPersons != 1 {
		t.Fatalf("maintenance after the grace period: %+v %v", rep, err)
	}
	if _, err := r.GetPerson(ctx, registrar, consent.Registration, silent); !errors.Is(err, ErrErased) {
		t.Errorf("silent person: %v, want ErrErased", err)
	}
	if _, err := r.GetPerson(ctx, registrar, consent.Registration, reaffirms); err != nil {
		t.Errorf("re-affirmed person: %v", err)
	}
	if _, err := r.GetPerson(ctx, registrar, consent.Registration, parent.ID); err != nil {
		t.Errorf("guardian: %v", err)
	}
}

func TestGuardianConsentForAnAdultIsRefused(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)}
	r := newTestRegistry(t, c)
	ci := &ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en"}
	a, _ := r.CreatePerson(ctx, registrar, consent.Registration, NewPerson{GivenName: "A", FamilyName: "F", BirthDate: "1980-01-01", Sex: "female", AreaCode: "A", Consent: ci})
	b, _ := r.CreatePerson(ctx, registrar, consent.Registration, NewPerson{GivenName: "B", FamilyName: "F", BirthDate: "1981-01-01", Sex: "male", AreaCode: "A", Consent: ci})
	_, err := r.RecordConsent(ctx, registrar, consent.Registration, b.ID, NewConsent{Category: "iris", Purpose: "verification", Decision: "granted", Method: "v", NoticeVersion: "1", Language: "en", GuardianID: a.ID})
	var ie *InputError
	if !errors.As(err, &ie) {
		t.Fatalf("guardian answering for an adult: %v", err)
	}
}
