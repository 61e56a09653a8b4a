// Package keystoretest is the conformance suite every envelope.KeyStore
// passes: the SQLite file store, the PostgreSQL store and the in-memory one.
package keystoretest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-registry/assent/internal/envelope"
	"github.com/google/go-cmp/cmp"
)

func wk(owner, name string, version uint32, wrapped string) envelope.WrappedKey {
	return envelope.WrappedKey{
		Ref:      envelope.Ref{Owner: owner, Name: name},
		Version:  version,
		MasterID: "0123456789abcdef",
		Wrapped:  []byte(wrapped),
		Created:  time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC),
	}
}

// testKeyStore is the conformance suite every envelope.KeyStore passes.
func Run(t *testing.T, newStore func(t *testing.T) envelope.KeyStore) {
	ctx := context.Background()
	t.Run("get missing", func(t *testing.T) {
		s := newStore(t)
		if _, err := s.Get(ctx, envelope.Ref{Owner: "p1", Name: "data/identity"}); !errors.Is(err, envelope.ErrNotFound) {
			t.Errorf("err = %v, want envelope.ErrNotFound", err)
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
		if err := s.Create(ctx, wk("p1", "data/face", 2, "second")); !errors.Is(err, envelope.ErrExists) {
			t.Fatalf("err = %v, want envelope.ErrExists", err)
		}
		got, _ := s.Get(ctx, first.Ref)
		if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("stored key changed (-want +got):\n%s", diff)
		}
	})
	t.Run("system owner is separate", func(t *testing.T) {
		s := newStore(t)
		for _, k := range []envelope.WrappedKey{wk("", "secret/mac", 1, "a"), wk("p1", "secret/mac", 1, "b")} {
			if err := s.Create(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		got, _ := s.Get(ctx, envelope.Ref{Owner: "", Name: "secret/mac"})
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
		if _, err := s.Get(ctx, k.Ref); !errors.Is(err, envelope.ErrNotFound) {
			t.Errorf("after Delete err = %v, want envelope.ErrNotFound", err)
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
		keys := []envelope.WrappedKey{
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
			if gone := errors.Is(err, envelope.ErrNotFound); gone != (k.Ref.Owner == "p1") {
				t.Errorf("%v: gone = %v", k.Ref, gone)
			}
		}
		if _, err := s.DeleteOwner(ctx, ""); !errors.Is(err, envelope.ErrInvalidArgument) {
			t.Errorf("DeleteOwner(\"\") err = %v, want envelope.ErrInvalidArgument", err)
		}
	})
	t.Run("rewrap all", func(t *testing.T) {
		s := newStore(t)
		var want []envelope.WrappedKey
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
		err := s.Rewrap(ctx, func(k envelope.WrappedKey) (envelope.WrappedKey, error) {
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
		err := s.Rewrap(ctx, func(k envelope.WrappedKey) (envelope.WrappedKey, error) {
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
			got, _ := s.Get(ctx, envelope.Ref{Owner: fmt.Sprintf("p%04d", i), Name: "data/face"})
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
		err := s.Rewrap(ctx, func(k envelope.WrappedKey) (envelope.WrappedKey, error) {
			k.Ref.Owner = "p2"
			return k, nil
		})
		if !errors.Is(err, envelope.ErrInvalidArgument) {
			t.Errorf("err = %v, want envelope.ErrInvalidArgument", err)
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
				} else if !errors.Is(err, envelope.ErrExists) {
					t.Errorf("Create: %v", err)
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("%d creators won, want 1", wins)
		}
	})
	t.Run("get many", func(t *testing.T) {
		s := newStore(t)
		b, ok := s.(envelope.BatchGetter)
		if !ok {
			t.Skip("the store reads keys one at a time")
		}
		if got, err := b.GetMany(ctx, nil); err != nil || len(got) != 0 {
			t.Errorf("GetMany(nil) = %v, %v", got, err)
		}
		var want []envelope.WrappedKey
		for i := range 5 {
			k := wk(fmt.Sprintf("p%d", i), "data/fingerprint", uint32(i+1), fmt.Sprint("w", i))
			want = append(want, k)
			if err := s.Create(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Create(ctx, wk("p1", "data/iris", 9, "other")); err != nil {
			t.Fatal(err)
		}
		refs := []envelope.Ref{want[3].Ref, {Owner: "p9", Name: "data/fingerprint"}, want[0].Ref, want[3].Ref, want[1].Ref, {Owner: "p2", Name: "data/iris"}}
		got, err := b.GetMany(ctx, refs)
		if err != nil {
			t.Fatal(err)
		}
		sortRefs := func(ks []envelope.WrappedKey) {
			slices.SortFunc(ks, func(a, b envelope.WrappedKey) int {
				return strings.Compare(a.Ref.Owner+"/"+a.Ref.Name, b.Ref.Owner+"/"+b.Ref.Name)
			})
		}
		sortRefs(got)
		if diff := cmp.Diff([]envelope.WrappedKey{want[0], want[1], want[3]}, got); diff != "" {
			t.Errorf("GetMany (-want +got):\n%s", diff)
		}
		got[0].Wrapped[0] = 'X'
		again, _ := s.Get(ctx, want[0].Ref)
		if !bytes.Equal(again.Wrapped, want[0].Wrapped) {
			t.Error("modifying a returned key changed the stored key")
		}
		if err := s.Delete(ctx, want[1].Ref); err != nil {
			t.Fatal(err)
		}
		got, err = b.GetMany(ctx, []envelope.Ref{want[1].Ref})
		if err != nil || len(got) != 0 {
			t.Errorf("GetMany of a deleted key = %v, %v", got, err)
		}
	})
}
