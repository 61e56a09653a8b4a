package iris

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestGalleryTrim checks that Trim leaves no spare room, keeps every
// entry, and that the gallery still grows after it.
func TestGalleryTrim(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	s := NewSynth(DefaultRows, DefaultCols)
	g := NewGallery(GalleryOptions{})
	var fields [][]float64
	add := func(i int) {
		f := s.Field(rng)
		fields = append(fields, f)
		if err := g.Add(fmt.Sprint("k", i), s.Template(f, rng)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 101 {
		add(i)
	}
	if g.Bytes() == 101*g.BytesPerEntry() {
		t.Fatal("no spare room before Trim: the test does not cover it")
	}
	g.Trim()
	trimmed := g.Bytes()
	if want := 8*(withSpare(len(g.head))+withSpare(len(g.tail))) + 4*withSpare(len(g.q)); trimmed != want {
		t.Errorf("after Trim: %d bytes for 101 entries, want %d (a 64th spare)", trimmed, want)
	}
	add(101)
	// The add after a load appends in place: copying the whole gallery
	// (under its lock) took 20 s at a million people.
	if got := g.Bytes(); got != trimmed {
		t.Errorf("the add after Trim grew the arrays: %d bytes, was %d", got, trimmed)
	}
	th := ThresholdForFMR(1e-6)
	for _, i := range []int{0, 50, 100, 101} {
		got, err := g.Search(context.Background(), s.Mate(fields[i], rng), th, SearchOptions{Coarse: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Key != fmt.Sprint("k", i) {
			t.Errorf("probe %d after Trim: %v", i, got)
		}
	}
}
