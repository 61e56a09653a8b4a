package envelope

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// KeyScanner is a KeyStore that reads every key of some names in one
// pass, which costs a fraction of a lookup a key when most of its keys
// are wanted (a gallery shard's start: Keyring.ReadDataKeys).
// SQLiteStore and MemStore have it.
type KeyScanner interface {
	// CountKeys returns how many keys the store holds, of every name.
	CountKeys(ctx context.Context) (int, error)
	// ScanNamed calls fn for every key named one of names, in (owner,
	// name) order, from one read: name is the index in names, master
	// whether the master key masterID wrapped it, wrapped the wrapped
	// bytes (fn must not keep them). An error of fn stops the scan and is
	// returned.
	ScanNamed(ctx context.Context, names []string, masterID string, fn func(owner string, name int, version uint32, master bool, wrapped []byte) error) error
}

// bulkWorth is how many keys the store may hold per key a load wants for
// ReadDataKeys to read them all: a key read in a scan costs a quarter to
// a sixth of a lookup (docs/galleries.md, "Eleventh round").
const bulkWorth = 4

// A key read in bulk is held in a record of bulkRecSize bytes: its state
// (bulkAbsent, bulkHeld or bulkAsk), its version (4 bytes) and its
// wrapped bytes after the format byte (nonce, key and tag).
const (
	wrappedDataKeySize = 1 + nonceSize + dataKeySize + tagSize
	bulkRecSize        = 1 + 4 + wrappedDataKeySize - 1

	bulkAbsent = 0 // no key of that name
	bulkHeld   = 1 // the wrapped key is in the record
	bulkAsk    = 2 // a key not held (another master, another size): ask the store
)

// lookAhead is how many values an opener finds the records of before
// opening them (bulkKeys.open): the opening's CPU 18 % lower at 300,000
// persons; 8 and 32 no different (docs/galleries.md, "Thirteenth round").
const lookAhead = 16

// bulkShared marks a hash that two owners share: their keys are asked of
// the store.
const bulkShared = ^uint32(0)

// bulkKeys is the wrapped data keys of some categories of every person of
// a store, read in one scan (ReadDataKeys). It is read-only once made.
type bulkKeys struct {
	k        *Keyring
	cats     []string
	masterID string
	shreds   [stripes]uint64 // the keyring's Shred counts before the scan
	// slots maps the hash of an owner (maphash with the keyring's seed, as
	// its stripe) to the owner's records, one per category, in recs.
	slots hashSlots
	recs  []byte
	done  atomic.Bool // the keys were dropped
}

// OpenFunc is OpenAvailable's signature: what ReadDataKeys returns.
type OpenFunc = func(ctx context.Context, cat, kind string, persons []string, values [][]byte) ([][]byte, error)

