package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// storeFactories lists the KeyStore implementations of this package (the
// keyring tests run over each; keystoretest checks them all).
func storeFactories() map[string]func(t *testing.T) KeyStore {
	return map[string]func(t *testing.T) KeyStore{
		"memory": func(t *testing.T) KeyStore { return &MemStore{} },
		"sqlite": func(t *testing.T) KeyStore { return newSQLiteStore(t, filepath.Join(t.TempDir(), "keys.db")) },
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

func wk(owner, name string, version uint32, wrapped string) WrappedKey {
	return WrappedKey{
		Ref:      Ref{Owner: owner, Name: name},
		Version:  version,
		MasterID: "0123456789abcdef",
		Wrapped:  []byte(wrapped),
		Created:  time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC),
	}
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

func TestSQLiteStoreImport(t *testing.T) {
	ctx := context.Background()
	s := newSQLiteStore(t, filepath.Join(t.TempDir(), "keys.db"))
	first := wk("p1", "data/iris", 1, "first")
	if err := s.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	other := wk("p2", "data/iris", 2, "other")
	if err := s.Import(ctx, []WrappedKey{wk("p1", "data/iris", 3, "second"), other}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []WrappedKey{first, other} {
		got, err := s.Get(ctx, want.Ref)
		if err != nil || string(got.Wrapped) != string(want.Wrapped) || got.Version != want.Version {
			t.Errorf("Get(%v) = %+v, %v; want %+v", want.Ref, got, err, want)
		}
	}
}
