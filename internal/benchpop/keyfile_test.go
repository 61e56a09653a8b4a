package benchpop

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/assent-registry/assent/internal/envelope"
)

// TestKeyFile: keys come back as created (short and long refs), a key
// deleted or of an owner deleted is gone, Rewrap replaces every key, and
// a file saved and opened again holds the same keys.
func TestKeyFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.gob")
	k, err := OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 6, 18, 0, 0, 0, time.UTC)
	person := "2d4e5f60-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
	keys := []envelope.WrappedKey{
		{Ref: envelope.Ref{Owner: person, Name: "fingerprint"}, Version: 7, MasterID: "m1", Wrapped: []byte{1, 2, 3}, Created: at},
		{Ref: envelope.Ref{Owner: person, Name: "iris"}, Version: 8, MasterID: "m1", Wrapped: []byte{4, 5}, Created: at},
		{Ref: envelope.Ref{Owner: "other", Name: "iris"}, Version: 9, MasterID: "m2", Wrapped: []byte{6}, Created: at.Add(time.Second)},
		{Ref: envelope.Ref{Name: "blind-secret"}, Version: 1, MasterID: "m1", Wrapped: []byte{7}},
		{Ref: envelope.Ref{Owner: strings.Repeat("o", 70), Name: "long"}, Version: 2, MasterID: "m1", Wrapped: []byte{8, 9}, Created: at},
	}
	for _, wk := range keys {
		if err := k.Create(ctx, wk); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Create(ctx, keys[0]); !errors.Is(err, envelope.ErrExists) {
		t.Errorf("a key created twice: %v", err)
	}
	get := func(k *KeyFile) map[envelope.Ref]envelope.WrappedKey {
		t.Helper()
		out := map[envelope.Ref]envelope.WrappedKey{}
		for _, wk := range keys {
			got, err := k.Get(ctx, wk.Ref)
			if errors.Is(err, envelope.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			out[wk.Ref] = got
		}
		return out
	}
	want := map[envelope.Ref]envelope.WrappedKey{}
	for _, wk := range keys {
		want[wk.Ref] = wk
	}
	if diff := cmp.Diff(want, get(k)); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if n, err := k.DeleteOwner(ctx, person); err != nil || n != 2 {
		t.Errorf("DeleteOwner: %d, %v", n, err)
	}
	if err := k.Delete(ctx, keys[4].Ref); err != nil {
		t.Fatal(err)
	}
	delete(want, keys[0].Ref)
	delete(want, keys[1].Ref)
	delete(want, keys[4].Ref)
	for i := range k.recs {
		if r := k.recs[i]; r.dead && strings.Trim(string(k.wrapped[r.off:r.off+int64(r.n)]), "\x00") != "" {
			t.Errorf("a deleted key's bytes are still held")
		}
	}
	if err := k.Rewrap(ctx, func(wk envelope.WrappedKey) (envelope.WrappedKey, error) {
		wk.MasterID, wk.Wrapped = "m3", append(wk.Wrapped, 0xff)
		return wk, nil
	}); err != nil {
		t.Fatal(err)
	}
	for r, wk := range want {
		wk.MasterID, wk.Wrapped = "m3", append(append([]byte(nil), wk.Wrapped...), 0xff)
		want[r] = wk
	}
	if diff := cmp.Diff(want, get(k)); diff != "" {
		t.Errorf("after Rewrap (-want +got):\n%s", diff)
	}
	if err := k.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, get(again)); diff != "" {
		t.Errorf("saved and opened again (-want +got):\n%s", diff)
	}
	if again.Len() != len(want) {
		t.Errorf("Len %d, want %d", again.Len(), len(want))
	}
}
