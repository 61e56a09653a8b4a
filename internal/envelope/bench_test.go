package envelope

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/uuid"
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
	cpu0, n := cpuNanos(), 0
	for b.Loop() {
		if _, err := k.Open(ctx, "p1", "identity", "n", v); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(n), "cpu-ns/op")
}

// cpuNanos is the process's CPU time (user and system, every core): on a
// shared machine a steadier figure than the wall time.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
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

// BenchmarkOpenAllSQLite measures OpenAll of a gallery page: 2,000 values
// of 2,000 persons whose keys are not cached, their keys read from a
// keys.db of 20,000 persons in one GetMany; ns/value is per value opened.
func BenchmarkOpenAllSQLite(b *testing.B) {
	ctx := context.Background()
	store, mem, m, k := benchKeysDB(b)
	var err error
	const persons, page = 20000, 2000
	ids, vals := make([]string, persons), make([][]byte, persons)
	for i := range persons {
		ids[i] = fmt.Sprintf("person-%05d", i)
		if vals[i], err = k.Seal(ctx, ids[i], "fingerprint", "template", make([]byte, 2600)); err != nil {
			b.Fatal(err)
		}
	}
	importKeys(b, mem, store)
	k = newKeyring(b, store, m, Options{CacheSize: -1})
	cpu0, n := cpuNanos(), 0
	for b.Loop() {
		lo := (n * page) % persons
		if _, err := k.OpenAll(ctx, "fingerprint", "template", ids[lo:lo+page], vals[lo:lo+page]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*page), "ns/value")
	b.ReportMetric(float64(cpuNanos()-cpu0)/float64(n*page), "cpu-ns/value")
}

// BenchmarkOpenAvailableSQLite measures OpenAvailable as a gallery
// snapshot's load makes it: batches of 2,048 values of 2,048 persons
// (random ids, in no order), their keys read from a keys.db of 50,000
// persons with three keys each, the keyring's default cache;
// cpu-ns/value is per value opened (the process's CPU, every core).
func BenchmarkOpenAvailableSQLite(b *testing.B) {
	ctx := context.Background()
	store, mem, m, k := benchKeysDB(b)
	const persons, page = 50000, 2048
	ids, vals := sealSnapshotValues(b, k, persons)
	importKeys(b, mem, store)
	k = newKeyring(b, store, m, Options{})
	buf := make([][]byte, page)
	var cpu int64
	n := 0
	for b.Loop() {
		lo := (n * page) % (persons - page)
		for i := range buf {
			buf[i] = append(buf[i][:0], vals[lo+i]...) // opened in place
		}
		cpu0 := cpuNanos()
		if _, err := k.OpenAvailable(ctx, "fingerprint", "snap", ids[lo:lo+page], buf); err != nil {
			b.Fatal(err)
		}
		cpu += cpuNanos() - cpu0
		n++
	}
	b.ReportMetric(float64(cpu)/float64(n*page), "cpu-ns/value")
}

