package registry

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/assent-registry/assent/internal/store"
)

// Login limits. The counters live in the store (store.Shared), so that every
// API node over one database enforces the same rate and the same locks: a
// lock earned by failures on one node holds on all of them. Three counters
// for the portal:
//
//   - per client address: at most maxPerClient attempts per clientWindow,
//     whatever ids it tries (slows one machine guessing many people);
//   - per (person, client): maxPairFailures wrong codes lock that client out
//     of that person's portal for lockout;
//   - per person: maxPersonFailures wrong codes from any clients lock the
//     person's portal for lockout (slows guessing spread over many
//     addresses).
//
// and two for operators' password sign-in (passwords.go): per client
// address (the same rate, counted apart) and per user name.
//
// Failures are counted against a person only when the person exists and is
// active: wrong ids cost the client its attempts but touch no real person,
// so nobody can lock them with invented ids.
//
// A counter's key is a keyed MAC (Keyring.MAC, label counterLabel) of its
// kind and subject, so the table holds no person id, user name or client
// address in the clear. Every row carries the time after which it is dead;
// pruneShared deletes dead rows (at most once a minute per node, from the
// sign-in paths), so the table holds at most the rows of the last window
// and lockout, whatever an attacker sends.
//
// The trade-off: someone who knows a person's id can, from enough
// addresses, lock that person's portal for lockout at a time. The person
// keeps every right at a registration site meanwhile, and the code space
// (80 random bits) makes guessing hopeless at these rates; a per-person
// lockout is what keeps distributed guessing that way. docs/consent.md
// says so.
const (
	maxPerClient      = 20 // login attempts per client address per window
	clientWindow      = time.Minute
	maxPairFailures   = 5  // wrong codes for one person from one client
	maxPersonFailures = 20 // wrong codes for one person from all clients
	lockout           = 15 * time.Minute

	counterLabel = "login-counter"
	pruneEvery   = time.Minute
	pruneBatch   = 1000
)

// Counter kinds (the first part of a counter's MAC input).
const (
	ctrClient   = "client"   // portal attempts of a client address
	ctrPair     = "pair"     // portal failures of (person, client)
	ctrPerson   = "person"   // portal failures of a person
	ctrPwClient = "pwclient" // password sign-in attempts of a client address
	ctrUser     = "user"     // wrong passwords or codes of a user name
)

// counterKey is the stored key of the counter of kind for subject.
func (r *Registry) counterKey(kind string, subject ...string) []byte {
	b := []byte(kind)
	for _, s := range subject {
		b = append(b, 0)
		b = append(b, s...)
	}
	return r.keys.MAC(counterLabel, b)
}

// getCounter returns the counter at key, the zero counter when absent.
func getCounter(ctx context.Context, tx store.Tx, key []byte) (store.Counter, error) {
	c, err := tx.GetCounter(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return store.Counter{}, nil
	}
	return c, err
}

// hit counts one attempt at key in a fixed window of length window, and
// reports whether it is within max.
func hit(ctx context.Context, tx store.Tx, key []byte, now time.Time, window time.Duration, max int) (bool, error) {
	c, err := getCounter(ctx, tx, key)
	if err != nil {
		return false, err
	}
	if c.Start.IsZero() || now.Sub(c.Start) >= window {
		c.N, c.Start = 0, now
	}
	c.N++
	c.ExpiresAt = c.Start.Add(window)
	return c.N <= max, tx.PutCounter(ctx, key, c)
}

// fail counts one failure at key. Failures older than forget (counted from
// the first of them) are forgotten; the max-th locks key for lock and starts
// the count again. It reports whether key is now locked.
func fail(ctx context.Context, tx store.Tx, key []byte, now time.Time, forget time.Duration, max int, lock time.Duration) (bool, error) {
	c, err := getCounter(ctx, tx, key)
	if err != nil {
		return false, err
	}
	if !c.Start.IsZero() && now.Sub(c.Start) >= forget {
		c.N, c.Start = 0, time.Time{}
	}
	if c.Start.IsZero() {
		c.Start = now
	}
	c.N++
	locked := false
	if c.N >= max {
		c.N, c.Start, c.LockedUntil, locked = 0, time.Time{}, now.Add(lock), true
	}
	c.ExpiresAt = c.LockedUntil
	if !c.Start.IsZero() && c.Start.Add(forget).After(c.ExpiresAt) {
		c.ExpiresAt = c.Start.Add(forget)
	}
	return locked, tx.PutCounter(ctx, key, c)
}

// lockedAt reports whether any of keys is locked at now.
func lockedAt(ctx context.Context, tx store.Tx, now time.Time, keys ...[]byte) (bool, error) {
	for _, k := range keys {
		c, err := getCounter(ctx, tx, k)
		if err != nil {
			return false, err
		}
		if now.Before(c.LockedUntil) {
			return true, nil
		}
	}
	return false, nil
}

// pruner remembers when this node last pruned the shared tables.
type pruner struct{ last atomic.Int64 }

// pruneShared deletes dead sessions and counters, at most once per
// pruneEvery on this node (another node may prune meanwhile; that is fine).
// A failure is logged, never returned: pruning is housekeeping.
func (r *Registry) pruneShared(ctx context.Context) {
	now := r.clock()
	last := r.prune.last.Load()
	if now.UnixMilli()-last < pruneEvery.Milliseconds() || !r.prune.last.CompareAndSwap(last, now.UnixMilli()) {
		return
	}
	for range 10 {
		n := 0
		err := r.store.Update(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.PruneShared(ctx, now, pruneBatch)
			return err
		})
		if err != nil {
			r.log.WarnContext(ctx, "pruning expired sessions and login counters failed", "err", err)
			return
		}
		if n < pruneBatch {
			return
		}
	}
}

// PruneShared deletes every session and login counter dead at the
// registry's clock (for `assent maintain` and tests); the sign-in paths
// prune as they go.
func (r *Registry) PruneShared(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := r.store.Update(ctx, func(tx store.Tx) error {
			var err error
			n, err = tx.PruneShared(ctx, r.clock(), pruneBatch)
			return err
		})
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}
