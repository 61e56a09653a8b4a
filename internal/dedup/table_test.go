package dedup

import (
	"encoding/binary"
	"maps"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"pgregory.net/rapid"
)

// TestIDTableAsMap: any sequence of puts, deletions and lookups gives
// what a map gives, with keys crowded into few slots (a small table, ids
// that differ in few bytes, named and not) so that runs of collisions
// wrap around the table's end and deletions shift entries back.
func TestIDTableAsMap(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var tab idTable[owned]
		if rapid.Bool().Draw(rt, "presized") {
			tab = newIDTable[owned](rapid.IntRange(0, 40).Draw(rt, "hint"))
		}
		want := map[ident]owned{}
		key := func(label string) ident {
			var id ident
			id.b[rapid.IntRange(0, 15).Draw(rt, label+" at")] = byte(rapid.IntRange(0, 6).Draw(rt, label))
			id.named = rapid.IntRange(0, 3).Draw(rt, label+" named") == 0
			return id
		}
		for i := range rapid.IntRange(0, 300).Draw(rt, "ops") {
			k := key("key")
			switch rapid.IntRange(0, 2).Draw(rt, "op") {
			case 0:
				v := owned{modality: uint8(i)}
				_, held := want[k]
				if added := tab.put(k, v); added == held {
					rt.Fatalf("put %v: added %v, held before %v", k, added, held)
				}
				want[k] = v
			case 1:
				_, held := want[k]
				if gone := tab.del(k); gone != held {
					rt.Fatalf("del %v: %v, held %v", k, gone, held)
				}
				delete(want, k)
			}
			if tab.len() != len(want) {
				rt.Fatalf("%d entries, want %d", tab.len(), len(want))
			}
			for wk, wv := range want {
				if v, ok := tab.get(wk); !ok || v != wv {
					rt.Fatalf("get %v: %v %v, want %v", wk, v, ok, wv)
				}
			}
			if k := key("absent"); !tab.has(k) {
				if _, held := want[k]; held {
					rt.Fatalf("%v lost", k)
				}
			}
		}
		got := map[ident]bool{}
		for k := range tab.keys() {
			got[k] = true
		}
		if !maps.Equal(got, maps.Collect(func(yield func(ident, bool) bool) {
			for k := range want {
				if !yield(k, true) {
					return
				}
			}
		})) {
			rt.Fatalf("keys %v, want those of %v", got, want)
		}
	})
}

// BenchmarkBookkeeping: a load's bookkeeping inserts, per person, four
// references' owners and the person's references (as parseBatch), into
// structures sized from the counts beforehand: the tables against Go
// maps. ASSENT_BOOKKEEPING_PERSONS sets the persons (default 100,000; a
// million is where the maps no longer fit in the caches).
func BenchmarkBookkeeping(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("ASSENT_BOOKKEEPING_PERSONS")); err == nil {
		n = v
	}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func() ident {
		var id ident
		binary.LittleEndian.PutUint64(id.b[:8], rng.Uint64())
		binary.LittleEndian.PutUint64(id.b[8:], rng.Uint64())
		return id
	}
	persons, refs := make([]ident, n), make([]ident, 4*n)
	for i := range persons {
		persons[i] = random()
	}
	for i := range refs {
		refs[i] = random()
	}
	b.Run("tables", func(b *testing.B) {
		cpu0 := cpuNow()
		for b.Loop() {
			owner, held := newIDTable[owned](4*n), newIDTable[refList](n)
			for i, p := range persons {
				var rl refList
				for k, r := range refs[4*i : 4*i+4] {
					owner.put(r, owned{person: p, modality: uint8(k/2 + 1)})
					rl.r[rl.n] = r
					rl.n++
				}
				held.put(p, rl)
			}
		}
		b.ReportMetric(float64((cpuNow()-cpu0).Nanoseconds())/float64(b.N*n), "cpu-ns/person")
	})
	b.Run("maps", func(b *testing.B) {
		cpu0 := cpuNow()
		for b.Loop() {
			owner, held := make(map[ident]owned, 4*n), make(map[ident]refList, n)
			for i, p := range persons {
				var rl refList
				for k, r := range refs[4*i : 4*i+4] {
					owner[r] = owned{person: p, modality: uint8(k/2 + 1)}
					rl.r[rl.n] = r
					rl.n++
				}
				held[p] = rl
			}
		}
		b.ReportMetric(float64((cpuNow()-cpu0).Nanoseconds())/float64(b.N*n), "cpu-ns/person")
	})
}