// benchKeysDB opens an empty keys.db in b's temporary directory (closed at
// the end), and a keyring with a new master key that seals into memory,
// no cache; importKeys then copies the memory's keys into the keys.db.
func benchKeysDB(b *testing.B) (*SQLiteStore, *MemStore, *MasterKey, *Keyring) {
	store, err := OpenSQLiteStore(context.Background(), filepath.Join(b.TempDir(), "keys.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	mem := &MemStore{}
	m := mustMaster(b)
	return store, mem, m, newKeyring(b, mem, m, Options{CacheSize: -1})
}

// importKeys copies every key of mem into store.
func importKeys(b *testing.B, mem *MemStore, store *SQLiteStore) {
	var all []WrappedKey
	_ = mem.Rewrap(context.Background(), func(wk WrappedKey) (WrappedKey, error) { all = append(all, wk); return wk, nil })
	if err := store.Import(context.Background(), all); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkOpenLoadSQLite measures the opening of a gallery snapshot
// load's values, every person's once, in batches of 2,048 (random ids in
// no order), their keys in a keys.db of 50,000 persons with three keys
// each: "batches" reads each batch's keys (OpenAvailable, a GetMany a
// batch), "one-pass" reads them all first (ReadDataKeys, counted in);
// cpu-ns/value is per value opened (the process's CPU, every core).
func BenchmarkOpenLoadSQLite(b *testing.B) {
	ctx := context.Background()
	store, mem, m, k := benchKeysDB(b)
	const persons, page = 50000, 2048
	ids, vals := sealSnapshotValues(b, k, persons)
	importKeys(b, mem, store)
	k = newKeyring(b, store, m, Options{})
	buf := make([][]byte, persons)
	for _, mode := range []string{"batches", "one-pass"} {
		b.Run(mode, func(b *testing.B) {
			var cpu int64
			n := 0
			for b.Loop() {
				for i := range buf {
					buf[i] = append(buf[i][:0], vals[i]...) // opened in place
				}
				cpu0 := cpuNanos()
				open, done := k.OpenAvailable, func() {}
				if mode == "one-pass" {
					o, d, err := k.ReadDataKeys(ctx, []string{"fingerprint"}, persons)
					if err != nil || o == nil {
						b.Fatal(o != nil, err)
					}
					open, done = o, d
				}
				for lo := 0; lo < persons; lo += page {
					hi := min(lo+page, persons)
					got, err := open(ctx, "fingerprint", "snap", ids[lo:hi], buf[lo:hi])
					if err != nil || got[0] == nil {
						b.Fatal(err)
					}
				}
				done()
				cpu += cpuNanos() - cpu0
				n++
			}
			b.ReportMetric(float64(cpu)/float64(n*persons), "cpu-ns/value")
		})
	}
}

// sealSnapshotValues seals a fingerprint record (2,600 bytes, kind
// "snap") of each of persons random ids, and makes their identity and
// iris keys too (three keys a person, as a registry's).
func sealSnapshotValues(b *testing.B, k *Keyring, persons int) (ids []string, vals [][]byte) {
	ctx := context.Background()
	ids, vals = make([]string, persons), make([][]byte, persons)
	for i := range persons {
		var u [16]byte
		_, _ = rand.Read(u[:])
		ids[i] = fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
		var err error
		if vals[i], err = k.Seal(ctx, ids[i], "fingerprint", "snap", make([]byte, 2600)); err != nil {
			b.Fatal(err)
		}
		for _, cat := range []string{"identity", "iris"} {
			if _, err = k.Seal(ctx, ids[i], cat, "x", nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	return ids, vals
}

// BenchmarkReadDataKeys measures ReadDataKeys alone (the scan of a
// shard's start, before any value is opened) over a keys.db of 200,000
// persons with three keys each, two of them wanted: ns/person is the
// wall time, cpu-ns/person the process's CPU (every core).
func BenchmarkReadDataKeys(b *testing.B) {
	ctx := context.Background()
	store, _, m, _ := benchKeysDB(b)
	const persons = 200000
	var wks []WrappedKey
	wrapped := make([]byte, wrappedDataKeySize)
	wrapped[0] = wrapFormatV1
	for range persons {
		o := uuid.NewString()
		for _, cat := range []string{"fingerprint", "identity", "iris"} {
			wks = append(wks, WrappedKey{Ref: Ref{Owner: o, Name: dataKeyPrefix + cat}, Version: 1, MasterID: m.ID(), Wrapped: wrapped})
		}
	}
	if err := store.Import(ctx, wks); err != nil {
		b.Fatal(err)
	}
	wks = nil
	k := newKeyring(b, store, m, Options{})
	var cpu int64
	n := 0
	for b.Loop() {
		cpu0 := cpuNanos()
		open, done, err := k.ReadDataKeys(ctx, []string{"fingerprint", "iris"}, persons)
		if err != nil || open == nil {
			b.Fatal(open != nil, err)
		}
		done()
		cpu += cpuNanos() - cpu0
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*persons), "ns/person")
	b.ReportMetric(float64(cpu)/float64(n*persons), "cpu-ns/person")
}
