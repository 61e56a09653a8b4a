package envelope

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// Ref names one key in a KeyStore.
//
// Data keys have Owner = person id and Name = "data/" + category. Keys that
// belong to the deployment (blind-index and MAC secrets, signing keys) have
// Owner = "" and Name = "secret/..." or "signing/...". A KeyStore treats both
// fields as opaque strings.
type Ref struct {
	Owner string
	Name  string
}

// WrappedKey is a key as a KeyStore holds it: never in clear.
type WrappedKey struct {
	Ref      Ref
	Version  uint32    // random, non-zero; sealed values carry it (see Keyring.Seal)
	MasterID string    // MasterKey.ID of the master key that wrapped it
	Wrapped  []byte    // wrap format: see docs/keys.md
	Created  time.Time // when the key was generated (UTC, second precision)
}

// KeyStore holds wrapped keys apart from the data they protect. It sees only
// wrapped bytes, and it must really forget what Delete and DeleteOwner remove
// (no soft delete, no history table); the SQLite implementation also
// overwrites the freed bytes in its file.
//
// Implementations are safe for concurrent use. The keyring serialises what
// needs serialising; a KeyStore only has to make each call atomic.
type KeyStore interface {
	// Get returns the key under ref, or an error wrapping ErrNotFound.
	Get(ctx context.Context, ref Ref) (WrappedKey, error)
	// Create stores wk if no key is stored under wk.Ref, else returns an error
	// wrapping ErrExists and leaves the stored key alone.
	Create(ctx context.Context, wk WrappedKey) error
	// Delete removes the key under ref. Deleting a missing key is not an error.
	Delete(ctx context.Context, ref Ref) error
	// DeleteOwner removes every key whose Ref.Owner is owner (which is never
	// empty) and returns how many it removed.
	DeleteOwner(ctx context.Context, owner string) (int, error)
	// Rewrap calls fn for every stored key and replaces each with fn's result,
	// all in one transaction: if fn or the store fails, nothing changes. fn
	// must keep Ref unchanged. fn is called from one goroutine at a time.
	Rewrap(ctx context.Context, fn func(WrappedKey) (WrappedKey, error)) error
}

// MemStore is an in-memory KeyStore for tests and the demo. Its zero value is
// ready to use; it is safe for concurrent use.
type MemStore struct {
	mu   sync.Mutex
	keys map[Ref]WrappedKey
}

var _ KeyStore = (*MemStore)(nil)

func cloneWrapped(wk WrappedKey) WrappedKey {
	wk.Wrapped = bytes.Clone(wk.Wrapped)
	return wk
}

// Get implements KeyStore.
func (s *MemStore) Get(ctx context.Context, ref Ref) (WrappedKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wk, ok := s.keys[ref]
	if !ok {
		return WrappedKey{}, fmt.Errorf("envelope.MemStore.Get: %w", ErrNotFound)
	}
	return cloneWrapped(wk), nil
}

// Create implements KeyStore.
func (s *MemStore) Create(ctx context.Context, wk WrappedKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[wk.Ref]; ok {
		return fmt.Errorf("envelope.MemStore.Create: %w", ErrExists)
	}
	if s.keys == nil {
		s.keys = make(map[Ref]WrappedKey)
	}
	s.keys[wk.Ref] = cloneWrapped(wk)
	return nil
}

// Delete implements KeyStore.
func (s *MemStore) Delete(ctx context.Context, ref Ref) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if wk, ok := s.keys[ref]; ok {
		clear(wk.Wrapped)
		delete(s.keys, ref)
	}
	return nil
}

// DeleteOwner implements KeyStore.
func (s *MemStore) DeleteOwner(ctx context.Context, owner string) (int, error) {
	if owner == "" {
		return 0, fmt.Errorf("envelope.MemStore.DeleteOwner: %w: empty owner", ErrInvalidArgument)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for ref, wk := range s.keys {
		if ref.Owner == owner {
			clear(wk.Wrapped)
			delete(s.keys, ref)
			n++
		}
	}
	return n, nil
}

// Rewrap implements KeyStore.
func (s *MemStore) Rewrap(ctx context.Context, fn func(WrappedKey) (WrappedKey, error)) error {
	const op = "envelope.MemStore.Rewrap"
	s.mu.Lock()
	defer s.mu.Unlock()
	refs := slices.SortedFunc(maps.Keys(s.keys), compareRef)
	next := make(map[Ref]WrappedKey, len(s.keys))
	for _, ref := range refs {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		nk, err := fn(cloneWrapped(s.keys[ref]))
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if nk.Ref != ref {
			return fmt.Errorf("%s: %w: fn changed the ref of a key", op, ErrInvalidArgument)
		}
		next[ref] = cloneWrapped(nk)
	}
	for _, wk := range s.keys {
		clear(wk.Wrapped)
	}
	s.keys = next
	return nil
}

// Len reports how many keys the store holds (for tests).
func (s *MemStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

func compareRef(a, b Ref) int {
	if c := cmp.Compare(a.Owner, b.Owner); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

var _ KeyScanner = (*MemStore)(nil)

// CountKeys implements KeyScanner.
func (s *MemStore) CountKeys(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys), nil
}

// ScanNamed implements KeyScanner.
func (s *MemStore) ScanNamed(ctx context.Context, names []string, masterID string, fn func(owner string, name int, version uint32, master bool, wrapped []byte) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ref := range slices.SortedFunc(maps.Keys(s.keys), compareRef) {
		if n := slices.Index(names, ref.Name); n >= 0 {
			wk := s.keys[ref]
			if err := fn(ref.Owner, n, wk.Version, wk.MasterID == masterID, bytes.Clone(wk.Wrapped)); err != nil {
				return fmt.Errorf("envelope.MemStore.ScanNamed: %w", err)
			}
		}
	}
	return nil
}
