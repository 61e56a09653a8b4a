package envelope

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

func benchSizes() []int { return []int{32, 256, 4096} }

func BenchmarkSeal(b *testing.B) {
	ctx := context.Background()
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("bytes=%d", n), func(b *testing.B) {
			k := newKeyring(b, &MemStore{}, mustMaster(b), Options{})
			pt := make([]byte, n)
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := k.Seal(ctx, "p1", "identity", "identity.given_name", pt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	ctx := context.Background()
	for _, n := range benchSizes() {
		b.Run(fmt.Sprintf("bytes=%d", n), func(b *testing.B) {
			k := newKeyring(b, &MemStore{}, mustMaster(b), Options{})
			v, err := k.Seal(ctx, "p1", "identity", "identity.given_name", make([]byte, n))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(n))
			for b.Loop() {
				if _, err := k.Open(ctx, "p1", "identity", "identity.given_name", v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenParallel measures cache-hit Opens from all cores.
func BenchmarkOpenParallel(b *testing.B) {
	ctx := context.Background()
	k := newKeyring(b, &MemStore{}, mustMaster(b), Options{})
	var vals [][]byte
	for i := range 64 {
		v, err := k.Seal(ctx, fmt.Sprintf("p%d", i), "identity", "n", make([]byte, 32))
		if err != nil {
			b.Fatal(err)
		}
		vals = append(vals, v)
	}
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := k.Open(ctx, fmt.Sprintf("p%d", i%64), "identity", "n", vals[i%64]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkOpenColdSQLite measures an Open whose data key is not cached: a
// keys.db read, an unwrap and an AES key schedule.
func BenchmarkOpenColdSQLite(b *testing.B) {
	ctx := context.Background()
	store, err := OpenSQLiteStore(ctx, filepath.Join(b.TempDir(), "keys.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	k := newKeyring(b, store, mustMaster(b), Options{CacheSize: -1})
	v, err := k.Seal(ctx, "p1", "identity", "n", make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := k.Open(ctx, "p1", "identity", "n", v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSealNewPersonSQLite measures the first Seal of a new person:
// key generation, wrap and a synced keys.db insert.
func BenchmarkSealNewPersonSQLite(b *testing.B) {
	ctx := context.Background()
	store, err := OpenSQLiteStore(ctx, filepath.Join(b.TempDir(), "keys.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	k := newKeyring(b, store, mustMaster(b), Options{})
	i := 0
	for b.Loop() {
		i++
		if _, err := k.Seal(ctx, fmt.Sprintf("p%d", i), "identity", "n", make([]byte, 32)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBlindIndex(b *testing.B) {
	k := newKeyring(b, &MemStore{}, mustMaster(b), Options{})
	v := JoinIndex(NormalizeName("Yusuf"), NormalizeName("Amina"), "1990-04-01")
	for b.Loop() {
		k.BlindIndex("person.name_birth", v)
	}
}

func BenchmarkNormalizeName(b *testing.B) {
	for b.Loop() {
		NormalizeName("  Amina  Ọláídé YUSUF ")
	}
}
