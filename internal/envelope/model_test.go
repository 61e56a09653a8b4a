package envelope

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// TestKeyringModel runs random sequences of Seal, Open, Shred, ShredPerson,
// RotateMaster and restarts against a simple model: a value opens exactly
// when the key generation it was sealed under is still the current one.
func TestKeyringModel(t *testing.T) {
	persons := []string{"p1", "p2", "p3"}
	cats := []string{"identity", "face", "health"}
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		store := &MemStore{}
		master := mustMaster(t)
		cacheSize := rapid.SampledFrom([]int{-1, 1, 4096}).Draw(rt, "cache")
		k, err := NewKeyring(ctx, store, master, Options{CacheSize: cacheSize})
		if err != nil {
			rt.Fatal(err)
		}
		type sealedValue struct {
			person, cat string
			gen         int
			value       []byte
			plaintext   string
		}
		gen := map[cacheKey]int{} // current generation; 0 means no key
		next := 1                 // next generation number
		var values []sealedValue
		rt.Repeat(map[string]func(*rapid.T){
			"seal": func(rt *rapid.T) {
				p := rapid.SampledFrom(persons).Draw(rt, "person")
				c := rapid.SampledFrom(cats).Draw(rt, "cat")
				pt := rapid.StringN(0, 20, -1).Draw(rt, "plaintext")
				v, err := k.Seal(ctx, p, c, "kind", []byte(pt))
				if err != nil {
					rt.Fatalf("Seal: %v", err)
				}
				ck := cacheKey{p, c}
				if gen[ck] == 0 {
					gen[ck] = next
					next++
				}
				values = append(values, sealedValue{p, c, gen[ck], v, pt})
			},
			"open": func(rt *rapid.T) {
				if len(values) == 0 {
					rt.Skip("nothing sealed")
				}
				sv := values[rapid.IntRange(0, len(values)-1).Draw(rt, "i")]
				got, err := k.Open(ctx, sv.person, sv.cat, "kind", sv.value)
				if gen[cacheKey{sv.person, sv.cat}] == sv.gen {
					if err != nil || string(got) != sv.plaintext {
						rt.Fatalf("live value: %q, %v; want %q", got, err, sv.plaintext)
					}
				} else if !errors.Is(err, ErrShredded) {
					rt.Fatalf("shredded value: %q, %v; want ErrShredded", got, err)
				}
			},
			"shred": func(rt *rapid.T) {
				p := rapid.SampledFrom(persons).Draw(rt, "person")
				c := rapid.SampledFrom(cats).Draw(rt, "cat")
				if err := k.Shred(ctx, p, c); err != nil {
					rt.Fatalf("Shred: %v", err)
				}
				delete(gen, cacheKey{p, c})
			},
			"shred person": func(rt *rapid.T) {
				p := rapid.SampledFrom(persons).Draw(rt, "person")
				n, err := k.ShredPerson(ctx, p)
				if err != nil {
					rt.Fatalf("ShredPerson: %v", err)
				}
				want := 0
				for ck := range gen {
					if ck.person == p {
						delete(gen, ck)
						want++
					}
				}
				if n != want {
					rt.Fatalf("ShredPerson deleted %d keys, model has %d", n, want)
				}
			},
			"rotate": func(rt *rapid.T) {
				m := mustMaster(t)
				if err := k.RotateMaster(ctx, m); err != nil {
					rt.Fatalf("RotateMaster: %v", err)
				}
				master = m
			},
			"restart": func(rt *rapid.T) {
				var err error
				if k, err = NewKeyring(ctx, store, master, Options{CacheSize: cacheSize}); err != nil {
					rt.Fatalf("NewKeyring: %v", err)
				}
			},
			"": func(rt *rapid.T) {
				if want := len(gen) + 2; store.Len() != want {
					rt.Fatalf("store holds %d keys, model %d (+2 secrets): %s", store.Len(), want, fmt.Sprint(gen))
				}
			},
		})
	})
}
