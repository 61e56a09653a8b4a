package dedup

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/assent-registry/assent/internal/benchpop/synth"
	"github.com/assent-registry/assent/internal/biometric/iris"
	"github.com/assent-registry/assent/internal/gallery"
)

type marshaler interface{ MarshalBinary() ([]byte, error) }

func raw(t testing.TB, m marshaler) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestLocal: a mate finds its owner (and never the excluded person); a
// removed person or reference is no longer a candidate.
func TestLocal(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	l := NewLocal()
	fingers := make([]synth.Finger, 20)
	for i := range fingers {
		fingers[i] = synth.NewFinger(rng)
		if err := l.Add(ctx, Fingerprint, fmt.Sprintf("p%d", i), fmt.Sprintf("f%d", i), raw(t, fingers[i].Template())); err != nil {
			t.Fatal(err)
		}
	}
	eyes := iris.NewSynth(iris.DefaultRows, iris.DefaultCols)
	field := eyes.Field(rng)
	if err := l.Add(ctx, Iris, "p3", "e3", raw(t, eyes.Template(field, rng))); err != nil {
		t.Fatal(err)
	}
	if got := l.Sizes(); got[Fingerprint] != 20 || got[Iris] != 1 {
		t.Fatalf("sizes %v", got)
	}
	search := func(modality string, probe []byte, exclude string) []string {
		t.Helper()
		c, complete, err := l.Search(ctx, modality, probe, exclude)
		if err != nil || !complete {
			t.Fatalf("search: %v, complete %v", err, complete)
		}
		return c
	}
	mate7 := raw(t, fingers[7].Mate(rng))
	if got := search(Fingerprint, mate7, "new"); !slices.Equal(got, []string{"p7"}) {
		t.Errorf("mate of p7 found %v", got)
	}
	if got := search(Fingerprint, mate7, "p7"); len(got) != 0 {
		t.Errorf("excluded person found: %v", got)
	}
	if got := search(Iris, raw(t, eyes.Mate(field, rng)), ""); !slices.Equal(got, []string{"p3"}) {
		t.Errorf("iris mate of p3 found %v", got)
	}
	if err := l.Remove(ctx, "p7", ""); err != nil {
		t.Fatal(err)
	}
	if got := search(Fingerprint, mate7, ""); len(got) != 0 {
		t.Errorf("removed person found: %v", got)
	}
	if err := l.Remove(ctx, "p3", "f3"); err != nil { // one reference: the iris stays
		t.Fatal(err)
	}
	if got := l.Sizes(); got[Fingerprint] != 18 || got[Iris] != 1 {
		t.Errorf("after removals: %v", got)
	}
	if _, _, err := l.Search(ctx, "face", mate7, ""); !errors.Is(err, ErrModality) {
		t.Errorf("face search: %v", err)
	}
	if err := l.Add(ctx, Fingerprint, "p", "bad", []byte("not a template")); err == nil {
		t.Errorf("a malformed template was added")
	}
}

type fakeSource struct {
	pages []Page
	open  func(e Entry) ([]byte, error)
}

func (s fakeSource) Pages(_ context.Context, modalities []string, fn func(Page) error) error {
	for _, p := range s.pages {
		if slices.Contains(modalities, p.Modality) {
			if err := fn(p); err != nil {
				return err
			}
		}
	}
	return nil
}
func (s fakeSource) Open(_ context.Context, _ string, e Entry) ([]byte, error) { return s.open(e) }

// TestLoad: only the entries the source keeps are opened and added; an
// entry that does not open fails the load, naming its reference.
func TestLoad(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	tmpl := map[string][]byte{}
	var pages []Page
	for p := range 3 {
		pg := Page{Modality: Fingerprint}
		for i := range 4 {
			ref := fmt.Sprintf("r%d-%d", p, i)
			tmpl[ref] = raw(t, synth.NewFinger(rng).Template())
			pg.Entries = append(pg.Entries, Entry{PersonID: fmt.Sprintf("p%d", i), Ref: ref})
			pg.Keep = append(pg.Keep, i != 3)
		}
		pages = append(pages, pg)
	}
	l := NewLocal()
	var progress []int
	st, err := l.Load(ctx, fakeSource{pages: pages, open: func(e Entry) ([]byte, error) {
		if e.PersonID == "p3" {
			t.Errorf("opened %s, which the source does not keep", e.Ref)
		}
		return tmpl[e.Ref], nil
	}}, func(done int) { progress = append(progress, done) })
	if err != nil {
		t.Fatal(err)
	}
	if st.Templates[Fingerprint] != 9 || st.Skipped != 3 || st.Persons != 3 || l.Sizes()[Fingerprint] != 9 {
		t.Fatalf("stats %+v, sizes %v", st, l.Sizes())
	}
	if !slices.Equal(progress[:3], []int{4, 8, 12}) {
		t.Errorf("progress %v", progress)
	}
	_, err = NewLocal().Load(ctx, fakeSource{pages: pages, open: func(Entry) ([]byte, error) { return []byte("garbage"), nil }}, nil)
	if err == nil {
		t.Fatal("a load of malformed templates succeeded")
	}
}

