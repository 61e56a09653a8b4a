package envelope

import (
	"context"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Options tunes a Keyring. The zero value gives the defaults.
type Options struct {
	// CacheSize bounds how many unwrapped data keys are kept in memory.
	// 0 means 4096; a negative value disables the cache.
	CacheSize int
	// BlindIndexBytes is the length of BlindIndex results, 1 to 32. 0 means
	// DefaultBlindIndexBytes. See BlindIndex for the trade-off.
	BlindIndexBytes int
}

// DefaultBlindIndexBytes is the default BlindIndex length: 16 bits, so that
// every index value is shared by many people once the registry holds more
// than a few hundred thousand (see BlindIndex).
const DefaultBlindIndexBytes = 2

const (
	dataKeyPrefix    = "data/"
	signingKeyPrefix = "signing/"
	blindSecretName  = "secret/blind-index"
	macSecretName    = "secret/mac"
	kekInfo          = "assent/kek/v1"
	stripes          = 64
)

// Keyring seals and opens personal data with per-(person, category) data
// keys, shreds them, and holds the deployment's blind-index, MAC and signing
// keys. It is safe for concurrent use.
//
// Ordering guarantees: once Shred or ShredPerson has returned, no Open of a
// value sealed under the shredded key succeeds and every Seal that returned
// before it used the old key; a Seal that starts after it creates a new key.
// RotateMaster excludes every other operation while it runs.
//
// The keyring does not own its KeyStore; the caller closes it. A Keyring
// never prints key material (String, GoString, Format and LogValue are
// redacted).
type Keyring struct {
	store KeyStore
	opts  Options

	// rot is held shared by every operation that unwraps or wraps keys and
	// exclusively by RotateMaster, which replaces master and kek.
	rot    sync.RWMutex
	master *MasterKey
	kek    cipher.AEAD

	// stripe[i] is held shared while a data key of a person hashing to i is
	// looked up, created, cached or used, and exclusively while it is
	// shredded, so a shredded key can never be put back in the cache.
	seed   maphash.Seed
	stripe [stripes]sync.RWMutex
	cache  *keyCache
	// shreds[i] counts the Shreds and ShredPersons of stripe i, added to
	// while the stripe is held exclusively: keys read in bulk before
	// (ReadDataKeys) are used only while their stripes' counts are
	// unchanged.
	shreds [stripes]atomic.Uint64

	blind  []byte // root secret for blind indexes
	mac    []byte // root secret for MACs
	subMu  sync.Mutex
	subKey map[string][]byte // derived per-label keys, "b:"+label or "m:"+label

	signMu  sync.Mutex
	signing map[string]ed25519.PrivateKey
}

// NewKeyring opens a keyring over store, using master to wrap and unwrap. It
// creates the blind-index and MAC secrets on first use of the store. It fails
// with ErrWrongMaster if the store's keys were wrapped by another master key.
func NewKeyring(ctx context.Context, store KeyStore, master *MasterKey, opts Options) (*Keyring, error) {
	const op = "envelope.NewKeyring"
	if store == nil || master == nil {
		return nil, fmt.Errorf("%s: %w: nil store or master key", op, ErrInvalidArgument)
	}
	switch {
	case opts.CacheSize == 0:
		opts.CacheSize = 4096
	case opts.CacheSize < 0:
		opts.CacheSize = 0
	}
	if opts.BlindIndexBytes == 0 {
		opts.BlindIndexBytes = DefaultBlindIndexBytes
	}
	if opts.BlindIndexBytes < 1 || opts.BlindIndexBytes > sha256.Size {
		return nil, fmt.Errorf("%s: %w: BlindIndexBytes %d not in 1..32", op, ErrInvalidArgument, opts.BlindIndexBytes)
	}
	kek, err := kekFor(master)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	k := &Keyring{
		store:   store,
		opts:    opts,
		master:  master,
		kek:     kek,
		seed:    maphash.MakeSeed(),
		cache:   newKeyCache(opts.CacheSize),
		subKey:  make(map[string][]byte),
		signing: make(map[string]ed25519.PrivateKey),
	}
	if k.blind, err = k.loadOrCreate(ctx, Ref{Name: blindSecretName}, randomKey); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if k.mac, err = k.loadOrCreate(ctx, Ref{Name: macSecretName}, randomKey); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return k, nil
}

func kekFor(m *MasterKey) (cipher.AEAD, error) {
	kek, err := hkdf.Key(sha256.New, m.key[:], nil, kekInfo, 32)
	if err != nil {
		return nil, err
	}
	defer clear(kek)
	return newGCM(kek)
}

func randomKey() []byte {
	b := make([]byte, dataKeySize)
	_, _ = rand.Read(b)
	return b
}

func randomVersion() uint32 {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:])
		if v := binary.BigEndian.Uint32(b[:]); v != 0 {
			return v
		}
	}
}

