package envelope

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"iter"
	"runtime"
	"slices"
	"sync"
)

// BatchGetter is a KeyStore that reads many keys in one query. The
// keyring's OpenAll uses it when its store has it (every store of this
// module does); otherwise it reads the keys one Get at a time.
type BatchGetter interface {
	// GetMany returns the stored keys among refs, in no particular order;
	// a ref with no key is left out (not an error). Duplicate refs are
	// allowed and give one key.
	GetMany(ctx context.Context, refs []Ref) ([]WrappedKey, error)
}

// getManyBatch bounds how many refs one store query carries.
const getManyBatch = 4096

// GetMany implements BatchGetter.
func (s *MemStore) GetMany(ctx context.Context, refs []Ref) ([]WrappedKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]WrappedKey, 0, len(refs))
	seen := make(map[Ref]bool, len(refs))
	for _, ref := range refs {
		if wk, ok := s.keys[ref]; ok && !seen[ref] {
			seen[ref] = true
			out = append(out, cloneWrapped(wk))
		}
	}
	return out, nil
}

// OpenAll opens values[i], sealed for (persons[i], cat, kind), as Open
// does each, and returns the plaintexts in the same order; a nil value
// gives a nil plaintext and needs no key. The data keys not in the cache
// are read in one key-store query (BatchGetter) rather than one per
// person, unwrapped and put in the cache, and the values are opened on
// every core. This is what a gallery load uses: a page of templates, or
// of identities, costs one key read.
//
// It holds the stripes of all the persons (shared) from the key read until
// the last value is opened, so the ordering guarantees of Open hold: a
// value opens only if its key was not shredded before, and a key shredded
// concurrently is never put back in the cache. An error (the first, with
// the index of its value) leaves the other results unspecified.
func (k *Keyring) OpenAll(ctx context.Context, cat, kind string, persons []string, values [][]byte) ([][]byte, error) {
	return k.openAll(ctx, "envelope.OpenAll", cat, kind, persons, values, false, nil)
}

// OpenAvailable is OpenAll for values that may outlive their keys (a
// gallery snapshot's records): a value whose key no longer exists, or was
// shredded and made again since it was sealed, gives a nil plaintext
// instead of an error. A value that does not open under its key (altered,
// or sealed for another person, category or kind) is still an error
// wrapping ErrTampered. The values are opened in place: a plaintext
// shares its value's memory, and the values' bytes are overwritten (those
// that gave nil included, in part).
//
// The keys it reads are not put in the key cache: a gallery snapshot's
// load reads each person's key once, and millions of them would only push
// the keys in use out of it (and cost a cache insertion each).
func (k *Keyring) OpenAvailable(ctx context.Context, cat, kind string, persons []string, values [][]byte) ([][]byte, error) {
	return k.openAll(ctx, "envelope.OpenAvailable", cat, kind, persons, values, true, nil)
}

