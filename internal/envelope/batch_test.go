package envelope

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// countingStore counts the key store's reads, one at a time and batched.
type countingStore struct {
	KeyStore
	gets, batches atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, ref Ref) (WrappedKey, error) {
	c.gets.Add(1)
	return c.KeyStore.Get(ctx, ref)
}

func (c *countingStore) GetMany(ctx context.Context, refs []Ref) ([]WrappedKey, error) {
	c.batches.Add(1)
	return c.KeyStore.(BatchGetter).GetMany(ctx, refs)
}

func TestOpenAll(t *testing.T) {
	ctx := context.Background()
	for storeName, factory := range storeFactories() {
		t.Run(storeName, func(t *testing.T) {
			cs := &countingStore{KeyStore: factory(t)}
			k := newKeyring(t, cs, newMaster(t), Options{CacheSize: 2})
			var persons []string
			var vals [][]byte
			for i := range 300 {
				p := fmt.Sprintf("p%d", i%120) // some persons twice
				persons = append(persons, p)
				if i%10 == 7 {
					vals = append(vals, nil)
					continue
				}
				vals = append(vals, seal(t, k, p, "fingerprint", "template", fmt.Sprint("t", i)))
			}
			cs.gets.Store(0)
			got, err := k.OpenAll(ctx, "fingerprint", "template", persons, vals)
			if err != nil {
				t.Fatal(err)
			}
			for i := range vals {
				want := fmt.Sprint("t", i)
				if vals[i] == nil {
					want = ""
				}
				if string(got[i]) != want || (vals[i] == nil) != (got[i] == nil) {
					t.Errorf("value %d opened to %q, want %q", i, got[i], want)
				}
			}
			if cs.gets.Load() != 0 || cs.batches.Load() != 1 {
				t.Errorf("%d Gets and %d batches, want 0 and 1", cs.gets.Load(), cs.batches.Load())
			}
			// The wrong kind, a shredded key, a tampered value: errors as Open's.
			if _, err := k.OpenAll(ctx, "fingerprint", "identity", persons[:1], vals[:1]); !errors.Is(err, ErrTampered) {
				t.Errorf("wrong kind: %v, want ErrTampered", err)
			}
			if err := k.Shred(ctx, "p3", "fingerprint"); err != nil {
				t.Fatal(err)
			}
			if _, err := k.OpenAll(ctx, "fingerprint", "template", persons[:5], vals[:5]); !errors.Is(err, ErrShredded) {
				t.Errorf("shredded key: %v, want ErrShredded", err)
			}
			v := seal(t, k, "p3", "fingerprint", "template", "new")
			if _, err := k.OpenAll(ctx, "fingerprint", "template", []string{"p3"}, [][]byte{vals[3]}); !errors.Is(err, ErrShredded) {
				t.Errorf("value of the shredded key under a new one: %v, want ErrShredded", err)
			}
			if got, err := k.OpenAll(ctx, "fingerprint", "template", []string{"p3"}, [][]byte{v}); err != nil || string(got[0]) != "new" {
				t.Errorf("new key: %q, %v", got, err)
			}
			if _, err := k.OpenAll(ctx, "fingerprint", "template", []string{"p1", "p2"}, vals[:1]); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("lengths differ: %v", err)
			}
		})
	}
}

// TestOpenAllShredNeverCached: OpenAll puts the keys it reads in the
// cache; a key shredded while OpenAll runs is never left there, and a
// value never opens after its Shred returned.
func TestOpenAllShredNeverCached(t *testing.T) {
	ctx := context.Background()
	for storeName, factory := range storeFactories() {
		t.Run(storeName, func(t *testing.T) {
			k := newKeyring(t, factory(t), newMaster(t), Options{CacheSize: 1000})
			const persons, rounds = 40, 30
			ids := make([]string, persons)
			for i := range ids {
				ids[i] = fmt.Sprintf("p%d", i)
			}
			for r := range rounds {
				vals := make([][]byte, persons)
				for i, p := range ids {
					vals[i] = seal(t, k, p, "iris", "template", "x")
				}
				k.cache.evictPerson(ids[r%persons]) // some keys come from the store
				var wg sync.WaitGroup
				victim := ids[(r*7)%persons]
				wg.Go(func() {
					got, err := k.OpenAll(ctx, "iris", "template", ids, vals)
					if err != nil && !errors.Is(err, ErrShredded) {
						t.Errorf("OpenAll: %v", err)
					}
					if err == nil && len(got) != persons {
						t.Errorf("OpenAll gave %d values", len(got))
					}
				})
				wg.Go(func() {
					if err := k.Shred(ctx, victim, "iris"); err != nil {
						t.Errorf("Shred: %v", err)
					}
					if _, err := k.OpenAll(ctx, "iris", "template", []string{victim}, [][]byte{vals[(r*7)%persons]}); !errors.Is(err, ErrShredded) {
						t.Errorf("value opened after its Shred returned: %v", err)
					}
				})
				wg.Wait()
				if _, ok := k.cache.get(cacheKey{victim, "iris"}); ok {
					t.Fatalf("round %d: a shredded key is in the cache", r)
				}
			}
		})
	}
}

