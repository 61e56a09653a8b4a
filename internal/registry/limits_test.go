package registry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
	"github.com/assent-registry/assent/internal/store"
)

// TestLoginLimits: failures lock a person's portal for the client that made
// them, and for everyone past the person-wide limit; failures on ids that do
// not exist count against nobody and cannot flush a lock; the counters are
// rows in the store under keyed MACs, pruned once dead (issue 12, item 14;
// issue 15, item 6).
func TestLoginLimits(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)}
	r := newTestRegistry(t, c)
	ci := &ConsentInput{Method: "verbal", NoticeVersion: "1", Language: "en"}
	p, err := r.CreatePerson(ctx, registrar, consent.Registration, NewPerson{GivenName: "A", FamilyName: "F", BirthDate: "1980-01-01", Sex: "female", AreaCode: "A", Consent: ci})
	if err != nil {
		t.Fatal(err)
	}
	code := p.Receipt.Code
	login := func(id, code, client string) error {
		_, err := r.Login(ctx, id, code, client)
		return err
	}
	for range maxPairFailures {
		if err := login(p.ID, "WRONG", "203.0.113.1"); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("wrong code: %v", err)
		}
	}
	if err := login(p.ID, code, "203.0.113.1"); !errors.Is(err, ErrLocked) {
		t.Fatalf("after %d failures from one client, the right code from it: %v, want ErrLocked", maxPairFailures, err)
	}
	if err := login(p.ID, code, "198.51.100.7"); err != nil {
		t.Fatalf("the person from another address is not locked out by someone else's failures: %v", err)
	}
	// A flood of invented ids from many clients: nothing is counted against
	// a person, and the lock of the first client holds.
	for i := range 100 {
		if err := login(fmt.Sprintf("no-such-%d", i), "WRONG", fmt.Sprintf("192.0.2.%d", i)); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("unknown id: %v", err)
		}
	}
	for i := range 100 {
		if _, err := r.counter(ctx, ctrPerson, fmt.Sprintf("no-such-%d", i)); err == nil {
			t.Fatalf("a failure on the unknown id no-such-%d was counted against a person", i)
		}
	}
	if c, err := r.counter(ctx, ctrPerson, p.ID); err != nil || c.N != maxPairFailures {
		t.Fatalf("the real person's failures: %+v %v, want %d", c, err, maxPairFailures)
	}
	// Counters are stored under keyed MACs: no person id or address in clear.
	view := func(fn func(store.Tx) error) {
		if err := r.store.View(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	view(func(tx store.Tx) error {
		for _, k := range [][]byte{[]byte(p.ID), []byte("203.0.113.1"), []byte("person\x00" + p.ID)} {
			if _, err := tx.GetCounter(ctx, k); err == nil {
				t.Errorf("a counter is stored under %q in clear", k)
			}
		}
		return nil
	})
	if err := login(p.ID, code, "203.0.113.1"); !errors.Is(err, ErrLocked) {
		t.Fatalf("the lock was flushed by a flood of unknown ids: %v", err)
	}
	// Failures spread over many clients lock the person for everyone.
	c.set(c.now().Add(lockout))
	for i := range maxPersonFailures {
		_ = login(p.ID, "WRONG", fmt.Sprintf("10.1.%d.%d", i/4, i))
	}
	if err := login(p.ID, code, "198.51.100.7"); !errors.Is(err, ErrLocked) {
		t.Fatalf("after %d failures from many clients: %v, want ErrLocked", maxPersonFailures, err)
	}
	c.set(c.now().Add(lockout))
	if err := login(p.ID, code, "198.51.100.7"); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	// A client's rate is limited whatever ids it tries.
	for i := range maxPerClient {
		_ = login(fmt.Sprintf("x-%d", i), "WRONG", "192.0.2.200")
	}
	if err := login(p.ID, code, "192.0.2.200"); !errors.Is(err, ErrLocked) {
		t.Fatalf("client over its rate: %v, want ErrLocked", err)
	}
}

// TestCountersPruned: once their window and lockout are over, counters
// are dead and pruned.
func TestCountersPruned(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)}
	r := newTestRegistry(t, c)
	for i := range 30 {
		if _, err := r.Login(ctx, fmt.Sprintf("no-such-%d", i), "WRONG", fmt.Sprintf("192.0.2.%d", i)); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("unknown id: %v", err)
		}
	}
	if n, err := r.PruneShared(ctx); err != nil || n != 0 {
		t.Fatalf("pruned %d (%v) live counters", n, err)
	}
	c.set(c.now().Add(clientWindow))
	if n, err := r.PruneShared(ctx); err != nil || n != 30 {
		t.Fatalf("pruned %d (%v) counters after their window, want 30", n, err)
	}
}

// counter reads a login counter, for tests.
func (r *Registry) counter(ctx context.Context, kind string, subject ...string) (store.Counter, error) {
	var c store.Counter
	err := r.store.View(ctx, func(tx store.Tx) error {
		var err error
		c, err = tx.GetCounter(ctx, r.counterKey(kind, subject...))
		return err
	})
	return c, err
}
