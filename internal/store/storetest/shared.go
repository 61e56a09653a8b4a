package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/store"
	"github.com/google/go-cmp/cmp"
)

// testSessions: a session reads back until it expires; replacing it moves
// its expiry; deleting a portal session deletes the web sessions riding on
// it; pruning removes dead sessions only.
func testSessions(t *testing.T, s store.Store) {
	ctx := context.Background()
	portal := store.Session{ID: []byte("portal-mac"), Kind: "portal", PersonID: "p1", Role: "subject", ExpiresAt: t0.Add(15 * time.Minute)}
	ui := store.Session{ID: []byte("ui-mac"), Kind: "ui", PersonID: "p1", Parent: portal.ID, Role: "subject", ExpiresAt: t0.Add(30 * time.Minute)}
	op := store.Session{ID: []byte("op-mac"), Kind: "ui", OperatorID: "op1", Role: "registrar", Purpose: "registration", Method: "password", ExpiresAt: t0.Add(time.Minute)}
	update(t, s, func(tx store.Tx) error {
		for _, x := range []store.Session{portal, ui, op} {
			if err := tx.PutSession(ctx, x); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		for _, want := range []store.Session{portal, ui, op} {
			got, err := tx.GetSession(ctx, want.ID, t0)
			if err != nil {
				t.Errorf("session %s: %v", want.ID, err)
				continue
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("session %s (-want +got):\n%s", want.ID, d)
			}
		}
		if _, err := tx.GetSession(ctx, op.ID, t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session at its expiry: %v, want ErrNotFound", err)
		}
		if _, err := tx.GetSession(ctx, []byte("none"), t0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("no session: %v, want ErrNotFound", err)
		}
		return nil
	})
	op.Purpose, op.ExpiresAt = "verification", t0.Add(time.Hour)
	update(t, s, func(tx store.Tx) error { return tx.PutSession(ctx, op) })
	update(t, s, func(tx store.Tx) error { return tx.DeleteSession(ctx, portal.ID) })
	view(t, s, func(tx store.Tx) error {
		for _, id := range [][]byte{portal.ID, ui.ID} {
			if _, err := tx.GetSession(ctx, id, t0); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("session %s after its portal session was deleted: %v", id, err)
			}
		}
		got, err := tx.GetSession(ctx, op.ID, t0.Add(30*time.Minute))
		if err != nil || got.Purpose != "verification" || !got.ExpiresAt.Equal(op.ExpiresAt) {
			t.Errorf("replaced session: %+v %v", got, err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteSession(ctx, []byte("none")) })
	update(t, s, func(tx store.Tx) error {
		n, err := tx.PruneShared(ctx, t0.Add(30*time.Minute), 100)
		if err != nil || n != 0 {
			t.Errorf("prune before expiry: %d %v, want 0", n, err)
		}
		n, err = tx.PruneShared(ctx, t0.Add(time.Hour), 100)
		if err != nil || n != 1 {
			t.Errorf("prune at expiry: %d %v, want 1", n, err)
		}
		return nil
	})
}

// testSessionsErased: erasing a person (with or without kept care data)
// ends their sessions; others' stay.
func testSessionsErased(t *testing.T, s store.Store) {
	ctx := context.Background()
	update(t, s, func(tx store.Tx) error {
		for i, id := range []string{"p1", "p2", "p3"} {
			if err := tx.CreatePerson(ctx, person(id)); err != nil {
				return err
			}
			if err := tx.PutSession(ctx, store.Session{ID: []byte("s-" + id), Kind: "portal", PersonID: id, ExpiresAt: t0.Add(time.Hour)}); err != nil {
				return err
			}
			if err := tx.PutSession(ctx, store.Session{ID: []byte{byte(i)}, Kind: "ui", PersonID: id, Parent: []byte("s-" + id), ExpiresAt: t0.Add(time.Hour)}); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.ErasePerson(ctx, "p1", t0) })
	update(t, s, func(tx store.Tx) error { return tx.ErasePersonKeepCare(ctx, "p2", t0) })
	view(t, s, func(tx store.Tx) error {
		for i, id := range []string{"p1", "p2", "p3"} {
			_, err1 := tx.GetSession(ctx, []byte("s-"+id), t0)
			_, err2 := tx.GetSession(ctx, []byte{byte(i)}, t0)
			gone := errors.Is(err1, store.ErrNotFound) && errors.Is(err2, store.ErrNotFound)
			if want := id != "p3"; gone != want {
				t.Errorf("%s's sessions gone: %v (%v, %v), want %v", id, gone, err1, err2, want)
			}
		}
		return nil
	})
}

// testCounters: a counter reads back with zero times kept zero; pruning
// honours limit and expiry.
func testCounters(t *testing.T, s store.Store) {
	ctx := context.Background()
	a := store.Counter{N: 3, Start: t0, ExpiresAt: t0.Add(time.Minute)}
	b := store.Counter{N: 0, LockedUntil: t0.Add(15 * time.Minute), ExpiresAt: t0.Add(15 * time.Minute)}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.GetCounter(ctx, []byte("a")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("absent counter: %v, want ErrNotFound", err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		if err := tx.PutCounter(ctx, []byte("a"), store.Counter{N: 1, Start: t0, ExpiresAt: t0}); err != nil {
			return err
		}
		if err := tx.PutCounter(ctx, []byte("a"), a); err != nil {
			return err
		}
		return tx.PutCounter(ctx, []byte("b"), b)
	})
	view(t, s, func(tx store.Tx) error {
		for k, want := range map[string]store.Counter{"a": a, "b": b} {
			got, err := tx.GetCounter(ctx, []byte(k))
			if err != nil {
				t.Errorf("counter %s: %v", k, err)
			} else if d := cmp.Diff(want, got); d != "" {
				t.Errorf("counter %s (-want +got):\n%s", k, d)
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		n, err := tx.PruneShared(ctx, t0.Add(time.Hour), 1)
		if err != nil || n != 1 {
			t.Errorf("prune with limit 1: %d %v", n, err)
		}
		return tx.DeleteCounter(ctx, []byte("zz"))
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteCounter(ctx, []byte("a")) })
	update(t, s, func(tx store.Tx) error { return tx.DeleteCounter(ctx, []byte("b")) })
	view(t, s, func(tx store.Tx) error {
		for _, k := range []string{"a", "b"} {
			if _, err := tx.GetCounter(ctx, []byte(k)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("deleted counter %s: %v", k, err)
			}
		}
		return nil
	})
}

// testLeases: one holder at a time; the holder renews; another takes it once
// it ran out or was released; a release by a non-holder keeps it.
func testLeases(t *testing.T, s store.Store) {
	ctx := context.Background()
	acquire := func(holder string, now time.Time) bool {
		t.Helper()
		var ok bool
		update(t, s, func(tx store.Tx) error {
			var err error
			ok, err = tx.AcquireLease(ctx, "cut", holder, now, now.Add(10*time.Second))
			return err
		})
		return ok
	}
	steps := []struct {
		holder string
		at     time.Duration
		want   bool
	}{
		{"a", 0, true},
		{"b", time.Second, false},
		{"a", 5 * time.Second, true},   // renewed to 15 s
		{"b", 12 * time.Second, false}, // a's renewal holds
		{"b", 15 * time.Second, true},  // ran out
		{"a", 16 * time.Second, false},
	}
	for _, st := range steps {
		if got := acquire(st.holder, t0.Add(st.at)); got != st.want {
			t.Errorf("%s at %v: acquired %v, want %v", st.holder, st.at, got, st.want)
		}
	}
	update(t, s, func(tx store.Tx) error { return tx.ReleaseLease(ctx, "cut", "a") })
	if acquire("a", t0.Add(17*time.Second)) {
		t.Error("a release by a non-holder freed the lease")
	}
	update(t, s, func(tx store.Tx) error { return tx.ReleaseLease(ctx, "cut", "b") })
	if !acquire("a", t0.Add(17*time.Second)) {
		t.Error("a released lease was not free")
	}
}
