package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
)

// cloneAll copies values (OpenAvailable opens in place).
func cloneAll(vs [][]byte) [][]byte {
	out := make([][]byte, len(vs))
	for i, v := range vs {
		out[i] = slices.Clone(v)
	}
	return out
}

// sameOpened reports the first difference of two OpenAvailable results.
func sameOpened(got, want [][]byte) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d results, want %d", len(got), len(want))
	}
	for i := range want {
		if (got[i] == nil) != (want[i] == nil) || !bytes.Equal(got[i], want[i]) {
			return fmt.Errorf("value %d: %q, want %q", i, got[i], want[i])
		}
	}
	return nil
}

// TestReadDataKeysOpensAsOpenAvailable: the keys read in one pass open
// exactly what OpenAvailable opens, before and after Shreds, new keys and
// a master key rotation made after the read.
func TestReadDataKeysOpensAsOpenAvailable(t *testing.T) {
	ctx := context.Background()
	cats := []string{"fingerprint", "iris"}
	for storeName, factory := range storeFactories() {
		t.Run(storeName, func(t *testing.T) {
			k := newKeyring(t, factory(t), newMaster(t), Options{CacheSize: 4})
			const n = 300
			persons := make([]string, n+1)
			vals := map[string][][]byte{}
			for i := range n {
				p := fmt.Sprintf("person-%03d", i)
				persons[i] = p
				for _, cat := range append(cats, "identity") {
					if cat == "iris" && i%7 == 3 {
						vals[cat] = append(vals[cat], nil) // no iris
						continue
					}
					vals[cat] = append(vals[cat], seal(t, k, p, cat, "snap", fmt.Sprint(cat, i)))
				}
			}
			// a person the store never held, with another's value
			persons[n] = "ghost"
			for _, cat := range append(cats, "identity") {
				vals[cat] = append(vals[cat], slices.Clone(vals[cat][0]))
			}
			// Before the read: a category shredded, a person erased, a key
			// made again.
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(k.Shred(ctx, persons[5], "fingerprint"))
			_, err := k.ShredPerson(ctx, persons[6])
			must(err)
			must(k.Shred(ctx, persons[7], "iris"))
			seal(t, k, persons[7], "iris", "snap", "new")

			open, done, err := k.ReadDataKeys(ctx, cats, n)
			must(err)
			if open == nil {
				t.Fatal("no keys read")
			}
			defer done()
			check := func(when string) {
				t.Helper()
				for _, cat := range append(cats, "identity") {
					vs := vals[cat] // (identity: a category not read, opened as by OpenAvailable)
					want, err := k.OpenAvailable(ctx, cat, "snap", persons, cloneAll(vs))
					must(err)
					got, err := open(ctx, cat, "snap", persons, cloneAll(vs))
					must(err)
					if err := sameOpened(got, want); err != nil {
						t.Errorf("%s, %s: %v", when, cat, err)
					}
					opened := 0
					for _, g := range got {
						if g != nil {
							opened++
						}
					}
					if opened < n/2 {
						t.Errorf("%s, %s: %d values opened", when, cat, opened)
					}
				}
			}
			check("after the read")
			if got, _ := open(ctx, "fingerprint", "snap", persons[:8], cloneAll(vals["fingerprint"][:8])); got[5] != nil || got[6] != nil || string(got[4]) != "fingerprint4" {
				t.Errorf("shredded before the read: %q", got)
			}
			// After the read: the same changes; and a rotation.
			must(k.Shred(ctx, persons[10], "fingerprint"))
			_, err = k.ShredPerson(ctx, persons[11])
			must(err)
			must(k.Shred(ctx, persons[12], "iris"))
			seal(t, k, persons[12], "iris", "snap", "new")
			check("after Shreds")
			if got, _ := open(ctx, "fingerprint", "snap", persons[10:13], cloneAll(vals["fingerprint"][10:13])); got[0] != nil || got[1] != nil || string(got[2]) != "fingerprint12" {
				t.Errorf("shredded after the read: %q", got)
			}
			must(k.RotateMaster(ctx, newMaster(t)))
			check("after a rotation")

			// Altered values and another kind: ErrTampered, as OpenAvailable.
			bad := slices.Clone(vals["fingerprint"][20])
			bad[len(bad)-1] ^= 1
			if _, err := open(ctx, "fingerprint", "snap", persons[20:21], [][]byte{bad}); !errors.Is(err, ErrTampered) {
				t.Errorf("altered value: %v", err)
			}
			if _, err := open(ctx, "fingerprint", "other", persons[20:21], cloneAll(vals["fingerprint"][20:21])); !errors.Is(err, ErrTampered) {
				t.Errorf("another kind: %v", err)
			}
		})
	}
}

