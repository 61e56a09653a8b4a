package benchpop

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/assent-registry/assent/internal/envelope"
)

// KeyFile is the bench's key store for a kept population (assent bench
// enrol --data DIR): wrapped keys held in memory, as envelope.MemStore
// holds them, and saved to one file by Save so that a later run opens the
// population again. keys.db (envelope.SQLiteStore) makes every key a
// synchronous transaction: three per person, too slow to write a million
// people. The file holds wrapped keys only (useless without the master key
// file next to it), like keys.db; it is a bench tool, never a registry's
// key store. Safe for concurrent use.
type KeyFile struct {
	path string
	mu   sync.RWMutex
	keys map[envelope.Ref]envelope.WrappedKey
}

// OpenKeyFile reads the keys saved at path, or starts with none if there is
// no file yet.
func OpenKeyFile(path string) (*KeyFile, error) {
	k := &KeyFile{path: path, keys: map[envelope.Ref]envelope.WrappedKey{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("benchpop: key file: %w", err)
	}
	defer f.Close()
	var all []envelope.WrappedKey
	if err := gob.NewDecoder(f).Decode(&all); err != nil {
		return nil, fmt.Errorf("benchpop: key file %s: %w", path, err)
	}
	for _, wk := range all {
		k.keys[wk.Ref] = wk
	}
	return k, nil
}

// Save writes every key to the file (mode 0600), replacing it whole.
func (k *KeyFile) Save() error {
	k.mu.RLock()
	all := make([]envelope.WrappedKey, 0, len(k.keys))
	for _, wk := range k.keys {
		all = append(all, wk)
	}
	k.mu.RUnlock()
	tmp := k.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("benchpop: key file: %w", err)
	}
	if err := gob.NewEncoder(f).Encode(all); err != nil {
		f.Close()
		return fmt.Errorf("benchpop: key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("benchpop: key file: %w", err)
	}
	return os.Rename(tmp, k.path)
}

// Len is how many keys the store holds.
func (k *KeyFile) Len() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return len(k.keys)
}

// Get implements envelope.KeyStore.
func (k *KeyFile) Get(_ context.Context, ref envelope.Ref) (envelope.WrappedKey, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	wk, ok := k.keys[ref]
	if !ok {
		return wk, fmt.Errorf("benchpop: key file: %w", envelope.ErrNotFound)
	}
	wk.Wrapped = append([]byte(nil), wk.Wrapped...)
	return wk, nil
}

// Create implements envelope.KeyStore.
func (k *KeyFile) Create(_ context.Context, wk envelope.WrappedKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.keys[wk.Ref]; ok {
		return fmt.Errorf("benchpop: key file: %w", envelope.ErrExists)
	}
	wk.Wrapped = append([]byte(nil), wk.Wrapped...)
	k.keys[wk.Ref] = wk
	return nil
}

// Delete implements envelope.KeyStore.
func (k *KeyFile) Delete(_ context.Context, ref envelope.Ref) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.keys, ref)
	return nil
}

// DeleteOwner implements envelope.KeyStore.
func (k *KeyFile) DeleteOwner(_ context.Context, owner string) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for ref := range k.keys {
		if ref.Owner == owner {
			delete(k.keys, ref)
			n++
		}
	}
	return n, nil
}

// Rewrap implements envelope.KeyStore.
func (k *KeyFile) Rewrap(_ context.Context, fn func(envelope.WrappedKey) (envelope.WrappedKey, error)) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	next := make(map[envelope.Ref]envelope.WrappedKey, len(k.keys))
	for ref, wk := range k.keys {
		nk, err := fn(wk)
		if err != nil {
			return err
		}
		if nk.Ref != ref {
			return fmt.Errorf("benchpop: key file: %w: fn changed a key's ref", envelope.ErrInvalidArgument)
		}
		next[ref] = nk
	}
	k.keys = next
	return nil
}
