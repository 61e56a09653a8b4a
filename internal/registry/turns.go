package registry

import (
	"context"
	"fmt"

	"github.com/assent-registry/assent/internal/consent"
)

// dedupLocker is a store shared by several processes that can make their
// deduplicating enrolments of one modality take turns
// (postgres.DB.LockDedup: a session advisory lock). A store that one
// process owns (SQLite) has no need of it.
type dedupLocker interface {
	LockDedup(ctx context.Context, modality string) (unlock func(), err error)
}

// searchTurn waits for this enrolment's turn to deduplicate in modality
// cat and returns the function that ends it; the caller holds the turn
// from its 1:N search to its commit (and the gallery's Add), so that two
// captures of one finger enrolled at the same instant find each other:
// within this process (searchMu), and across every node over the store
// when the store is shared (dedupLocker). Turns of several modalities are
// taken in a fixed order (fingerprint, then iris).
func (r *Registry) searchTurn(ctx context.Context, cat consent.Category) (release func(), err error) {
	mu := r.searchMu[cat]
	mu.Lock()
	l, ok := r.store.(dedupLocker)
	if !ok {
		return mu.Unlock, nil
	}
	unlock, err := l.LockDedup(ctx, string(cat))
	if err != nil {
		mu.Unlock()
		return nil, fmt.Errorf("registry: deduplication turn: %w", err)
	}
	return func() { unlock(); mu.Unlock() }, nil
}