// TestReadDataKeysWhenItPays: no read when the store cannot scan or holds
// many more keys than wanted; bad categories are refused.
func TestReadDataKeysWhenItPays(t *testing.T) {
	ctx := context.Background()
	k := newKeyring(t, &MemStore{}, newMaster(t), Options{})
	for i := range 20 {
		seal(t, k, fmt.Sprint("p", i), "iris", "x", "v")
	}
	// 22 keys (20 and the two secrets): worth it for 6 persons, not for 5.
	if open, _, err := k.ReadDataKeys(ctx, []string{"iris"}, 6); open == nil || err != nil {
		t.Errorf("6 persons: %v, %v; want a read", open != nil, err)
	}
	if open, _, err := k.ReadDataKeys(ctx, []string{"iris"}, 5); open != nil || err != nil {
		t.Errorf("5 persons: %v, %v; want none", open != nil, err)
	}
	cs := &countingStore{KeyStore: &MemStore{}} // no KeyScanner
	k2 := newKeyring(t, cs, newMaster(t), Options{})
	if open, _, err := k2.ReadDataKeys(ctx, []string{"iris"}, 100); open != nil || err != nil {
		t.Errorf("a store that cannot scan: %v, %v; want none", open != nil, err)
	}
	for _, cats := range [][]string{{"iris", "iris"}, {""}} {
		if _, _, err := k.ReadDataKeys(ctx, cats, 100); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("categories %q: %v, want ErrInvalidArgument", cats, err)
		}
	}
}

// oddScanner is a MemStore whose scan gives some keys oddly: one wrapped
// by another master, one owner's keys apart, one owner's wrapped bytes
// those of another; it counts GetMany calls.
type oddScanner struct {
	*MemStore
	batches atomic.Int64
}

func (s *oddScanner) GetMany(ctx context.Context, refs []Ref) ([]WrappedKey, error) {
	s.batches.Add(1)
	return s.MemStore.GetMany(ctx, refs)
}

func (s *oddScanner) ScanNamed(ctx context.Context, names []string, masterID string, fn func(owner string, name int, version uint32, master bool, wrapped []byte) error) error {
	type row struct {
		owner   string
		name    int
		version uint32
		master  bool
		wrapped []byte
	}
	var rows []row
	err := s.MemStore.ScanNamed(ctx, names, masterID, func(owner string, name int, version uint32, master bool, wrapped []byte) error {
		rows = append(rows, row{owner, name, version, master, slices.Clone(wrapped)})
		return nil
	})
	if err != nil {
		return err
	}
	var apart []row
	for i, r := range rows {
		switch r.owner {
		case "p1":
			r.master = false
		case "p2":
			apart = append(apart, r)
			continue
		case "p3":
			r.wrapped = rows[i+2].wrapped // p4's
		}
		if err := fn(r.owner, r.name, r.version, r.master, r.wrapped); err != nil {
			return err
		}
	}
	for _, r := range apart {
		if err := fn(r.owner, r.name, r.version, r.master, r.wrapped); err != nil {
			return err
		}
	}
	return nil
}