// MasterID is the id of the master key currently in use.
func (k *Keyring) MasterID() string {
	k.rot.RLock()
	defer k.rot.RUnlock()
	return k.master.ID()
}

func (k *Keyring) redacted() string {
	k.rot.RLock()
	defer k.rot.RUnlock()
	return "envelope.Keyring(master=" + k.master.ID() + ")"
}

// String implements fmt.Stringer without key material.
func (k *Keyring) String() string { return k.redacted() }

// GoString implements fmt.GoStringer without key material.
func (k *Keyring) GoString() string { return k.redacted() }

// Format implements fmt.Formatter: every verb prints the redacted form.
func (k *Keyring) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.redacted())) }

// LogValue implements slog.LogValuer without key material.
func (k *Keyring) LogValue() slog.Value { return slog.StringValue(k.redacted()) }

// unwrap checks which master wrapped wk and unwraps it. Caller holds k.rot.
func (k *Keyring) unwrap(wk WrappedKey) ([]byte, error) {
	if wk.MasterID != k.master.ID() {
		return nil, fmt.Errorf("%w: key %s/%s wrapped by master %s, keyring holds %s",
			ErrWrongMaster, wk.Ref.Owner, wk.Ref.Name, wk.MasterID, k.master.ID())
	}
	return unwrapKey(k.kek, wk)
}

// unwrapTo is unwrap appending the key to dst, the wrap's additional data
// made in aad: a batch of keys unwrapped with no allocation. Caller holds
// k.rot.
func (k *Keyring) unwrapTo(dst, aad []byte, wk WrappedKey) (key, aadOut []byte, err error) {
	if wk.MasterID != k.master.ID() {
		return dst, aad, fmt.Errorf("%w: key %s/%s wrapped by master %s, keyring holds %s",
			ErrWrongMaster, wk.Ref.Owner, wk.Ref.Name, wk.MasterID, k.master.ID())
	}
	return unwrapKeyTo(dst, aad, k.kek, wk)
}

// loadOrCreate returns the unwrapped key under ref, creating it with gen if
// the store has none. Concurrent callers agree on one key (the store's Create
// is insert-if-absent). Caller holds k.rot (or is the constructor).
func (k *Keyring) loadOrCreate(ctx context.Context, ref Ref, gen func() []byte) ([]byte, error) {
	_, key, err := k.getOrCreate(ctx, ref, gen)
	return key, err
}

func (k *Keyring) getOrCreate(ctx context.Context, ref Ref, gen func() []byte) (uint32, []byte, error) {
	for attempt := 0; attempt < 3; attempt++ {
		wk, err := k.store.Get(ctx, ref)
		if err == nil {
			key, err := k.unwrap(wk)
			return wk.Version, key, err
		}
		if !errors.Is(err, ErrNotFound) || gen == nil {
			return 0, nil, err
		}
		key := gen()
		v := randomVersion()
		nk := WrappedKey{Ref: ref, Version: v, MasterID: k.master.ID(), Created: time.Now().UTC().Truncate(time.Second)}
		nk.Wrapped = wrapKey(k.kek, ref, v, key)
		err = k.store.Create(ctx, nk)
		if err == nil {
			return v, key, nil
		}
		clear(key)
		if !errors.Is(err, ErrExists) {
			return 0, nil, err
		}
		// Lost a race with another creator: read theirs.
	}
	return 0, nil, fmt.Errorf("%w: key %s/%s keeps appearing and vanishing", ErrExists, ref.Owner, ref.Name)
}

func (k *Keyring) stripeFor(person string) *sync.RWMutex {
	return &k.stripe[k.stripeIndex(person)]
}

func (k *Keyring) stripeIndex(person string) int {
	return int(maphash.String(k.seed, person) % stripes)
}

func dataRef(person, cat string) Ref { return Ref{Owner: person, Name: dataKeyPrefix + cat} }

// dataKey returns the (person, cat) data key, from the cache or the store,
// creating it if create is set. Caller holds k.rot and the person's stripe
// (shared).
func (k *Keyring) dataKey(ctx context.Context, person, cat string, create bool) (dataKey, error) {
	ck := cacheKey{person, cat}
	if dk, ok := k.cache.get(ck); ok {
		return dk, nil
	}
	var gen func() []byte
	if create {
		gen = randomKey
	}
	v, key, err := k.getOrCreate(ctx, dataRef(person, cat), gen)
	if errors.Is(err, ErrNotFound) {
		return dataKey{}, fmt.Errorf("%w: no key for (%s, %s)", ErrShredded, person, cat)
	}
	if err != nil {
		return dataKey{}, err
	}
	aead, err := newGCM(key)
	clear(key)
	if err != nil {
		return dataKey{}, err
	}
	dk := dataKey{version: v, aead: aead}
	k.cache.put(ck, dk)
	return dk, nil
}

func checkSealArgs(person, cat, kind string) error {
	if err := checkID("person id", person); err != nil {
		return err
	}
	if err := checkID("category", cat); err != nil {
		return err
	}
	return checkID("kind", kind)
}