// TestSealExistingAndOpenAvailable: SealExisting seals only under keys
// that exist (never makes one: an erased person stays erased) and what it
// seals opens; OpenAvailable gives nil for a value whose key was shredded,
// or shredded and made again, and still refuses an altered value.
func TestSealExistingAndOpenAvailable(t *testing.T) {
	ctx := context.Background()
	for storeName, factory := range storeFactories() {
		t.Run(storeName, func(t *testing.T) {
			cs := &countingStore{KeyStore: factory(t)}
			k := newKeyring(t, cs, newMaster(t), Options{CacheSize: 2})
			persons := []string{"a", "b", "c", "d"}
			for _, p := range persons[:3] { // d never had a key
				seal(t, k, p, "iris", "template", "x")
			}
			plain := [][]byte{[]byte("pa"), []byte("pb"), nil, []byte("pd")}
			cs.gets.Store(0)
			cs.batches.Store(0)
			vals, err := k.SealExisting(ctx, "iris", "snap", persons, plain)
			if err != nil {
				t.Fatal(err)
			}
			if vals[0] == nil || vals[1] == nil || vals[2] != nil || vals[3] != nil {
				t.Fatalf("sealed: %v", vals)
			}
			if cs.gets.Load() != 0 || cs.batches.Load() != 1 {
				t.Errorf("%d Gets and %d batches, want 0 and 1", cs.gets.Load(), cs.batches.Load())
			}
			if _, err := cs.Get(ctx, Ref{Owner: "d", Name: dataKeyPrefix + "iris"}); !errors.Is(err, ErrNotFound) {
				t.Errorf("SealExisting made a key for d: %v", err)
			}
			if err := k.Shred(ctx, "b", "iris"); err != nil {
				t.Fatal(err)
			}
			// OpenAvailable opens in place: give it copies.
			clone := func(vs [][]byte) [][]byte {
				out := make([][]byte, len(vs))
				for i, v := range vs {
					out[i] = slices.Clone(v)
				}
				return out
			}
			got, err := k.OpenAvailable(ctx, "iris", "snap", persons, clone(vals))
			if err != nil {
				t.Fatal(err)
			}
			if string(got[0]) != "pa" || got[1] != nil {
				t.Errorf("opened %q, %q; want pa and nil (shredded)", got[0], got[1])
			}
			if _, err := k.OpenAll(ctx, "iris", "snap", persons, vals); !errors.Is(err, ErrShredded) {
				t.Errorf("OpenAll of a shredded value: %v", err)
			}
			// b gets a new key: the old value is still unavailable.
			seal(t, k, "b", "iris", "template", "y")
			if got, err := k.OpenAvailable(ctx, "iris", "snap", persons[:2], clone(vals[:2])); err != nil || got[1] != nil {
				t.Errorf("after a new key: %q %v", got[1], err)
			}
			bad := append([]byte(nil), vals[0]...)
			bad[len(bad)-1] ^= 1
			if _, err := k.OpenAvailable(ctx, "iris", "snap", persons[:1], [][]byte{bad}); !errors.Is(err, ErrTampered) {
				t.Errorf("altered value: %v", err)
			}
			if _, err := k.OpenAvailable(ctx, "iris", "other-kind", persons[:1], clone(vals[:1])); !errors.Is(err, ErrTampered) {
				t.Errorf("another kind: %v", err)
			}
		})
	}
}

// TestOpenAvailableLeavesCache: OpenAvailable reads the keys not cached
// from the store and does not put them in the cache (a snapshot load's
// keys are used once); a cached key is still used; OpenAll fills it.
func TestOpenAvailableLeavesCache(t *testing.T) {
	ctx := context.Background()
	for storeName, factory := range storeFactories() {
		t.Run(storeName, func(t *testing.T) {
			cs := &countingStore{KeyStore: factory(t)}
			k := newKeyring(t, cs, newMaster(t), Options{CacheSize: 100})
			var persons []string
			var vals [][]byte
			for i := range 50 {
				p := fmt.Sprintf("p%d", i)
				persons = append(persons, p)
				vals = append(vals, seal(t, k, p, "iris", "snap", fmt.Sprint("v", i)))
			}
			for _, p := range persons[1:] {
				k.cache.evictPerson(p) // p0's key stays cached
			}
			cs.batches.Store(0)
			got, err := k.OpenAvailable(ctx, "iris", "snap", persons, slices.Clone(vals))
			if err != nil {
				t.Fatal(err)
			}
			for i := range persons {
				if string(got[i]) != fmt.Sprint("v", i) {
					t.Fatalf("value %d opened to %q", i, got[i])
				}
			}
			if n := k.cache.len(); n != 1 || cs.batches.Load() != 1 {
				t.Errorf("after OpenAvailable: %d keys cached, %d batches; want 1 and 1", n, cs.batches.Load())
			}
			vals2 := make([][]byte, len(persons))
			for i, p := range persons {
				vals2[i] = seal(t, k, p, "iris", "snap", "w") // (fills the cache)
			}
			for _, p := range persons {
				k.cache.evictPerson(p)
			}
			if _, err := k.OpenAll(ctx, "iris", "snap", persons, vals2); err != nil {
				t.Fatal(err)
			}
			if n := k.cache.len(); n != len(persons) {
				t.Errorf("after OpenAll: %d keys cached, want %d", n, len(persons))
			}
		})
	}
}
