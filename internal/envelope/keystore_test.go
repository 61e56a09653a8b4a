package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// storeFactories lists every KeyStore implementation; each must pass
// testKeyStore.
func storeFactories() map[string]func(t *testing.T) KeyStore {
	return map[string]func(t *testing.T) KeyStore{
		"memory":   func(t *testing.T) KeyStore { return &MemStore{} },
		"sqlite":   func(t *testing.T) KeyStore { return newSQLiteStore(t, filepath.Join(t.TempDir(), "keys.db")) },
		"postgres": func(t *testing.T) KeyStore { return newPostgresStore(t) },
	}
}

func newSQLiteStore(t *testing.T, path string) *SQLiteStore {
	t.Helper()
	s, err := OpenSQLiteStore(context.Background(), path)
	if err != nil {
		t.Fatalf("OpenSQLiteStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestKeyStoreConformance(t *testing.T) {
	for name, factory := range storeFactories() {
		t.Run(name, func(t *testing.T) { testKeyStore(t, factory) })
	}
}

func wk(owner, name string, version uint32, wrapped string) WrappedKey {
	return WrappedKey{
		Ref:      Ref{Owner: owner, Name: name},
		Version:  version,
		MasterID: "0123456789abcdef",
		Wrapped:  []byte(wrapped),
		Created:  time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC),
	}
}

// testKeyStore is the conformance suite every KeyStore passes.
func testKeyStore(t *testing.T, newStore func(t *testing.T) KeyStore) {
	ctx := context.Background()
	t.Run("get missing", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, Ref{"p1", "data/identity"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("err = %v, want ErrNotFound", err)
		}
	})
	t.Run("create get", func(t *testing.T) {
		s := newStore(t)
		want := wk("p1", "data/identity", 7, "wrapped-1")
		if err := s.Create(ctx, want); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, want.Ref)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get (-want +got):\n%s", diff)
		}
		got.Wrapped[0] = 'X'
		again, _ := s.Get(ctx, want.Ref)
		if !bytes.Equal(again.Wrapped, want.Wrapped) {
			t.Error("modifying a returned key changed the stored key")
		}
	})
	t.Run("create existing keeps first", func(t *testing.T) {
		s := newStore(t)
		first := wk("p1", "data/face", 1, "first")
		if err := s.Create(ctx, first); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, wk("p1", "data/face", 2, "second")); !errors.Is(err, ErrExists) {
			t.Fatalf("err = %v, want ErrExists", err)
		}
		got, _ := s.Get(ctx, first.Ref)
		if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("stored key changed (-want +got):\n%s", diff)
		}
	})
	t.Run("system owner is separate", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []WrappedKey{wk("", "secret/mac", 1, "a"), wk("p1", "secret/mac", 1, "b")} {
			if err := s.Create(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s.Get(ctx, Ref{"", "secret/mac"})
		if string(got.Wrapped) != "a" {
			t.Errorf("got %q, want a", got.Wrapped)
		}
	})
	t.Run("delete", func(t *testing.T) {
		s := newStore(t)
		k := wk("p1", "data/iris", 3, "w")
		if err := s.Create(ctx, k); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, k.Ref); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, k.Ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("after Delete err = %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, k.Ref); err != nil {
			t.Errorf("deleting a missing key: %v", err)
		}
		if err := s.Create(ctx, wk("p1", "data/iris", 4, "w2")); err != nil {
			t.Errorf("re-creating after Delete: %v", err)
		}
	})
	t.Run("delete owner", func(t *testing.T) {
		s := newStore(t)
		keys := []WrappedKey{
			wk("p1", "data/identity", 1, "a"), wk("p1", "data/face", 1, "b"),
			wk("p2", "data/identity", 1, "c"), wk("", "secret/mac", 1, "d"),
			wk("p10", "data/identity", 1, "e"),
		}
		for _, k := range keys {
			if err := s.Create(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		n, err := s.DeleteOwner(ctx, "p1")
		if err != nil || n != 2 {
			t.Fatalf("DeleteOwner = %d, %v; want 2, nil", n, err)
		}
		for _, k := range keys {
			_, err := s.Get(ctx, k.Ref)
			if gone := errors.Is(err, ErrNotFound); gone != (k.Ref.Owner == "p1") {
				t.Errorf("%v: gone = %v", k.Ref, gone)
			}
		}
		if _, err := s.DeleteOwner(ctx, ""); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("DeleteOwner(\"\") err = %v, want ErrInvalidArgument", err)
		}
	})
	t.Run("rewrap all", func(t *testing.T) {
		s := newStore(t)
		var want []WrappedKey
		for i := range 1200 { // more than one SQLite batch
			k := wk(fmt.Sprintf("p%04d", i), "data/identity", uint32(i+1), fmt.Sprintf("w%d", i))
			if err := s.Create(ctx, k); err != nil {
				t.Fatal(err)
			}
			k.Wrapped = []byte(fmt.Sprintf("W%d", i))
			k.MasterID = "fedcba9876543210"
			want = append(want, k)
		}
		seen := 0
		err := s.Rewrap(ctx, func(k WrappedKey) (WrappedKey, error) {
			seen++
			k.Wrapped = []byte("W" + strings.TrimPrefix(string(k.Wrapped), "w"))
			k.MasterID = "fedcba9876543210"
			return k, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if seen != len(want) {
			t.Errorf("fn called %d times, want %d", seen, len(want))
		}
		for _, k := range want {
			got, err := s.Get(ctx, k.Ref)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(k, got); diff != "" {
				t.Fatalf("after Rewrap (-want +got):\n%s", diff)
			}
		}
	})
	t.Run("rewrap failure changes nothing", func(t *testing.T) {
		s := newStore(t)
		for i := range 700 {
			if err := s.Create(ctx, wk(fmt.Sprintf("p%04d", i), "data/face", 1, "old")); err != nil {
				t.Fatal(err)
			}
		}
		boom := errors.New("boom")
		calls := 0
		err := s.Rewrap(ctx, func(k WrappedKey) (WrappedKey, error) {
			calls++
			if calls == 600 {
				return k, boom
			}
			k.Wrapped = []byte("new")
			return k, nil
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v, want boom", err)
		}
		for i := range 700 {
			got, _ := s.Get(ctx, Ref{fmt.Sprintf("p%04d", i), "data/face"})
			if string(got.Wrapped) != "old" {
				t.Fatalf("key %d = %q after a failed Rewrap, want old", i, got.Wrapped)
			}
		}
	})
	t.Run("rewrap refuses ref change", func(t *testing.T) {
		s := newStore(t)
		if err := s.Create(ctx, wk("p1", "data/face", 1, "old")); err != nil {
			t.Fatal(err)
		}
		err := s.Rewrap(ctx, func(k WrappedKey) (WrappedKey, error) {
			k.Ref.Owner = "p2"
			return k, nil
		})
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("err = %v, want ErrInvalidArgument", err)
		}
	})
	t.Run("concurrent create one winner", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for i := range 16 {
			wg.Go(func() {
				err := s.Create(ctx, wk("p1", "data/dna", uint32(i+1), fmt.Sprint(i)))
				if err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				} else if !errors.Is(err, ErrExists) {
					t.Errorf("Create: %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("%d creators won, want 1", wins)
		}
	})
}

// dirContains reports which files in dir contain needle.
func dirContains(t *testing.T, dir string, needle []byte) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, needle) {
			found = append(found, e.Name())
		}
	}
	return found
}

// TestSQLiteStoreDeleteLeavesNoBytes proves secure_delete and the rollback
// journal: once Delete or DeleteOwner returns, no file in the store's
// directory holds the wrapped key, while the database is open and after.
func TestSQLiteStoreDeleteLeavesNoBytes(t *testing.T) {
	ctx := context.Background()
	for _, how := range []string{"Delete", "DeleteOwner"} {
		t.Run(how, func(t *testing.T) {
			dir := t.TempDir()
			s := newSQLiteStore(t, filepath.Join(dir, "keys.db"))
			// Distinctive wrapped bytes, plus neighbours that stay.
			victim := wk("victim", "data/identity", 1, "VICTIM-WRAPPED-KEY-"+strings.Repeat("v", 40))
			for i := range 50 {
				if err := s.Create(ctx, wk(fmt.Sprintf("other%02d", i), "data/identity", 1, fmt.Sprintf("OTHER-%02d-%s", i, strings.Repeat("o", 40)))); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Create(ctx, victim); err != nil {
				t.Fatal(err)
			}
			if got := dirContains(t, dir, victim.Wrapped); len(got) == 0 {
				t.Fatal("the wrapped key is not in any file before deletion; the test cannot see anything")
			}
			switch how {
			case "Delete":
				if err := s.Delete(ctx, victim.Ref); err != nil {
					t.Fatal(err)
				}
			case "DeleteOwner":
				if _, err := s.DeleteOwner(ctx, victim.Ref.Owner); err != nil {
					t.Fatal(err)
				}
			}
			if got := dirContains(t, dir, victim.Wrapped); len(got) != 0 {
				t.Errorf("after %s, %v still contain the wrapped key (database open)", how, got)
			}
			if got := dirContains(t, dir, []byte("victim")); len(got) != 0 {
				t.Errorf("after %s, %v still contain the owner id", how, got)
			}
			if got := dirContains(t, dir, []byte("OTHER-07-")); len(got) == 0 {
				t.Error("a neighbouring key vanished from the file")
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := dirContains(t, dir, victim.Wrapped); len(got) != 0 {
				t.Errorf("after %s and Close, %v still contain the wrapped key", how, got)
			}
		})
	}
}

func TestSQLiteStoreFileModeAndJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.db")
	s := newSQLiteStore(t, path)
	if err := s.Create(context.Background(), wk("p", "data/face", 1, "x")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Mode().Perm(); got != 0o600 {
		t.Errorf("keys.db mode = %#o, want 0600", got)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"keys.db"}, names); diff != "" {
		t.Errorf("files after a committed write (-want +got):\n%s", diff)
	}
}

func TestSQLiteStoreRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	s := newSQLiteStore(t, path)
	if _, err := s.db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := OpenSQLiteStore(context.Background(), path); err == nil {
		t.Error("opened a key store with a newer schema")
	}
}

func TestSQLiteStoreReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.db")
	s := newSQLiteStore(t, path)
	want := wk("p1", "data/identity", 9, "persisted")
	if err := s.Create(ctx, want); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2 := newSQLiteStore(t, path)
	got, err := s2.Get(ctx, want.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestOpenSQLiteStoreRejectsURIPaths(t *testing.T) {
	for _, p := range []string{"", ":memory:", "keys.db?mode=memory", "a#b"} {
		t.Run(p, func(t *testing.T) {
			if _, err := OpenSQLiteStore(context.Background(), p); !errors.Is(err, ErrInvalidArgument) {
				t.Errorf("err = %v, want ErrInvalidArgument", err)
			}
		})
	}
}
