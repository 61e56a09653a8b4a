package iris

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/assent-registry/assent/internal/gallery"
)

// TestFormsMakeTheSameGallery: a gallery filled with another's forms
// answers every search as that one does, and takes adds and removes.
func TestFormsMakeTheSameGallery(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	src := NewGallery(GalleryOptions{})
	var ts []*Template
	for i := range 300 {
		tp := randomTemplate(r)
		ts = append(ts, tp)
		if err := src.Add(fmt.Sprint("e", i), tp); err != nil {
			t.Fatal(err)
		}
	}
	src.Remove("e7") // a removal moves the last entry
	dst := NewGallery(GalleryOptions{})
	if dst.FormVersion() != src.FormVersion() {
		t.Fatal("versions differ")
	}
	dst.Grow(src.Len())
	var keys []string
	var forms [][]byte
	for _, key := range src.keys {
		k := src.names.Text(key)
		f, ok := src.AppendForm(nil, k)
		if !ok || len(f) != src.FormBytes() {
			t.Fatalf("form of %s: %v, %d bytes", k, ok, len(f))
		}
		keys, forms = append(keys, k), append(forms, f)
	}
	if err := dst.AddForms(keys[:100], forms[:100]); err != nil {
		t.Fatal(err)
	}
	if err := dst.AddForms(keys[100:], forms[100:]); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dst.head, src.head) || !slices.Equal(dst.tail, src.tail) || !slices.Equal(dst.keys, src.keys) || !slices.Equal(dst.q, src.q) {
		t.Fatal("the arrays differ")
	}
	ctx := context.Background()
	for _, p := range []*Template{ts[0], ts[299], randomTemplate(r)} {
		for _, opt := range []SearchOptions{{}, {Coarse: true}} {
			want, err1 := src.Search(ctx, p, 0.45, opt)
			got, err2 := dst.Search(ctx, p, 0.45, opt)
			if err1 != nil || err2 != nil {
				t.Fatal(err1, err2)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("search differs: %s", d)
			}
		}
	}
	if err := dst.AddForms([]string{"e1"}, forms[:1]); !errors.Is(err, ErrForm) {
		t.Errorf("a key held: %v", err)
	}
	// A batch refused adds nothing and keeps the entries held in place.
	n, at := dst.Len(), dst.index[dst.names.Key("e8")]
	if err := dst.AddForms([]string{"new1", "e8", "new2"}, forms[:3]); !errors.Is(err, ErrForm) {
		t.Errorf("a batch with a key held: %v", err)
	}
	if err := dst.AddForms([]string{"new3", "new4", "new3"}, forms[:3]); !errors.Is(err, ErrForm) {
		t.Errorf("a key twice in a batch: %v", err)
	}
	if dst.Len() != n || len(dst.index) != n || dst.index[dst.names.Key("e8")] != at {
		t.Errorf("a refused batch left %d entries, %d keys, e8 at %d (was %d, %d)", dst.Len(), len(dst.index), dst.index[dst.names.Key("e8")], n, at)
	}
	if err := dst.AddForms([]string{"new1", "new3"}, forms[:2]); err != nil {
		t.Errorf("the keys of refused batches: %v", err)
	}
	if !dst.Remove("new1") || !dst.Remove("new3") {
		t.Error("remove new1, new3")
	}
	if err := dst.AddForms([]string{"x"}, [][]byte{forms[0][1:]}); !errors.Is(err, ErrForm) {
		t.Errorf("a short form: %v", err)
	}
	nan := slices.Clone(forms[0])
	binary.LittleEndian.PutUint32(nan[len(nan)-4:], math.Float32bits(float32(math.NaN())))
	if err := dst.AddForms([]string{"y"}, [][]byte{nan}); !errors.Is(err, ErrForm) {
		t.Errorf("a form whose degrees-of-freedom factor is NaN: %v", err)
	}
	if !dst.Remove("e0") || dst.Len() != 298 {
		t.Errorf("remove: len %d", dst.Len())
	}
}

func randomTemplate(r *rand.Rand) *Template {
	s := NewSynth(DefaultRows, DefaultCols)
	return s.Template(s.Field(r), r)
}

// TestKeysHoldNoPointers: a gallery's keys and their index hold no
// pointer, so a garbage collection does not visit an entry's key.
func TestKeysHoldNoPointers(t *testing.T) {
	g := NewGallery(GalleryOptions{})
	k, m := reflect.TypeOf(g.keys), reflect.TypeOf(g.index)
	if gallery.HoldsPointers(k.Elem()) || gallery.HoldsPointers(m.Key()) || gallery.HoldsPointers(m.Elem()) {
		t.Errorf("keys %v or index %v hold pointers", k, m)
	}
}