func TestMinEvidence(t *testing.T) {
	for _, tc := range []struct {
		n    int
		want float64
	}{{0, 4}, {100, 4}, {1_000_000, 8}} {
		if got := MinEvidence(tc.n); got != tc.want {
			t.Errorf("MinEvidence(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

// TestLocalIDs: UUIDs (held as 16 bytes) and other strings (numbered) come
// back from a search exactly as given, and removal finds them.
func TestLocalIDs(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(9, 10))
	l := NewLocal()
	persons := []string{"0b7c9a51-3c7e-4a55-9a43-3f1e0c2d5b10", "0B7C9A51-3C7E-4A55-9A43-3F1E0C2D5B10", "someone"}
	refs := []string{"6f1d1b0a-8e7f-4c2b-b7a5-1f0e2d3c4b5a", "ref-2", "0b7c9a51-3c7e-4a55-9a43-3f1e0c2d5b10"}
	fingers := make([]synth.Finger, len(persons))
	for i := range persons {
		fingers[i] = synth.NewFinger(rng)
		if err := l.Add(ctx, Fingerprint, persons[i], refs[i], raw(t, fingers[i].Template())); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range persons {
		got, _, err := l.Search(ctx, Fingerprint, raw(t, fingers[i].Mate(rng)), "")
		if err != nil || !slices.Equal(got, []string{p}) {
			t.Errorf("mate of %s: %v %v", p, got, err)
		}
	}
	for _, p := range persons {
		if err := l.Remove(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Sizes()[Fingerprint]; n != 0 {
		t.Errorf("%d templates left after removing everyone", n)
	}
	if l.owner.len() != 0 || l.refs.len() != 0 || len(l.moreRefs) != 0 || len(l.names.byText) != 0 || len(l.names.texts) != 0 {
		t.Errorf("bookkeeping left: %d owners, %d persons, %d names", l.owner.len(), l.refs.len(), len(l.names.byText))
	}
}

// TestLocalManyReferences: a person holding more references than are kept
// inline (inlineRefs) is found by each, loses exactly the one removed,
// and leaves nothing behind once removed.
func TestLocalManyReferences(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	l := NewLocal()
	const person = "2d4e5f60-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
	fingers := make([]synth.Finger, inlineRefs+3)
	refs := make([]string, len(fingers))
	for i := range fingers {
		fingers[i] = synth.NewFinger(rng)
		refs[i] = fmt.Sprintf("ref-%d", i)
		if err := l.Add(ctx, Fingerprint, person, refs[i], raw(t, fingers[i].Template())); err != nil {
			t.Fatal(err)
		}
	}
	removed := inlineRefs + 1 // one held beyond the inline ones
	if err := l.Remove(ctx, person, refs[removed]); err != nil {
		t.Fatal(err)
	}
	for i := range fingers {
		got, _, err := l.Search(ctx, Fingerprint, raw(t, fingers[i].Mate(rng)), "")
		if err != nil {
			t.Fatal(err)
		}
		want := []string{person}
		if i == removed {
			want = nil
		}
		if !slices.Equal(got, want) {
			t.Errorf("mate of %s: %v, want %v", refs[i], got, want)
		}
	}
	l.mu.RLock()
	held := l.refsOf(nil, l.names.ident(person))
	l.mu.RUnlock()
	if len(held) != len(fingers)-1 {
		t.Errorf("%d references held, want %d", len(held), len(fingers)-1)
	}
	if err := l.Remove(ctx, person, ""); err != nil {
		t.Fatal(err)
	}
	if n := l.Sizes()[Fingerprint]; n != 0 || l.refs.len() != 0 || len(l.moreRefs) != 0 || l.owner.len() != 0 {
		t.Errorf("left after removing the person: %d templates, %d persons, %d overflows, %d owners", n, l.refs.len(), len(l.moreRefs), l.owner.len())
	}
}

// TestBookkeepingHoldsNoPointers: the maps kept per reference and per
// person hold no pointer, so a garbage collection does not visit their
// millions of entries (docs/galleries.md, "Seventh round").
func TestBookkeepingHoldsNoPointers(t *testing.T) {
	l := NewLocal()
	for name, s := range map[string]reflect.Type{"owner": reflect.TypeOf(l.owner.slots), "refs": reflect.TypeOf(l.refs.slots)} {
		if gallery.HoldsPointers(s.Elem()) {
			t.Errorf("%s (%v) holds pointers", name, s)
		}
	}
}
