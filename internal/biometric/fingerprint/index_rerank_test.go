package fingerprint

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestComparedSize(t *testing.T) {
	for _, tc := range []struct {
		n    int
		opt  SearchOptions
		want int
	}{
		{1000, SearchOptions{}, 1000},                                                 // small: everything
		{200000, SearchOptions{}, DefaultMinShortlist},                                // 0.5 % is 1,000: the minimum
		{4000000, SearchOptions{}, 20000},                                             // 0.5 %
		{4000000, SearchOptions{Compared: 0.01}, 40000},                               // 1 %
		{4000000, SearchOptions{Compared: 0.5}, 80000},                                // no more than the shortlist
		{1000, SearchOptions{Penetration: 0.05, MinShortlist: 1}, 5},                  // 0.5 % of 1,000
		{1000, SearchOptions{Penetration: 0.01, MinShortlist: 1, Compared: 0.01}, 10}, // second stage off
	} {
		if got := ComparedSize(tc.n, tc.opt); got != tc.want {
			t.Errorf("ComparedSize(%d, %+v) = %d, want %d", tc.n, tc.opt, got, tc.want)
		}
	}
}

// TestLocalScore: the second stage's score is 1 for a template against
// itself, and a jittered impression of a finger scores above every
// stranger's, so that the mates stay among the entries compared in full.
func TestLocalScore(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	var s localScratch
	var strangers []*Template
	for range 200 {
		strangers = append(strangers, sampleTemplateSeed(r))
	}
	score := func(probe, entry *Template) float32 {
		pack(&entry.cyl).unpack(&s.c)
		return localScore(&probe.cyl, &s.c, &s)
	}
	for i := range 20 {
		finger := sampleTemplateSeed(r)
		if got := score(finger, finger); got < 0.999 || got > 1.0001 {
			t.Errorf("finger %d against itself: %.4f, want 1", i, got)
		}
		probe := jittered(r, finger)
		mate := score(probe, finger)
		for k, o := range strangers {
			if v := score(probe, o); v >= mate {
				t.Errorf("finger %d: stranger %d scores %.4f, the mate %.4f", i, k, v, mate)
			}
		}
	}
	if got := localScore(&cylinders{}, &strangers[0].cyl, &s); got != 0 {
		t.Errorf("an empty probe scores %v", got)
	}
}

// TestSecondStage: with a shortlist of 5 % re-ranked down to 0.5 %, an
// indexed search still finds each mate first and reports what the
// exhaustive scan reports; cancelling the context stops it.
func TestSecondStage(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	g, base := indexedGallery(t, r, 1000, segEntries)
	ctx := context.Background()
	thr := DefaultThreshold()
	opt := SearchOptions{Indexed: true, Penetration: 0.05, MinShortlist: 1, Compared: 0.005} // 50, then 5
	for _, i := range []int{3, 250, 777, 998} {
		probe := jittered(r, base[i])
		got, err := g.Search(ctx, probe, thr, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[0].Key != fmt.Sprint("p", i) {
			t.Errorf("probe %d: candidates %v", i, keysOf(got))
		}
		full, err := g.Search(ctx, probe, thr, SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmpCandidates(full, got); diff != "" {
			t.Errorf("probe %d: %s", i, diff)
		}
	}
	// the entries rerank keeps: 5, in increasing order, all from the shortlist
	g.mu.RLock()
	probe := jittered(r, base[500])
	short, rot, err := g.shortlist(ctx, probe, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := g.rerank(ctx, probe, short, rot, 5, 0)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, errCancelled := g.rerank(cancelled, probe, short, rot, 5, 0)
	g.mu.RUnlock()
	if len(kept) != 5 || !slices.IsSorted(kept) || !slices.Contains(kept, int32(500)) {
		t.Errorf("rerank kept %v, want 5 entries in order with 500", kept)
	}
	for _, e := range kept {
		if !slices.Contains(short, e) {
			t.Errorf("rerank kept %d, not in the shortlist %v", e, short)
		}
	}
	if errCancelled == nil {
		t.Error("rerank with a cancelled context: no error")
	}
}

// BenchmarkUnpackLarge is BenchmarkUnpack for an entry of the large
// gallery benchmark (47 random cylinders of 34 bits).
func BenchmarkUnpackLarge(b *testing.B) {
	p := pack(randomPacked(rand.New(rand.NewPCG(1, 2)), 47))
	var c cylinders
	for b.Loop() {
		p.unpack(&c)
	}
}

// BenchmarkAlignScore times the second stage's score of one entry.
func BenchmarkAlignScore(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	probe := newAlignProbe(randomPacked(r, 47))
	p := pack(randomPacked(r, 47))
	s := new(alignScratch)
	for b.Loop() {
		alignScore(&probe, p.geom, 7, s)
	}
}

// BenchmarkMatchLarge times a full comparison of two entries of the large
// gallery benchmark (the entry already unpacked), and BenchmarkLocalScore
// the local score of the same pair.
func BenchmarkMatchLarge(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	a, c := randomPacked(r, 47), randomPacked(r, 47)
	var s scratch
	for b.Loop() {
		match(a, c, &s)
	}
}

func BenchmarkLocalScore(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	a, c := randomPacked(r, 47), randomPacked(r, 47)
	var s localScratch
	for b.Loop() {
		localScore(a, c, &s)
	}
}