// openAll opens values; lenient: a missing or replaced key gives nil, and
// values are opened in place. bulk (lenient only), if not nil, holds keys
// read before (ReadDataKeys): the values whose keys it holds are opened
// with them, the others as without it.
func (k *Keyring) openAll(ctx context.Context, op, cat, kind string, persons []string, values [][]byte, lenient bool, bulk *bulkKeys) ([][]byte, error) {
	if len(persons) != len(values) {
		return nil, fmt.Errorf("%s: %w: %d persons, %d values", op, ErrInvalidArgument, len(persons), len(values))
	}
	out := make([][]byte, len(values))
	parsed := make([]sealed, len(values))
	var hashes []uint64 // the persons' hashes, for bulk
	ci := -1
	if bulk != nil && lenient {
		if ci = slices.Index(bulk.cats, cat); ci >= 0 {
			hashes = make([]uint64, len(values))
		}
	}
	var locks [stripes]bool
	need := 0
	for i, v := range values {
		if v == nil {
			continue
		}
		if err := checkBatchArgs(persons[i], cat, kind, need == 0); err != nil {
			return nil, fmt.Errorf("%s: value %d: %w", op, i, err)
		}
		sv, err := parseSealed(v)
		if err != nil {
			return nil, fmt.Errorf("%s: value %d: %w", op, i, err)
		}
		parsed[i] = sv
		h := maphash.String(k.seed, persons[i])
		if hashes != nil {
			hashes[i] = h
		}
		locks[h%stripes] = true // (stripeIndex)
		need++
	}
	if need == 0 {
		return out, nil
	}
	defer k.readLockStripes(&locks)()
	if hashes != nil && k.master.ID() == bulk.masterID {
		ask, err := bulk.open(op, ci, cat, kind, persons, parsed, values, hashes, out)
		if err != nil {
			return nil, err
		}
		if ask == nil {
			return out, nil
		}
		values = ask // the rest as without bulk
	}
	keys, err := k.dataKeys(ctx, cat, persons, values, !lenient)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, need/64))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var aad []byte // reused from value to value
			for i := w; i < len(values); i += workers {
				if values[i] == nil {
					continue
				}
				p, sv := persons[i], parsed[i]
				dk, ok := keys[p]
				if lenient && (!ok || dk.version != sv.version) {
					continue
				}
				if !ok {
					errs[w] = fmt.Errorf("%s: value %d: %w: no key for (%s, %s)", op, i, ErrShredded, p, cat)
					return
				}
				if dk.version != sv.version {
					errs[w] = fmt.Errorf("%s: value %d: %w: value sealed with key version %d, current is %d", op, i, ErrShredded, sv.version, dk.version)
					return
				}
				var dst []byte
				if lenient {
					dst = sv.ciphertext[:0]
				}
				aad = appendSealAAD(aad[:0], sv.version, p, cat, kind)
				pt, err := dk.aead.Open(dst, sv.nonce, sv.ciphertext, aad)
				if err != nil {
					errs[w] = fmt.Errorf("%s: value %d: %w", op, i, ErrTampered)
					return
				}
				out[i] = pt
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// dataKeys returns the (person, cat) data keys of the persons with a
// non-nil value, from the cache or read from the store in batches, and
// puts those read in the cache if fill is set. A person with no key is
// left out. Caller holds k.rot and the persons' stripes (shared).
func (k *Keyring) dataKeys(ctx context.Context, cat string, persons []string, values [][]byte, fill bool) (map[string]dataKey, error) {
	// keys holds, besides the keys found, a zero dataKey for each person
	// asked of the store (removed at the end if the store has no key).
	keys := make(map[string]dataKey, len(persons))
	var missing []Ref
	for i, p := range persons {
		if values[i] == nil {
			continue
		}
		if _, ok := keys[p]; ok {
			continue
		}
		dk, ok := k.cache.get(cacheKey{p, cat})
		keys[p] = dk
		if !ok {
			missing = append(missing, dataRef(p, cat))
		}
	}
	for chunk := range slices.Chunk(missing, getManyBatch) {
		wks, err := k.getMany(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, wk := range wks {
			if wk.Ref.Name != dataKeyPrefix+cat {
				return nil, fmt.Errorf("key store answered %s/%s to a request for %s keys", wk.Ref.Owner, wk.Ref.Name, cat)
			}
		}
		dks := make([]dataKey, len(wks))
		workers := min(runtime.GOMAXPROCS(0), max(1, len(wks)/64))
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				// key and aad are reused from key to key; key is cleared
				// whole at the end (after an error it is empty, the last
				// key still in its array).
				var key, aad []byte
				defer func() { clear(key[:cap(key)]) }()
				for i := w; i < len(wks); i += workers {
					var err error
					if key, aad, err = k.unwrapTo(key[:0], aad[:0], wks[i]); err == nil {
						dks[i].aead, err = newGCM(key)
					}
					if err != nil {
						errs[w] = err
						return
					}
					dks[i].version = wks[i].Version
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		for i, wk := range wks {
			keys[wk.Ref.Owner] = dks[i]
			if fill {
				k.cache.put(cacheKey{wk.Ref.Owner, cat}, dks[i])
			}
		}
	}
	for _, ref := range missing {
		if keys[ref.Owner].aead == nil {
			delete(keys, ref.Owner)
		}
	}
	return keys, nil
}

// getMany reads refs from the store, in one query when it can.
func (k *Keyring) getMany(ctx context.Context, refs []Ref) ([]WrappedKey, error) {
	if b, ok := k.store.(BatchGetter); ok {
		return b.GetMany(ctx, refs)
	}
	out := make([]WrappedKey, 0, len(refs))
	for _, ref := range refs {
		wk, err := k.store.Get(ctx, ref)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, wk)
	}
	return out, nil
}

// SealExisting seals plaintexts[i] for (persons[i], cat, kind) as Seal
// does, but only under a data key that exists: it never makes one. A
// person with no (person, cat) key (erased, or the category shredded)
// gets a nil value; a nil plaintext gives a nil value. The keys not in
// the cache are read in one key-store query, and the values sealed on
// every core. It holds the persons' stripes (shared) while it works, so a
// value is never sealed under a key after the Shred of that key returned.
// A gallery snapshot writes its records with it: a person erased since
// the gallery last heard of them is left out, and no key is made again
// for them.
func (k *Keyring) SealExisting(ctx context.Context, cat, kind string, persons []string, plaintexts [][]byte) ([][]byte, error) {
	const op = "envelope.SealExisting"
	if len(persons) != len(plaintexts) {
		return nil, fmt.Errorf("%s: %w: %d persons, %d plaintexts", op, ErrInvalidArgument, len(persons), len(plaintexts))
	}
	out := make([][]byte, len(plaintexts))
	var locks [stripes]bool
	need := 0
	for i, p := range plaintexts {
		if p == nil {
			continue
		}
		if err := checkBatchArgs(persons[i], cat, kind, need == 0); err != nil {
			return nil, fmt.Errorf("%s: value %d: %w", op, i, err)
		}
		locks[k.stripeIndex(persons[i])] = true
		need++
	}
	if need == 0 {
		return out, nil
	}
	defer k.readLockStripes(&locks)()
	keys, err := k.dataKeys(ctx, cat, persons, plaintexts, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, need/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(plaintexts); i += workers {
				dk, ok := keys[persons[i]]
				if plaintexts[i] == nil || !ok {
					continue
				}
				out[i] = sealWith(dk.aead, dk.version, sealAAD(dk.version, persons[i], cat, kind), plaintexts[i])
			}
		})
	}
	wg.Wait()
	return out, nil
}

