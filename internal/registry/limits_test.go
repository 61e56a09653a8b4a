package registry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/consent"
)

// TestLoginLimits: failures lock a person's portal for the client that made
// them, and for everyone past the person-wide limit; failures on ids that do
// not exist count against nobody and cannot flush a lock; the tables are
// bounded LRUs (issue 12, item 14).
func TestLoginLimits(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)}
	r := newTestRegistry(t, c)
	r.limits.persons.max, r.limits.pairs.max, r.limits.clients.max = 8, 8, 8
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
	if n := r.limits.persons.len(); n != 1 {
		t.Errorf("%d persons counted, want only the real one", n)
	}
	if r.limits.clients.len() > 8 {
		t.Errorf("client table holds %d entries, bound 8", r.limits.clients.len())
	}
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

func TestLRUIsBounded(t *testing.T) {
	l := lru{max: 3}
	for _, k := range []string{"a", "b", "c"} {
		l.get(k).n = 1
	}
	l.get("a") // a is now the most recently used
	l.get("d")
	if l.len() != 3 || l.peek("b") != nil || l.peek("a") == nil || l.peek("c") == nil {
		t.Errorf("after d: a %v b %v c %v, len %d; want b dropped", l.peek("a"), l.peek("b"), l.peek("c"), l.len())
	}
}
