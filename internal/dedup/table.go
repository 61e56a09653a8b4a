package dedup

import (
	"hash/maphash"
	"iter"
	"math/bits"

	"github.com/assent-registry/assent/internal/hugepage"
)

// idTable is a hash table from idents to values of V, for Local's
// bookkeeping: open addressing with linear probing in one array of
// slots, at most three quarters full (a hash's first slot is its high
// bits times the slots, so any number of slots will do: a load's table
// is sized from the snapshot's counts, not rounded up to a power of two),
// deletion by shifting the following entries back (no tombstones).
//
// It replaces Go maps there because a load fills millions of entries at
// once into fresh memory: sized from the snapshot's counts, the two
// tables of a million people take 293 MiB where the maps took 496 (a map
// rounds its tables up to powers of two), and the entries cost less CPU
// to put (BenchmarkBookkeeping; docs/galleries.md, "Twelfth round"). V
// must hold no pointer (the collector does not visit the slots:
// TestBookkeepingHoldsNoPointers).
//
// The zero value is an empty table. Not safe for concurrent use (Local's
// lock guards it).
type idTable[V any] struct {
	slots []idSlot[V]
	n     int
	seed  maphash.Seed
}

type idSlot[V any] struct {
	k    ident
	used bool
	v    V
}

// newIDTable returns a table that holds n entries without growing.
func newIDTable[V any](n int) idTable[V] {
	t := idTable[V]{seed: maphash.MakeSeed()}
	t.slots = make([]idSlot[V], tableSize(n))
	hugepage.Advise(t.slots)
	return t
}

// tableSize is the slots for n entries, at most three quarters full; at
// least 8.
func tableSize(n int) int { return max(8, n+n/3+1) }

// full tells whether a table of s slots holding n entries must grow
// before one more is put.
func full(n, s int) bool { return n+1 > s-s/4 }

func (t *idTable[V]) hash(k *ident) uint64 {
	h := maphash.Bytes(t.seed, k.b[:])
	if k.named {
		h = ^h
	}
	return h
}

// find returns the slot of k, or the free slot where k would go, and
// whether k is held. The table has a free slot.
func (t *idTable[V]) find(k *ident) (int, bool) {
	i := t.home(k)
	for {
		s := &t.slots[i]
		if !s.used {
			return i, false
		}
		if s.k == *k {
			return i, true
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// home is the first slot k's entry may be in.
func (t *idTable[V]) home(k *ident) int {
	hi, _ := bits.Mul64(t.hash(k), uint64(len(t.slots)))
	return int(hi)
}

// len is the number of entries.
func (t *idTable[V]) len() int { return t.n }

// get returns k's value.
func (t *idTable[V]) get(k ident) (V, bool) {
	if t.n == 0 {
		var zero V
		return zero, false
	}
	i, ok := t.find(&k)
	return t.slots[i].v, ok
}

// has tells whether k is held.
func (t *idTable[V]) has(k ident) bool {
	_, ok := t.get(k)
	return ok
}

// put makes v k's value, and tells whether k is new.
func (t *idTable[V]) put(k ident, v V) (added bool) {
	if t.slots == nil || full(t.n, len(t.slots)) {
		t.grow()
	}
	i, ok := t.find(&k)
	s := &t.slots[i]
	if !ok {
		s.k, s.used = k, true
		t.n++
	}
	s.v = v
	return !ok
}

// grow doubles the slots (makes the first ones), entries moved.
func (t *idTable[V]) grow() {
	old := t.slots
	if t.slots == nil {
		t.seed = maphash.MakeSeed()
		t.slots = make([]idSlot[V], 8)
		return
	}
	t.slots = make([]idSlot[V], 2*len(old))
	hugepage.Advise(t.slots)
	for i := range old {
		if s := &old[i]; s.used {
			j, _ := t.find(&s.k)
			t.slots[j] = *s
		}
	}
}

// del removes k, and tells whether it was held: the entries after it in
// its run move back, so that every entry stays reachable from its hash's
// slot without a tombstone.
func (t *idTable[V]) del(k ident) bool {
	if t.n == 0 {
		return false
	}
	i, ok := t.find(&k)
	if !ok {
		return false
	}
	next := func(j int) int {
		if j++; j == len(t.slots) {
			return 0
		}
		return j
	}
	for j := next(i); t.slots[j].used; j = next(j) {
		h := t.home(&t.slots[j].k)
		// The entry at j stays if its home h is cyclically in (i, j].
		if (i <= j && i < h && h <= j) || (i > j && (i < h || h <= j)) {
			continue
		}
		t.slots[i] = t.slots[j]
		i = j
	}
	t.slots[i] = idSlot[V]{}
	t.n--
	return true
}

// keys yields the keys held, in no particular order. The table must not
// change meanwhile.
func (t *idTable[V]) keys() iter.Seq[ident] {
	return func(yield func(ident) bool) {
		for i := range t.slots {
			if t.slots[i].used && !yield(t.slots[i].k) {
				return
			}
		}
	}
}