// checkBatchArgs is checkSealArgs for a batch's values: the category and
// kind, the same for all, are checked with the first value only.
func checkBatchArgs(person, cat, kind string, first bool) error {
	if first {
		return checkSealArgs(person, cat, kind)
	}
	return checkID("person id", person)
}

// readLockStripes takes the rotation lock and the stripes marked in locks
// for reading, and returns what releases them. Stripes are taken in
// ascending order: a writer (Shred) takes one stripe only, so a batch
// cannot deadlock with it or with another batch.
func (k *Keyring) readLockStripes(locks *[stripes]bool) (unlock func()) {
	k.rot.RLock()
	for i := range stripes {
		if locks[i] {
			k.stripe[i].RLock()
		}
	}
	return func() {
		for i := stripes - 1; i >= 0; i-- {
			if locks[i] {
				k.stripe[i].RUnlock()
			}
		}
		k.rot.RUnlock()
	}
}

// OwnersByName groups the owners of refs by key name, names and owners in
// the refs' order: a key store's GetMany makes one query a name (a keyring
// asks for one name at a time, so the common case is one group, made
// without a map).
func OwnersByName(refs []Ref) iter.Seq2[string, []string] {
	return func(yield func(string, []string) bool) {
		if len(refs) == 0 {
			return
		}
		one := true
		for _, r := range refs[1:] {
			if r.Name != refs[0].Name {
				one = false
				break
			}
		}
		if one {
			owners := make([]string, len(refs))
			for i, r := range refs {
				owners[i] = r.Owner
			}
			yield(refs[0].Name, owners)
			return
		}
		var names []string
		byName := map[string][]string{}
		for _, r := range refs {
			if _, ok := byName[r.Name]; !ok {
				names = append(names, r.Name)
			}
			byName[r.Name] = append(byName[r.Name], r.Owner)
		}
		for _, n := range names {
			if !yield(n, byName[n]) {
				return
			}
		}
	}
}
