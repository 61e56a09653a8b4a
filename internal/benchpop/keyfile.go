package benchpop

import (
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

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
//
// The keys are held with no pointer per key (fixed-size records, the
// wrapped bytes in one array): a registry's keys live in keys.db or
// PostgreSQL, outside the Go heap, with a bounded cache, and the bench's
// must not make every garbage collection visit millions of objects (three
// keys a person as WrappedKey values were 1.2 million objects at 100,000
// people, 180 ms of CPU a collection; docs/galleries.md, "Seventh round").
type KeyFile struct {
	path string
	mu   sync.RWMutex
	at   map[refID]int32        // records by ref
	long map[envelope.Ref]int32 // refs too long for a refID (never the bench's)
	recs []keyRec
	// wrapped holds the records' wrapped keys; a deleted key's bytes are
	// overwritten with zeros.
	wrapped []byte
	masters []string // master key ids, numbered by keyRec.master
}

// refID is a ref held inline: owner length, owner, name length, name.
type refID [64]byte

func makeRefID(r envelope.Ref) (refID, bool) {
	var id refID
	if len(r.Owner)+len(r.Name)+2 > len(id) {
		return id, false
	}
	id[0] = byte(len(r.Owner))
	n := 1 + copy(id[1:], r.Owner)
	id[n] = byte(len(r.Name))
	copy(id[n+1:], r.Name)
	return id, true
}

func (id refID) ref() envelope.Ref {
	o := int(id[0])
	return envelope.Ref{Owner: string(id[1 : 1+o]), Name: string(id[2+o : 2+o+int(id[1+o])])}
}

// keyRec is a key held; a long ref's record keeps its ref in KeyFile.long
// (longRef set, id unused).
type keyRec struct {
	id       refID
	created  int64 // Unix seconds
	nsec     int32
	off      int64 // of the wrapped key in KeyFile.wrapped
	n        int32
	version  uint32
	master   uint16
	longRef  bool
	dead     bool
	location bool // created was not in UTC (kept as time.Local)
}

// OpenKeyFile reads the keys saved at path, or starts with none if there is
// no file yet.
func OpenKeyFile(path string) (*KeyFile, error) {
	k := &KeyFile{path: path, at: map[refID]int32{}}
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
	k.at = make(map[refID]int32, len(all))
	k.recs = make([]keyRec, 0, len(all))
	n := 0
	for _, wk := range all {
		n += len(wk.Wrapped)
	}
	k.wrapped = make([]byte, 0, n)
	for _, wk := range all {
		k.put(wk)
	}
	return k, nil
}

// find returns the record number of ref. The caller holds k.mu.
func (k *KeyFile) find(ref envelope.Ref) (int32, bool) {
	if id, ok := makeRefID(ref); ok {
		i, ok := k.at[id]
		return i, ok
	}
	i, ok := k.long[ref]
	return i, ok
}

// put adds wk (replacing any key under its ref). The caller holds k.mu
// for writing.
func (k *KeyFile) put(wk envelope.WrappedKey) {
	if i, ok := k.find(wk.Ref); ok {
		k.forget(i)
	}
	r := keyRec{off: int64(len(k.wrapped)), n: int32(len(wk.Wrapped)), version: wk.Version,
		created: wk.Created.Unix(), nsec: int32(wk.Created.Nanosecond()), location: wk.Created.Location() != time.UTC}
	k.wrapped = append(k.wrapped, wk.Wrapped...)
	r.master = uint16(len(k.masters))
	for j, m := range k.masters {
		if m == wk.MasterID {
			r.master = uint16(j)
		}
	}
	if int(r.master) == len(k.masters) {
		k.masters = append(k.masters, wk.MasterID)
	}
	i := int32(len(k.recs))
	if id, ok := makeRefID(wk.Ref); ok {
		r.id = id
		k.at[id] = i
	} else {
		r.longRef = true
		if k.long == nil {
			k.long = map[envelope.Ref]int32{}
		}
		k.long[wk.Ref] = i
	}
	k.recs = append(k.recs, r)
}

// forget drops record i: out of the maps, its wrapped bytes zeroed. The
// caller holds k.mu for writing.
func (k *KeyFile) forget(i int32) {
	r := &k.recs[i]
	if r.dead {
		return
	}
	if r.longRef {
		for ref, j := range k.long {
			if j == i {
				delete(k.long, ref)
			}
		}
	} else {
		delete(k.at, r.id)
	}
	clear(k.wrapped[r.off : r.off+int64(r.n)])
	r.dead = true
}

// key is record i as a WrappedKey (its own copy of the bytes). The
// caller holds k.mu.
func (k *KeyFile) key(i int32) envelope.WrappedKey {
	r := &k.recs[i]
	wk := envelope.WrappedKey{Version: r.version, MasterID: k.masters[r.master],
		Wrapped: append([]byte(nil), k.wrapped[r.off:r.off+int64(r.n)]...), Created: time.Unix(r.created, int64(r.nsec)).UTC()}
	if r.location {
		wk.Created = wk.Created.Local()
	}
	if r.longRef {
		for ref, j := range k.long {
			if j == i {
				wk.Ref = ref
			}
		}
	} else {
		wk.Ref = r.id.ref()
	}
	return wk
}

// Save writes every key to the file (mode 0600), replacing it whole.
func (k *KeyFile) Save() error {
	k.mu.RLock()
	all := make([]envelope.WrappedKey, 0, len(k.at)+len(k.long))
	for i := range k.recs {
		if !k.recs[i].dead {
			all = append(all, k.key(int32(i)))
		}
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
	return len(k.at) + len(k.long)
}

// Get implements envelope.KeyStore.
func (k *KeyFile) Get(_ context.Context, ref envelope.Ref) (envelope.WrappedKey, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	i, ok := k.find(ref)
	if !ok {
		return envelope.WrappedKey{}, fmt.Errorf("benchpop: key file: %w", envelope.ErrNotFound)
	}
	return k.key(i), nil
}

// Create implements envelope.KeyStore.
func (k *KeyFile) Create(_ context.Context, wk envelope.WrappedKey) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.find(wk.Ref); ok {
		return fmt.Errorf("benchpop: key file: %w", envelope.ErrExists)
	}
	k.put(wk)
	return nil
}

// Delete implements envelope.KeyStore.
func (k *KeyFile) Delete(_ context.Context, ref envelope.Ref) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if i, ok := k.find(ref); ok {
		k.forget(i)
	}
	return nil
}