// Seal encrypts plaintext for (person, cat), creating the data key on first
// use (also after a Shred: the new key has a new version). kind names the
// record or field ("identity.given_name", "exam", "template.iris", ...); the
// same person, cat and kind must be given to Open. The result is
// len(plaintext)+SealOverhead bytes, different on every call.
func (k *Keyring) Seal(ctx context.Context, person, cat, kind string, plaintext []byte) ([]byte, error) {
	const op = "envelope.Seal"
	if err := checkSealArgs(person, cat, kind); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	k.rot.RLock()
	defer k.rot.RUnlock()
	s := k.stripeFor(person)
	s.RLock()
	defer s.RUnlock()
	dk, err := k.dataKey(ctx, person, cat, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return sealWith(dk.aead, dk.version, sealAAD(dk.version, person, cat, kind), plaintext), nil
}

// Open decrypts a value Seal returned for the same person, cat and kind. It
// returns an error wrapping ErrShredded if the key that sealed the value no
// longer exists (the value is erased), or ErrTampered (and for unparseable
// input also ErrMalformed) if the value was altered or belongs to another
// person, category or kind. Open never creates a key.
func (k *Keyring) Open(ctx context.Context, person, cat, kind string, value []byte) ([]byte, error) {
	const op = "envelope.Open"
	if err := checkSealArgs(person, cat, kind); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	sv, err := parseSealed(value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	k.rot.RLock()
	defer k.rot.RUnlock()
	s := k.stripeFor(person)
	s.RLock()
	defer s.RUnlock()
	dk, err := k.dataKey(ctx, person, cat, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if dk.version != sv.version {
		// The key this value was sealed with was shredded and a new one made.
		return nil, fmt.Errorf("%s: %w: value sealed with key version %d, current is %d", op, ErrShredded, sv.version, dk.version)
	}
	pt, err := dk.aead.Open(nil, sv.nonce, sv.ciphertext, sealAAD(sv.version, person, cat, kind))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, ErrTampered)
	}
	return pt, nil
}

// Shred deletes the (person, cat) data key from the store and the cache. Every
// value sealed under it, wherever a copy of it lives, can no longer be opened.
// Shredding a key that does not exist is not an error.
func (k *Keyring) Shred(ctx context.Context, person, cat string) error {
	const op = "envelope.Shred"
	if err := checkID("person id", person); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := checkID("category", cat); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	k.rot.RLock()
	defer k.rot.RUnlock()
	i := k.stripeIndex(person)
	s := &k.stripe[i]
	s.Lock()
	defer s.Unlock()
	defer k.shreds[i].Add(1) // before the unlock
	k.cache.evict(cacheKey{person, cat})
	if err := k.store.Delete(ctx, dataRef(person, cat)); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// ShredPerson deletes every data key of person (erasure of the whole person)
// and returns how many keys were deleted.
func (k *Keyring) ShredPerson(ctx context.Context, person string) (int, error) {
	const op = "envelope.ShredPerson"
	if err := checkID("person id", person); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	k.rot.RLock()
	defer k.rot.RUnlock()
	i := k.stripeIndex(person)
	s := &k.stripe[i]
	s.Lock()
	defer s.Unlock()
	defer k.shreds[i].Add(1) // before the unlock
	k.cache.evictPerson(person)
	n, err := k.store.DeleteOwner(ctx, person)
	if err != nil {
		return n, fmt.Errorf("%s: %w", op, err)
	}
	return n, nil
}

// RotateMaster rewraps every key in the store (data keys, the blind-index and
// MAC secrets, signing keys) from the current master key to next, in one
// key-store transaction, and from then on uses next. No sealed value changes;
// blind indexes, MACs and signing keys stay the same. If it fails, nothing
// changed and the old master key stays in use. Other keyring operations wait
// while it runs.
//
// The caller must have stored next durably before calling (see
// RotateMasterKeyFile): once this returns, only next can unwrap the store.
func (k *Keyring) RotateMaster(ctx context.Context, next *MasterKey) error {
	const op = "envelope.RotateMaster"
	if next == nil {
		return fmt.Errorf("%s: %w: nil master key", op, ErrInvalidArgument)
	}
	k.rot.Lock()
	defer k.rot.Unlock()
	if next.ID() == k.master.ID() {
		return fmt.Errorf("%s: %w: new master key is the current one", op, ErrInvalidArgument)
	}
	nextKEK, err := kekFor(next)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	err = k.store.Rewrap(ctx, func(wk WrappedKey) (WrappedKey, error) {
		key, err := k.unwrap(wk)
		if err != nil {
			return WrappedKey{}, err
		}
		wk.Wrapped = wrapKey(nextKEK, wk.Ref, wk.Version, key)
		wk.MasterID = next.ID()
		clear(key)
		return wk, nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	k.master, k.kek = next, nextKEK
	return nil
}
