package envelope

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func newMaster(t testing.TB) *MasterKey {
	t.Helper()
	m, err := GenerateMasterKey()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newKeyring(t testing.TB, store KeyStore, m *MasterKey, opts Options) *Keyring {
	t.Helper()
	k, err := NewKeyring(context.Background(), store, m, opts)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k
}

func seal(t testing.TB, k *Keyring, person, cat, kind, pt string) []byte {
	t.Helper()
	v, err := k.Seal(context.Background(), person, cat, kind, []byte(pt))
	if err != nil {
		t.Fatalf("Seal(%s, %s, %s): %v", person, cat, kind, err)
	}
	return v
}

func TestSealOpenRoundTrip(t *testing.T) {
	ctx := context.Background()
	for storeName, factory := range storeFactories() {
		t.Run(storeName, func(t *testing.T) {
			k := newKeyring(t, factory(t), newMaster(t), Options{})
			tests := []struct {
				name, person, cat, kind string
				plaintext               []byte
			}{
				{"name", "3f1c2a4e-0000-4000-8000-000000000001", "identity", "identity.given_name", []byte("Amina")},
				{"empty plaintext", "p1", "identity", "identity.middle_name", []byte{}},
				{"nil plaintext", "p1", "identity", "identity.nickname", nil},
				{"binary template", "p1", "fingerprint", "template.right_index", bytes.Repeat([]byte{0, 1, 2, 255}, 1000)},
				{"unicode ids", "person-é", "health", "exam", []byte(`{"systolic":120}`)},
				{"1 MiB", "p2", "dna", "specimen", bytes.Repeat([]byte("x"), 1<<20)},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					v, err := k.Seal(ctx, tt.person, tt.cat, tt.kind, tt.plaintext)
					if err != nil {
						t.Fatal(err)
					}
					if got, want := len(v), len(tt.plaintext)+SealOverhead; got != want {
						t.Errorf("sealed length = %d, want %d", got, want)
					}
					if len(tt.plaintext) >= 4 && bytes.Contains(v, tt.plaintext) {
						t.Error("sealed value contains the plaintext")
					}
					got, err := k.Open(ctx, tt.person, tt.cat, tt.kind, v)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(tt.plaintext, got, cmp.Comparer(bytes.Equal)); diff != "" {
						t.Errorf("Open (-want +got):\n%s", diff)
					}
					again, _ := k.Seal(ctx, tt.person, tt.cat, tt.kind, tt.plaintext)
					if bytes.Equal(again, v) {
						t.Error("two Seals of the same plaintext are equal (nonce reuse?)")
					}
				})
			}
		})
	}
}

func TestSealedFormat(t *testing.T) {
	k := newKeyring(t, &MemStore{}, newMaster(t), Options{})
	a := seal(t, k, "p1", "identity", "n", "hello")
	b := seal(t, k, "p1", "identity", "n", "hello")
	c := seal(t, k, "p1", "face", "n", "hello")
	if a[0] != 0x01 {
		t.Errorf("format byte = %#x, want 0x01", a[0])
	}
	if !bytes.Equal(a[1:5], b[1:5]) {
		t.Error("two values under one key carry different key versions")
	}
	if bytes.Equal(a[1:5], c[1:5]) {
		t.Error("keys of two categories share a version (versions must be random)")
	}
	if bytes.Equal(a[5:17], b[5:17]) {
		t.Error("nonce repeated")
	}
}