// DeleteOwner implements envelope.KeyStore.
func (k *KeyFile) DeleteOwner(_ context.Context, owner string) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for i := range k.recs {
		r := &k.recs[i]
		if r.dead {
			continue
		}
		var o string
		if r.longRef {
			o = k.key(int32(i)).Ref.Owner
		} else {
			o = string(r.id[1 : 1+int(r.id[0])])
		}
		if o == owner {
			k.forget(int32(i))
			n++
		}
	}
	return n, nil
}

// Rewrap implements envelope.KeyStore.
func (k *KeyFile) Rewrap(_ context.Context, fn func(envelope.WrappedKey) (envelope.WrappedKey, error)) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	next := &KeyFile{at: make(map[refID]int32, len(k.at)), recs: make([]keyRec, 0, len(k.at)+len(k.long))}
	for i := range k.recs {
		if k.recs[i].dead {
			continue
		}
		wk := k.key(int32(i))
		nk, err := fn(wk)
		if err != nil {
			return err
		}
		if nk.Ref != wk.Ref {
			return fmt.Errorf("benchpop: key file: %w: fn changed a key's ref", envelope.ErrInvalidArgument)
		}
		next.put(nk)
	}
	clear(k.wrapped)
	k.at, k.long, k.recs, k.wrapped, k.masters = next.at, next.long, next.recs, next.wrapped, next.masters
	return nil
}