// ReadDataKeys reads the data keys of cats of every person in the key
// store in one pass, for a caller about to open values of about persons
// persons in each category (a gallery snapshot's load), when the store
// can (KeyScanner) and it pays: when the store holds at most bulkWorth
// keys per key wanted. It returns open, which is OpenAvailable served
// from the keys read, and done, which drops them (open must not be
// called after it); open is nil (use OpenAvailable) when no read was
// made. open is safe for concurrent use.
//
// The keys are held as the store holds them, wrapped, in memory only
// (about 65 bytes a key; nothing is written), and unwrapped one at a time
// as values are opened. open gives what OpenAvailable would give: it
// holds the persons' stripes as OpenAvailable does, and asks the store
// (as OpenAvailable does) for the keys of a person whose stripe saw a
// Shred or ShredPerson since the read, of every person once the master
// key was rotated, and for a key it could not use (not wrapped by the
// master key of the time, or not unwrapping under its person's name).
// A key shredded by another process after the read still opens its
// values, as with OpenAvailable run at the time of the read.
func (k *Keyring) ReadDataKeys(ctx context.Context, cats []string, persons int) (open OpenFunc, done func(), err error) {
	const op = "envelope.ReadDataKeys"
	done = func() {}
	sc, ok := k.store.(KeyScanner)
	if !ok || persons <= 0 || len(cats) == 0 {
		return nil, done, nil
	}
	names := make([]string, len(cats))
	for i, c := range cats {
		if err := checkID("category", c); err != nil {
			return nil, done, fmt.Errorf("%s: %w", op, err)
		}
		if slices.Contains(cats[:i], c) {
			return nil, done, fmt.Errorf("%s: %w: category %q twice", op, ErrInvalidArgument, c)
		}
		names[i] = dataKeyPrefix + c
	}
	n, err := sc.CountKeys(ctx)
	if err != nil {
		return nil, done, fmt.Errorf("%s: %w", op, err)
	}
	if n > bulkWorth*persons*len(cats) {
		return nil, done, nil
	}
	b := &bulkKeys{k: k, cats: slices.Clone(cats)}
	// The Shred counts first, then the scan: a key shredded after the
	// count was read makes its stripe stale.
	for i := range b.shreds {
		b.shreds[i] = k.shreds[i].Load()
	}
	k.rot.RLock()
	b.masterID = k.master.ID()
	k.rot.RUnlock()
	recLen := len(cats) * bulkRecSize
	size := min(n, persons)
	b.slots = newHashSlots(size)
	b.recs = make([]byte, 0, size*recLen)
	var prev string
	var rec []byte // the owner's records
	err = sc.ScanNamed(ctx, names, b.masterID, func(owner string, name int, version uint32, master bool, wrapped []byte) error {
		if rec == nil || owner != prev {
			slot := uint32(len(b.recs) / recLen)
			b.recs = append(b.recs, make([]byte, recLen)...)
			rec = b.recs[int(slot)*recLen:][:recLen:recLen]
			prev = owner
			h := maphash.String(k.seed, owner)
			b.slots.put(h, slot) // (a hash held: bulkShared; or an owner seen apart: asked too)
		}
		r := rec[name*bulkRecSize:][:bulkRecSize]
		if !master || version == 0 || len(wrapped) != wrappedDataKeySize || wrapped[0] != wrapFormatV1 {
			r[0] = bulkAsk
			return nil
		}
		r[0] = bulkHeld
		binary.BigEndian.PutUint32(r[1:5], version)
		copy(r[5:], wrapped[1:])
		return nil
	})
	if err != nil {
		return nil, done, fmt.Errorf("%s: %w", op, err)
	}
	open = func(ctx context.Context, cat, kind string, persons []string, values [][]byte) ([][]byte, error) {
		return k.openAll(ctx, "envelope.OpenAvailable", cat, kind, persons, values, true, b)
	}
	return open, func() {
		b.done.Store(true)
		clear(b.recs)
		b.recs, b.slots = nil, hashSlots{} // (to the collector before the caller is done)
	}, nil
}