func TestOpenBindsContext(t *testing.T) {
	ctx := context.Background()
	k := newKeyring(t, &MemStore{}, newMaster(t), Options{})
	v := seal(t, k, "p1", "identity", "identity.given_name", "Amina")
	seal(t, k, "p2", "identity", "x", "make p2's key exist")
	seal(t, k, "p1", "health", "x", "make p1's health key exist")
	tests := []struct {
		name, person, cat, kind string
		value                   []byte
		want                    error
	}{
		{"other kind", "p1", "identity", "identity.family_name", v, ErrTampered},
		{"other person with a key", "p2", "identity", "identity.given_name", v, ErrShredded}, // other key, other version
		{"other person without a key", "p3", "identity", "identity.given_name", v, ErrShredded},
		{"other category with a key", "p1", "health", "identity.given_name", v, ErrShredded},
		{"other category without a key", "p1", "face", "identity.given_name", v, ErrShredded},
		{"empty", "p1", "identity", "identity.given_name", nil, ErrMalformed},
		{"short", "p1", "identity", "identity.given_name", v[:SealOverhead-1], ErrMalformed},
		{"bad format byte", "p1", "identity", "identity.given_name", append([]byte{0x02}, v[1:]...), ErrMalformed},
		{"truncated tag", "p1", "identity", "identity.given_name", v[:len(v)-1], ErrTampered},
		{"extra byte", "p1", "identity", "identity.given_name", append(bytes.Clone(v), 0), ErrTampered},
		{"empty person", "", "identity", "identity.given_name", v, ErrInvalidArgument},
		{"empty kind", "p1", "identity", "", v, ErrInvalidArgument},
		{"control char", "p1\n", "identity", "k", v, ErrInvalidArgument},
		{"bad utf-8", "p1", "identity\xff", "k", v, ErrInvalidArgument},
		{"too long", strings.Repeat("p", 257), "identity", "k", v, ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Open(ctx, tt.person, tt.cat, tt.kind, tt.value)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := k.Open(ctx, "p1", "identity", "identity.given_name", append([]byte{0x02}, v[1:]...)); !errors.Is(err, ErrTampered) {
		t.Error("ErrMalformed must also match ErrTampered")
	}
}

// TestOpenDetectsEveryFlippedBit flips each bit of a sealed value after the
// version field: every change must be refused as tampering.
func TestOpenDetectsEveryFlippedBit(t *testing.T) {
	ctx := context.Background()
	k := newKeyring(t, &MemStore{}, newMaster(t), Options{})
	v := seal(t, k, "p1", "blood_type", "blood_type", "AB-")
	for i := 5; i < len(v); i++ {
		for bit := range 8 {
			w := bytes.Clone(v)
			w[i] ^= 1 << bit
			if _, err := k.Open(ctx, "p1", "blood_type", "blood_type", w); !errors.Is(err, ErrTampered) {
				t.Fatalf("byte %d bit %d flipped: err = %v, want ErrTampered", i, bit, err)
			}
		}
	}
	// A changed version field names a key that does not exist.
	for i := 1; i < 5; i++ {
		w := bytes.Clone(v)
		w[i] ^= 0x10
		if _, err := k.Open(ctx, "p1", "blood_type", "blood_type", w); !errors.Is(err, ErrShredded) && !errors.Is(err, ErrTampered) {
			t.Fatalf("version byte %d flipped: err = %v", i, err)
		}
	}
}

func TestShred(t *testing.T) {
	ctx := context.Background()
	for storeName, factory := range storeFactories() {
		t.Run(storeName, func(t *testing.T) {
			k := newKeyring(t, factory(t), newMaster(t), Options{})
			name := seal(t, k, "p1", "identity", "identity.given_name", "Amina")
			face := seal(t, k, "p1", "face", "face.photo", "jpeg")
			other := seal(t, k, "p2", "identity", "identity.given_name", "Bola")

			if err := k.Shred(ctx, "p1", "identity"); err != nil {
				t.Fatal(err)
			}
			if _, err := k.Open(ctx, "p1", "identity", "identity.given_name", name); !errors.Is(err, ErrShredded) {
				t.Errorf("shredded value: err = %v, want ErrShredded", err)
			}
			if _, err := k.Open(ctx, "p1", "face", "face.photo", face); err != nil {
				t.Errorf("other category of the person: %v", err)
			}
			if _, err := k.Open(ctx, "p2", "identity", "identity.given_name", other); err != nil {
				t.Errorf("other person: %v", err)
			}
			if err := k.Shred(ctx, "p1", "identity"); err != nil {
				t.Errorf("shredding twice: %v", err)
			}
			// Re-consent: a new key, and the old value still does not open.
			fresh := seal(t, k, "p1", "identity", "identity.given_name", "Amina")
			if _, err := k.Open(ctx, "p1", "identity", "identity.given_name", name); !errors.Is(err, ErrShredded) {
				t.Errorf("old value after a new key: err = %v, want ErrShredded", err)
			}
			if got, err := k.Open(ctx, "p1", "identity", "identity.given_name", fresh); err != nil || string(got) != "Amina" {
				t.Errorf("new value: %q, %v", got, err)
			}
			// A fresh keyring (cold cache) over the same store agrees.
			if st, ok := k.store.(*MemStore); ok {
				k2 := newKeyring(t, st, k.master, Options{})
				if _, err := k2.Open(ctx, "p1", "identity", "identity.given_name", name); !errors.Is(err, ErrShredded) {
					t.Errorf("cold keyring: err = %v, want ErrShredded", err)
				}
			}
		})
	}
}

func TestShredPerson(t *testing.T) {
	ctx := context.Background()
	store := &MemStore{}
	k := newKeyring(t, store, newMaster(t), Options{})
	cats := []string{"identity", "face", "fingerprint", "iris", "blood_type", "dna", "health"}
	vals := map[string][]byte{}
	for _, c := range cats {
		vals[c] = seal(t, k, "p1", c, "k", "secret "+c)
	}
	keep := seal(t, k, "p10", "identity", "k", "neighbour")
	sigBefore, err := k.SigningKey(ctx, "receipts")
	if err != nil {
		t.Fatal(err)
	}
	n, err := k.ShredPerson(ctx, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if n != len(cats) {
		t.Errorf("ShredPerson deleted %d keys, want %d", n, len(cats))
	}
	for c, v := range vals {
		if _, err := k.Open(ctx, "p1", c, "k", v); !errors.Is(err, ErrShredded) {
			t.Errorf("%s: err = %v, want ErrShredded", c, err)
		}
	}
	if _, err := k.Open(ctx, "p10", "identity", "k", keep); err != nil {
		t.Errorf("neighbour p10: %v", err)
	}
	if store.Len() != 4 { // p10 identity, blind, mac, signing/receipts
		t.Errorf("store holds %d keys, want 4", store.Len())
	}
	sigAfter, _ := k.SigningKey(ctx, "receipts")
	if !sigBefore.Equal(sigAfter) {
		t.Error("ShredPerson changed a signing key")
	}
}

// TestShredDefeatsRestoredBackup is the acceptance property of erasure: a
// copy of the data database taken before withdrawal, restored afterwards,
// cannot be read, and a copy of keys.db taken after the shred does not help.
func TestShredDefeatsRestoredBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	master, err := LoadOrCreateMasterKey(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	keys := newSQLiteStore(t, filepath.Join(dir, "keys.db"))
	k := newKeyring(t, keys, master, Options{})

	// A stand-in data database with sealed rows.
	dataPath := filepath.Join(dir, "assent.db")
	data, err := sql.Open("sqlite", dataPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := data.Exec("CREATE TABLE persons (id TEXT PRIMARY KEY, name BLOB, birth BLOB)"); err != nil {
		t.Fatal(err)
	}
	people := map[string][2]string{"p-amina": {"Amina Yusuf", "1990-04-01"}, "p-bola": {"Bola Ade", "1985-12-24"}}
	for id, f := range people {
		if _, err := data.Exec("INSERT INTO persons VALUES (?, ?, ?)", id,
			seal(t, k, id, "identity", "identity.name", f[0]), seal(t, k, id, "identity", "identity.birth_date", f[1])); err != nil {
			t.Fatal(err)
		}
	}
	data.Close()
	raw, _ := os.ReadFile(dataPath)
	if bytes.Contains(raw, []byte("Amina")) || bytes.Contains(raw, []byte("1990-04-01")) {
		t.Fatal("a registered name or birth date can be grepped in the data file")
	}
	backup := filepath.Join(dir, "backup.db")
	if err := os.WriteFile(backup, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	// Amina withdraws registration: the person is erased.
	if _, err := k.ShredPerson(ctx, "p-amina"); err != nil {
		t.Fatal(err)
	}
	keysAfter, _ := os.ReadFile(filepath.Join(dir, "keys.db"))

	// Restore the backup over the data and try to read everything, with the
	// live keyring and with a fresh process (master file + keys.db).
	if err := os.Rename(backup, dataPath); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "keys-after.db")
	if err := os.WriteFile(copyPath, keysAfter, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := newKeyring(t, newSQLiteStore(t, copyPath), master, Options{})
	data, err = sql.Open("sqlite", dataPath)
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	rows, err := data.Query("SELECT id, name, birth FROM persons")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var name, birth []byte
		if err := rows.Scan(&id, &name, &birth); err != nil {
			t.Fatal(err)
		}
		for _, kr := range []*Keyring{k, fresh} {
			got, err := kr.Open(ctx, id, "identity", "identity.name", name)
			if id == "p-amina" {
				if !errors.Is(err, ErrShredded) {
					t.Errorf("erased person readable from restored backup: %q, %v", got, err)
				}
				continue
			}
			if err != nil || string(got) != people[id][0] {
				t.Errorf("%s: %q, %v", id, got, err)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestKeyStoreBackupWouldResurrect documents why keys.db is never backed
// up: a copy of it taken before the shred, together with the master key,
// opens the erased values again. assent backup copies data, not keys.
func TestKeyStoreBackupWouldResurrect(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	master := newMaster(t)
	keysPath := filepath.Join(dir, "keys.db")
	k := newKeyring(t, newSQLiteStore(t, keysPath), master, Options{})
	v := seal(t, k, "p1", "identity", "identity.name", "Amina")
	before, _ := os.ReadFile(keysPath)
	if err := k.Shred(ctx, "p1", "identity"); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "keys-before.db")
	if err := os.WriteFile(copyPath, before, 0o600); err != nil {
		t.Fatal(err)
	}
	old := newKeyring(t, newSQLiteStore(t, copyPath), master, Options{})
	got, err := old.Open(ctx, "p1", "identity", "identity.name", v)
	if err != nil || string(got) != "Amina" {
		t.Fatalf("the premise of the rule changed: %q, %v", got, err)
	}
}

// TestShredLeavesNoKeyInKeyStoreFile: after Shred the raw keys.db bytes no
// longer hold the wrapped data key.
func TestShredLeavesNoKeyInKeyStoreFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := newSQLiteStore(t, filepath.Join(dir, "keys.db"))
	k := newKeyring(t, store, newMaster(t), Options{})
	for i := range 20 {
		seal(t, k, fmt.Sprintf("p%02d", i), "identity", "n", "x")
	}
	seal(t, k, "p07", "face", "n", "x")
	victims := map[Ref][]byte{}
	for _, ref := range []Ref{dataRef("p03", "identity"), dataRef("p07", "identity"), dataRef("p07", "face")} {
		wk, err := store.Get(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		victims[ref] = wk.Wrapped
		if len(dirContains(t, dir, wk.Wrapped)) == 0 {
			t.Fatal("wrapped key not visible in the file before shredding")
		}
	}
	if err := k.Shred(ctx, "p03", "identity"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.ShredPerson(ctx, "p07"); err != nil {
		t.Fatal(err)
	}
	for ref, w := range victims {
		if got := dirContains(t, dir, w); len(got) != 0 {
			t.Errorf("%v: %v still hold the wrapped key after shredding", ref, got)
		}
	}
}

func TestRotateMaster(t *testing.T) {
	ctx := context.Background()
	for storeName, factory := range storeFactories() {
		t.Run(storeName, func(t *testing.T) {
			store := factory(t)
			oldM, newM := newMaster(t), newMaster(t)
			k := newKeyring(t, store, oldM, Options{BlindIndexBytes: 32})
			var vals [][]byte
			for i := range 30 {
				vals = append(vals, seal(t, k, fmt.Sprintf("p%d", i), "identity", "n", fmt.Sprintf("name %d", i)))
			}
			sig, _ := k.SigningKey(ctx, "checkpoints")
			bi := k.BlindIndex("person.name_birth", "amina\x001990-04-01")
			mac := k.MAC("api-key", []byte("key-1"))

			if err := k.RotateMaster(ctx, newM); err != nil {
				t.Fatal(err)
			}
			if k.MasterID() != newM.ID() {
				t.Errorf("MasterID = %s, want %s", k.MasterID(), newM.ID())
			}
			check := func(name string, kr *Keyring) {
				t.Helper()
				for i, v := range vals {
					got, err := kr.Open(ctx, fmt.Sprintf("p%d", i), "identity", "n", v)
					if err != nil || string(got) != fmt.Sprintf("name %d", i) {
						t.Fatalf("%s: value %d after rotation: %q, %v", name, i, got, err)
					}
				}
				s2, err := kr.SigningKey(ctx, "checkpoints")
				if err != nil || !s2.Equal(sig) {
					t.Errorf("%s: signing key changed by rotation (%v)", name, err)
				}
				if !bytes.Equal(kr.BlindIndex("person.name_birth", "amina\x001990-04-01"), bi) {
					t.Errorf("%s: blind index changed by rotation", name)
				}
				if !kr.VerifyMAC("api-key", []byte("key-1"), mac) {
					t.Errorf("%s: API key MAC changed by rotation", name)
				}
			}
			check("live", k)
			check("restarted", newKeyring(t, store, newM, Options{BlindIndexBytes: 32}))

			// The old master no longer unwraps anything in the store.
			if _, err := NewKeyring(ctx, store, oldM, Options{}); !errors.Is(err, ErrWrongMaster) {
				t.Errorf("NewKeyring with the old master: err = %v, want ErrWrongMaster", err)
			}
			oldKEK, _ := kekFor(oldM)
			n := 0
			err := store.Rewrap(ctx, func(wk WrappedKey) (WrappedKey, error) {
				n++
				if wk.MasterID != newM.ID() {
					t.Errorf("%v still marked as wrapped by %s", wk.Ref, wk.MasterID)
				}
				if _, err := unwrapKey(oldKEK, wk); !errors.Is(err, ErrTampered) {
					t.Errorf("old master unwraps %v after rotation", wk.Ref)
				}
				return wk, nil
			})
			if err != nil || n != 33 {
				t.Errorf("walked %d keys (%v), want 33", n, err)
			}
			if err := k.RotateMaster(ctx, newM); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("rotating to the same key: err = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

// failingStore is a fake KeyStore whose calls can be made to fail.
type failingStore struct {
	KeyStore
	rewrap func(ctx context.Context, fn func(WrappedKey) (WrappedKey, error)) error
	get    func(ctx context.Context, ref Ref) (WrappedKey, error)
}

func (f *failingStore) Rewrap(ctx context.Context, fn func(WrappedKey) (WrappedKey, error)) error {
	if f.rewrap != nil {
		return f.rewrap(ctx, fn)
	}
	return f.KeyStore.Rewrap(ctx, fn)
}

func (f *failingStore) Get(ctx context.Context, ref Ref) (WrappedKey, error) {
	if f.get != nil {
		return f.get(ctx, ref)
	}
	return f.KeyStore.Get(ctx, ref)
}

func TestRotateMasterFailureKeepsOldMaster(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("disk full")
	fs := &failingStore{KeyStore: &MemStore{}}
	oldM := newMaster(t)
	k := newKeyring(t, fs, oldM, Options{CacheSize: -1})
	v := seal(t, k, "p1", "identity", "n", "Amina")
	fs.rewrap = func(context.Context, func(WrappedKey) (WrappedKey, error)) error { return boom }
	if err := k.RotateMaster(ctx, newMaster(t)); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the store's error", err)
	}
	if k.MasterID() != oldM.ID() {
		t.Error("a failed rotation switched master keys")
	}
	if got, err := k.Open(ctx, "p1", "identity", "n", v); err != nil || string(got) != "Amina" {
		t.Errorf("after failed rotation: %q, %v", got, err)
	}
}

func TestRotateMasterKeyFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	m, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	store := newSQLiteStore(t, filepath.Join(dir, "keys.db"))
	k := newKeyring(t, store, m, Options{})
	v := seal(t, k, "p1", "identity", "n", "Amina")
	next, err := RotateMasterKeyFile(ctx, k, path)
	if err != nil {
		t.Fatal(err)
	}
	reloaded, err := LoadOrCreateMasterKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if reloaded.ID() != next.ID() || next.ID() == m.ID() {
		t.Errorf("key file holds %s, want the new key %s (old %s)", reloaded.ID(), next.ID(), m.ID())
	}
	if _, err := os.Stat(path + NextKeySuffix); !errors.Is(err, os.ErrNotExist) {
		t.Errorf(".next file left behind: %v", err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("rotated key file mode %#o", st.Mode().Perm())
	}
	k2 := newKeyring(t, store, reloaded, Options{})
	if got, err := k2.Open(ctx, "p1", "identity", "n", v); err != nil || string(got) != "Amina" {
		t.Errorf("after rotation and restart: %q, %v", got, err)
	}
}

func TestWrongMaster(t *testing.T) {
	store := &MemStore{}
	newKeyring(t, store, newMaster(t), Options{})
	_, err := NewKeyring(context.Background(), store, newMaster(t), Options{})
	if !errors.Is(err, ErrWrongMaster) {
		t.Errorf("err = %v, want ErrWrongMaster", err)
	}
}

// TestWrappedKeysBoundToRef: swapping wrapped keys between rows of the key
// store (giving p2 p1's key) is detected.
func TestWrappedKeysBoundToRef(t *testing.T) {
	ctx := context.Background()
	store := &MemStore{}
	k := newKeyring(t, store, newMaster(t), Options{CacheSize: -1})
	seal(t, k, "p1", "identity", "n", "a")
	seal(t, k, "p2", "identity", "n", "b")
	w1, _ := store.Get(ctx, dataRef("p1", "identity"))
	store.Delete(ctx, dataRef("p2", "identity"))
	w1.Ref = dataRef("p2", "identity")
	store.Create(ctx, w1)
	if _, err := k.Seal(ctx, "p2", "identity", "n", []byte("c")); !errors.Is(err, ErrTampered) {
		t.Errorf("moved wrapped key: err = %v, want ErrTampered", err)
	}
}

func TestCacheBoundedAndEvictedByShred(t *testing.T) {
	ctx := context.Background()
	var gets atomic.Int64
	fs := &failingStore{KeyStore: &MemStore{}}
	fs.get = func(ctx context.Context, ref Ref) (WrappedKey, error) {
		gets.Add(1)
		return fs.KeyStore.Get(ctx, ref)
	}
	k := newKeyring(t, fs, newMaster(t), Options{CacheSize: 3})
	var vals [][]byte
	for i := range 10 {
		vals = append(vals, seal(t, k, fmt.Sprintf("p%d", i), "identity", "n", "x"))
	}
	if got := k.cache.len(); got != 3 {
		t.Errorf("cache holds %d keys, want 3", got)
	}
	gets.Store(0)
	for range 5 {
		if _, err := k.Open(ctx, "p9", "identity", "n", vals[9]); err != nil {
			t.Fatal(err)
		}
	}
	if gets.Load() != 0 {
		t.Errorf("cached key read from the store %d times", gets.Load())
	}
	if _, err := k.Open(ctx, "p0", "identity", "n", vals[0]); err != nil {
		t.Fatal(err)
	}
	if gets.Load() != 1 {
		t.Errorf("evicted key: %d store reads, want 1", gets.Load())
	}
	if err := k.Shred(ctx, "p9", "identity"); err != nil {
		t.Fatal(err)
	}
	if _, ok := k.cache.get(cacheKey{"p9", "identity"}); ok {
		t.Error("Shred left the key in the cache")
	}
	seal(t, k, "p8", "face", "n", "x")
	if _, err := k.ShredPerson(ctx, "p8"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"identity", "face"} {
		if _, ok := k.cache.get(cacheKey{"p8", c}); ok {
			t.Errorf("ShredPerson left (p8, %s) in the cache", c)
		}
	}
}

func TestKeyringNeverPrints(t *testing.T) {
	k := newKeyring(t, &MemStore{}, newMaster(t), Options{})
	secrets := [][]byte{k.master.key[:], k.blind, k.mac}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("kr", "k", k)
	outs := []string{buf.String(), fmt.Sprintf("%v %+v %#v %s %x", k, k, k, k, k), fmt.Sprint(struct{ K *Keyring }{k})}
	for _, out := range outs {
		for _, s := range secrets {
			for _, enc := range []string{fmt.Sprintf("%x", s), fmt.Sprint(s[:4]), string(s)} {
				if strings.Contains(out, enc) {
					t.Errorf("output %q contains key material", out)
				}
			}
		}
	}
}

func TestNewKeyringOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"zero", Options{}, nil},
		{"no cache", Options{CacheSize: -1}, nil},
		{"full index", Options{BlindIndexBytes: 32}, nil},
		{"index too long", Options{BlindIndexBytes: 33}, ErrInvalidArgument},
		{"index negative", Options{BlindIndexBytes: -1}, ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewKeyring(context.Background(), &MemStore{}, newMaster(t), tt.opts)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := NewKeyring(context.Background(), nil, newMaster(t), Options{}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil store: %v", err)
	}
}

// TestConcurrentSealOpenShred hammers one keyring from many goroutines
// (run with -race). Invariant: once Shred has returned, no value sealed
// before it opens, and every value sealed under a live key opens.
func TestConcurrentSealOpenShred(t *testing.T) {
	ctx := context.Background()
	for storeName, factory := range storeFactories() {
		t.Run(storeName, func(t *testing.T) {
			k := newKeyring(t, factory(t), newMaster(t), Options{CacheSize: 8})
			const persons, workers, rounds = 6, 8, 60
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					for r := range rounds {
						p := fmt.Sprintf("p%d", (w+r)%persons)
						cat := []string{"identity", "face"}[r%2]
						v, err := k.Seal(ctx, p, cat, "n", []byte("v"))
						if err != nil {
							t.Errorf("Seal: %v", err)
							return
						}
						got, err := k.Open(ctx, p, cat, "n", v)
						if err != nil && !errors.Is(err, ErrShredded) {
							t.Errorf("Open: %v", err) // only a concurrent shred may intervene
							return
						}
						if err == nil && string(got) != "v" {
							t.Errorf("Open = %q", got)
						}
						switch r % 7 {
						case 3:
							if err := k.Shred(ctx, p, cat); err != nil {
								t.Errorf("Shred: %v", err)
							}
							if _, err := k.Open(ctx, p, cat, "n", v); !errors.Is(err, ErrShredded) {
								t.Errorf("value opened after its Shred returned: %v", err)
							}
						case 5:
							if _, err := k.ShredPerson(ctx, p); err != nil {
								t.Errorf("ShredPerson: %v", err)
							}
							if _, err := k.Open(ctx, p, cat, "n", v); !errors.Is(err, ErrShredded) {
								t.Errorf("value opened after ShredPerson returned: %v", err)
							}
						case 6:
							k.BlindIndex("l", p)
							k.MAC("l", []byte(p))
							if _, err := k.SigningKey(ctx, "receipts"); err != nil {
								t.Errorf("SigningKey: %v", err)
							}
						}
					}
				})
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 3 {
					if err := k.RotateMaster(ctx, newMaster(t)); err != nil {
						t.Errorf("RotateMaster: %v", err)
					}
				}
			}()
			wg.Wait()
		})
	}
}

func TestFinishRotation(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		crash      string // where the rotation stops
		wantFixed  bool
		wantMaster string // "old" or "new"
	}{
		{"no rotation", "none", false, "old"},
		{"crash before rewrap", "before-rewrap", false, "old"},
		{"crash before rename", "before-rename", true, "new"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "master.key")
			oldM, err := LoadOrCreateMasterKey(path)
			if err != nil {
				t.Fatal(err)
			}
			store := newSQLiteStore(t, filepath.Join(dir, "keys.db"))
			k := newKeyring(t, store, oldM, Options{})
			v := seal(t, k, "p1", "identity", "n", "Amina")
			newM := newMaster(t)
			if tt.crash != "none" {
				tmp, err := writeTempKeyFile(dir, newM)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Rename(tmp, path+NextKeySuffix); err != nil {
					t.Fatal(err)
				}
			}
			if tt.crash == "before-rename" {
				if err := k.RotateMaster(ctx, newM); err != nil {
					t.Fatal(err)
				}
			}
			fixed, err := FinishRotation(ctx, store, path)
			if err != nil || fixed != tt.wantFixed {
				t.Fatalf("FinishRotation = %v, %v; want %v", fixed, err, tt.wantFixed)
			}
			if _, err := os.Stat(path + NextKeySuffix); !errors.Is(err, os.ErrNotExist) {
				t.Errorf(".next file left: %v", err)
			}
			m, err := LoadOrCreateMasterKey(path)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"old": oldM.ID(), "new": newM.ID()}[tt.wantMaster]
			if m.ID() != want {
				t.Fatalf("master file holds %s, want %s key %s", m.ID(), tt.wantMaster, want)
			}
			k2 := newKeyring(t, store, m, Options{})
			if got, err := k2.Open(ctx, "p1", "identity", "n", v); err != nil || string(got) != "Amina" {
				t.Errorf("after recovery: %q, %v", got, err)
			}
		})
	}
}