// TestReadDataKeysAsksTheStore: a key the read could not use is read from
// the store, and its value opens.
func TestReadDataKeysAsksTheStore(t *testing.T) {
	ctx := context.Background()
	store := &oddScanner{MemStore: &MemStore{}}
	k := newKeyring(t, store, newMaster(t), Options{CacheSize: -1})
	var persons []string
	var vals [][]byte
	for i := range 10 {
		p := fmt.Sprint("p", i)
		persons = append(persons, p)
		seal(t, k, p, "fingerprint", "x", "v") // two keys an owner, rows i*2 and i*2+1
		vals = append(vals, seal(t, k, p, "iris", "snap", fmt.Sprint("v", i)))
	}
	open, done, err := k.ReadDataKeys(ctx, []string{"fingerprint", "iris"}, 10)
	if err != nil || open == nil {
		t.Fatal(open != nil, err)
	}
	store.batches.Store(0)
	got, err := open(ctx, "iris", "snap", persons, cloneAll(vals))
	if err != nil {
		t.Fatal(err)
	}
	for i := range persons {
		if string(got[i]) != fmt.Sprint("v", i) {
			t.Errorf("value %d opened to %q", i, got[i])
		}
	}
	if store.batches.Load() != 1 {
		t.Errorf("%d store reads, want 1 (p1, p2, p3)", store.batches.Load())
	}
	store.batches.Store(0)
	if _, err := open(ctx, "iris", "snap", persons[5:], cloneAll(vals[5:])); err != nil || store.batches.Load() != 0 {
		t.Errorf("the usual keys: %v, %d store reads; want none", err, store.batches.Load())
	}
	done()
	if _, err := open(ctx, "iris", "snap", persons, cloneAll(vals)); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("open after done: %v, want ErrInvalidArgument", err)
	}
}

// TestHashSlots: every hash put is found with its slot, a hash put twice
// is bulkShared, one never put is not found; through the table's growth.
func TestHashSlots(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, size := range []int{0, 10, 5000} {
		s := newHashSlots(size)
		want := map[uint64]uint32{}
		for i := range 5000 {
			h := rng.Uint64() % 4000 // (some twice)
			if _, held := want[h]; held {
				want[h] = bulkShared
			} else {
				want[h] = uint32(i)
			}
			s.put(h, uint32(i))
		}
		for h := range uint64(4500) {
			got, ok := s.get(h)
			w, held := want[h]
			if ok != held || got != w && held {
				t.Fatalf("size %d: hash %d: %d %v, want %d %v", size, h, got, ok, w, held)
			}
		}
	}
}

// BenchmarkHashSlots: a load's slots of a million owners, filled and each
// read twice (two categories), against a map. CPU a owner.
func BenchmarkHashSlots(b *testing.B) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(5, 6))
	hs := make([]uint64, n)
	for i := range hs {
		hs[i] = rng.Uint64()
	}
	order := rng.Perm(n)
	b.Run("table", func(b *testing.B) {
		cpu0 := cpuNanos()
		for b.Loop() {
			s := newHashSlots(n)
			for i, h := range hs {
				s.put(h, uint32(i))
			}
			for range 2 {
				for _, i := range order {
					if _, ok := s.get(hs[i]); !ok {
						b.Fatal("lost")
					}
				}
			}
		}
		b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N*n), "cpu-ns/owner")
	})
	b.Run("map", func(b *testing.B) {
		cpu0 := cpuNanos()
		for b.Loop() {
			s := make(map[uint64]uint32, n)
			for i, h := range hs {
				s[h] = uint32(i)
			}
			for range 2 {
				for _, i := range order {
					if _, ok := s[hs[i]]; !ok {
						b.Fatal("lost")
					}
				}
			}
		}
		b.ReportMetric(float64(cpuNanos()-cpu0)/float64(b.N*n), "cpu-ns/owner")
	})
}