// open opens in place the values (parsed) of the category cats[ci] whose
// keys it holds, into out, on every core, and returns the values whose
// keys it must ask of the store (the others nil), or nil if none. hashes
// are the persons' hashes. Caller holds k.rot and the persons' stripes
// (shared) and checked the master key.
func (b *bulkKeys) open(op string, ci int, cat, kind string, persons []string, parsed []sealed, values [][]byte, hashes []uint64, out [][]byte) (ask [][]byte, err error) {
	if b.done.Load() {
		return nil, fmt.Errorf("%s: %w: the keys read were dropped", op, ErrInvalidArgument)
	}
	var stale [stripes]bool
	for i := range stale {
		stale[i] = b.k.shreds[i].Load() != b.shreds[i]
	}
	name := dataKeyPrefix + cat
	recLen := len(b.cats) * bulkRecSize
	workers := min(runtime.GOMAXPROCS(0), max(1, len(values)/64))
	errs := make([]error, workers)
	asks := make([][]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// key, wrapAAD and aad are reused from value to value; key is
			// cleared whole at the end.
			var key, wrapAAD, aad []byte
			defer func() { clear(key[:cap(key)]) }()
			// The values are taken lookAhead at a time: their records are
			// found first (a hash slot and a record each, two dependent
			// cache misses, independent from value to value: the core
			// overlaps them), then the found ones opened.
			var found [lookAhead]struct{ i, at int }
			for lo := w; lo < len(values); lo += lookAhead * workers {
				n := 0
				for i := lo; i < len(values) && i < lo+lookAhead*workers; i += workers {
					if values[i] == nil {
						continue
					}
					h := hashes[i]
					slot, ok := b.slots.get(h)
					switch {
					case stale[h%stripes] || slot == bulkShared:
						asks[w] = append(asks[w], i)
						continue
					case !ok:
						continue // no key: nil
					}
					at := int(slot)*recLen + ci*bulkRecSize
					switch b.recs[at] {
					case bulkAbsent:
						continue
					case bulkAsk:
						asks[w] = append(asks[w], i)
						continue
					}
					found[n] = struct{ i, at int }{i, at}
					n++
				}
				for _, f := range found[:n] {
					i, r := f.i, b.recs[f.at:][:bulkRecSize]
					p, sv, version := persons[i], parsed[i], binary.BigEndian.Uint32(r[1:5])
					if version != sv.version {
						continue // shredded and made again since the value was sealed: nil
					}
					wrapAAD = appendWrapAAD(wrapAAD[:0], Ref{Owner: p, Name: name}, version)
					var err error
					if key, err = b.k.kek.Open(key[:0], r[5:5+nonceSize], r[5+nonceSize:], wrapAAD); err != nil {
						asks[w] = append(asks[w], i) // (another owner's key under the same hash)
						continue
					}
					aead, err := newGCM(key)
					if err != nil {
						errs[w] = err
						return
					}
					aad = appendSealAAD(aad[:0], sv.version, p, cat, kind)
					pt, err := aead.Open(sv.ciphertext[:0], sv.nonce, sv.ciphertext, aad)
					if err != nil {
						errs[w] = fmt.Errorf("%s: value %d: %w", op, i, ErrTampered)
						return
					}
					out[i] = pt
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for _, a := range asks {
		for _, i := range a {
			if ask == nil {
				ask = make([][]byte, len(values))
			}
			ask[i] = values[i]
		}
	}
	return ask, nil
}

// hashSlots maps an owner's hash to its slot in bulkKeys.recs: open
// addressing with linear probing over the hashes themselves (the
// keyring's seeded maphash: a hash's first place is its high bits times
// the places), at most three quarters full, sized once from the keys
// wanted. A load reads it once a value and fills it in the scan, the
// one serial step of a load: a Go map of a million entries cost a cache
// miss more a lookup (docs/galleries.md, "Twelfth round").
type hashSlots struct {
	e []hashSlot
	n int
}

type hashSlot struct {
	h    uint64
	slot uint32
	used bool
}

func newHashSlots(n int) hashSlots {
	return hashSlots{e: make([]hashSlot, max(8, n+n/3+1))}
}

// find returns h's place, or the free place where it would go.
func (t *hashSlots) find(h uint64) (int, bool) {
	hi, _ := bits.Mul64(h, uint64(len(t.e)))
	for i := int(hi); ; {
		if e := &t.e[i]; !e.used || e.h == h {
			return i, e.used
		}
		if i++; i == len(t.e) {
			i = 0
		}
	}
}

// put maps h to slot, or to bulkShared if h was held.
func (t *hashSlots) put(h uint64, slot uint32) {
	if t.n+1 > len(t.e)-len(t.e)/4 {
		old := t.e
		t.e, t.n = make([]hashSlot, 2*len(old)), 0
		for _, e := range old {
			if e.used {
				t.put(e.h, e.slot)
			}
		}
	}
	i, held := t.find(h)
	if held {
		t.e[i].slot = bulkShared
		return
	}
	t.e[i] = hashSlot{h: h, slot: slot, used: true}
	t.n++
}

// get returns h's slot.
func (t *hashSlots) get(h uint64) (uint32, bool) {
	if len(t.e) == 0 {
		return 0, false
	}
	i, ok := t.find(h)
	return t.e[i].slot, ok
}
