package fingerprint

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
)

func TestSketchAgree(t *testing.T) {
	for _, tc := range []struct {
		a, b uint32
		want int
	}{
		{0x12345671, 0x12345671, 8},
		{0x12345671, 0x12345681, 7},
		{0x12345671, 0x82345671, 7},
		{0x12345671, 0xedcba981, 1},
		{0xffffffff, 0x0fffffff, 7},
		{0x11111111, 0x22222222, 0},
	} {
		if got := sketchAgree(tc.a, tc.b); got != tc.want {
			t.Errorf("sketchAgree(%#x, %#x) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestSketchScore: a jittered impression of a finger scores well above
// the cut against its finger, at the index's rotation, every stranger
// scores below the mate and hardly any reaches the cut; a gallery entry
// without sketches scores 0.
func TestSketchScore(t *testing.T) {
	r := rand.New(rand.NewPCG(51, 52))
	s := new(alignScratch)
	g := NewGallery()
	g.indexFrom = 0
	var strangers []*Template
	for i := range 200 {
		strangers = append(strangers, sampleTemplateSeed(r))
		g.Add(fmt.Sprint("s", i), strangers[i])
	}
	passed := 0
	for i := range 10 {
		finger := sampleTemplateSeed(r)
		g.Add(fmt.Sprint("f", i), finger)
		probe := jittered(r, finger)
		rot := make([]uint8, len(g.entries))
		g.indexVotes(probe, 1, rot)
		ap := newAlignProbe(&probe.cyl)
		e := g.index[g.names.Key(fmt.Sprint("f", i))]
		mate := sketchScore(&ap, g.cyl.view(g.entries[e]), rot[e], s)
		if mate < 3*DefaultSecondStage {
			t.Errorf("finger %d: its mate scores %d", i, mate)
		}
		for k := range strangers {
			e := g.index[g.names.Key(fmt.Sprint("s", k))]
			if v := sketchScore(&ap, g.cyl.view(g.entries[e]), rot[e], s); v >= DefaultSecondStage {
				passed++
			}
			if v := sketchScore(&ap, g.cyl.view(g.entries[e]), rot[e], s); v >= mate {
				t.Errorf("finger %d: stranger %d scores %d, the mate %d", i, k, v, mate)
			}
		}
		if v := sketchScore(&ap, pack(&finger.cyl), rot[e], s); v != 0 {
			t.Errorf("finger %d: its mate without sketches scores %d", i, v)
		}
	}
	if passed > 20 { // 1 % of the 2,000 stranger pairs
		t.Errorf("%d of 2,000 stranger pairs pass the second stage", passed)
	}
}

// TestSecondStage: with the second stage on, an indexed search still finds
// each mate first and reports what the exhaustive scan reports; the stage
// keeps the mate and drops most strangers; cancelling the context stops it.
func TestSecondStage(t *testing.T) {
	r := rand.New(rand.NewPCG(53, 54))
	g, base := indexedGallery(t, r, 1000, segEntries)
	ctx := context.Background()
	thr := DefaultThreshold()
	opt := SearchOptions{Indexed: true, Penetration: 0.05, MinShortlist: 1}
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
	g.mu.RLock()
	probe := jittered(r, base[500])
	short, rot, err := g.shortlist(ctx, probe, 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := g.secondStage(ctx, probe, slices.Clone(short), rot, DefaultSecondStage, 0)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, errCancelled := g.secondStage(cancelled, probe, slices.Clone(short), rot, DefaultSecondStage, 0)
	g.mu.RUnlock()
	if !slices.Contains(kept, int32(500)) || len(kept) > 5 || !slices.IsSorted(kept) {
		t.Errorf("the second stage kept %v of %d, want 500 and few others, in order", kept, len(short))
	}
	for _, e := range kept {
		if !slices.Contains(short, e) {
			t.Errorf("the second stage kept %d, not in the shortlist %v", e, short)
		}
	}
	if errCancelled == nil {
		t.Error("second stage with a cancelled context: no error")
	}
}

// BenchmarkUnpackLarge is BenchmarkUnpack for an entry of the large
// gallery benchmark (47 random cylinders of 34 bits).
func BenchmarkUnpackLarge(b *testing.B) {
	p := pack(randomPacked(rand.New(rand.NewPCG(1, 2)), 47))
	var c cylinders
	defer cpuPerOp(b)()
	for b.Loop() {
		p.unpack(&c)
	}
}

// BenchmarkMatchLarge times a full comparison of two entries of the large
// gallery benchmark, once unpacked.
func BenchmarkMatchLarge(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	a, c := randomPacked(r, 47), randomPacked(r, 47)
	var s scratch
	defer cpuPerOp(b)()
	for b.Loop() {
		match(a, c, &s)
	}
}

// BenchmarkSketchScore times the second stage's score of one such entry.
func BenchmarkSketchScore(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	probe := newAlignProbe(randomPacked(r, 47))
	p := pack(randomPacked(r, 47))
	indexKeys(p)
	s := new(alignScratch)
	defer cpuPerOp(b)()
	for b.Loop() {
		sketchScore(&probe, p, 7, s)
	}
}

// BenchmarkSketchScoreRef is BenchmarkSketchScore for the code before
// (sketchScoreRef).
func BenchmarkSketchScoreRef(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	probe := newAlignProbe(randomPacked(r, 47))
	p := pack(randomPacked(r, 47))
	indexKeys(p)
	s := new(alignScratch)
	defer cpuPerOp(b)()
	for b.Loop() {
		sketchScoreRef(&probe, p, 7, s)
	}
}

// TestSketchesSet: every indexed cylinder of every entry has its sketch
// (and only those: a cylinder too sparse to index has 0), whether the
// entry came before the index was built, with it, or after a compaction;
// and it is the probe's sketch of the same cylinder.
func TestSketchesSet(t *testing.T) {
	r := rand.New(rand.NewPCG(55, 56))
	g := NewGallery()
	g.indexFrom = 10
	var ts []*Template
	for i := range 30 {
		ts = append(ts, sampleTemplateSeed(r))
		g.Add(fmt.Sprint("p", i), ts[i]) // the index is built at the 11th
	}
	for i := range 15 {
		g.Remove(fmt.Sprint("p", i)) // compaction at half dead
	}
	if g.idx == nil || g.Len() != 15 || len(g.entries) != 15 {
		t.Fatalf("index %v, %d entries of %d", g.idx != nil, g.Len(), len(g.entries))
	}
	for i := 15; i < 30; i++ {
		p := g.cyl.view(g.entries[g.index[g.names.Key(fmt.Sprint("p", i))]])
		want := newAlignProbe(&ts[i].cyl)
		if !slices.Equal(p.sk, want.sk) {
			t.Errorf("entry p%d: sketches %x, want %x", i, p.sk, want.sk)
		}
		for k, sk := range p.sk {
			if sparse := p.geom[k].ones() < indexMinOnes; (sk == 0) != sparse {
				t.Errorf("entry p%d, cylinder %d of %d bits: sketch %x", i, k, p.geom[k].ones(), sk)
			}
		}
	}
}

// TestSketchScoreWindow: sketchScore, which walks the gallery entry's
// directions forward from one probe cylinder to the next, scores as a
// binary search for every probe cylinder's window does (sketchScoreRef, the
// code before), for mates and strangers at every rotation bin, probes of
// any order of directions included; and sketchReaches, which stops early,
// agrees with the score for several cuts (its scratch grid left clean).
func TestSketchScoreWindow(t *testing.T) {
	r := rand.New(rand.NewPCG(91, 92))
	s, sr := new(alignScratch), new(alignScratch)
	nonzero := 0
	for k := range 200 {
		entry := randomPacked(r, 20+r.IntN(40))
		p := pack(entry)
		indexKeys(p)
		probe := perturbed(r, entry).cyl
		if k%2 == 1 {
			probe = *randomPacked(r, 20+r.IntN(40))
		}
		ap := newAlignProbe(&probe)
		if k%5 == 0 { // directions out of order
			r.Shuffle(len(ap.dir), func(i, j int) {
				ap.dir[i], ap.dir[j] = ap.dir[j], ap.dir[i]
				ap.x[i], ap.x[j] = ap.x[j], ap.x[i]
				ap.y[i], ap.y[j] = ap.y[j], ap.y[i]
				ap.sk[i], ap.sk[j] = ap.sk[j], ap.sk[i]
			})
		}
		for bin := range uint8(indexRotBins) {
			got, want := sketchScore(&ap, p, bin, s), sketchScoreRef(&ap, p, bin, sr)
			if got != want {
				t.Fatalf("probe %d, bin %d: sketchScore %d, the binary search's %d", k, bin, got, want)
			}
			if got > 0 {
				nonzero++
			}
			for _, cut := range []int{0, 1, 5, 7, 12} {
				if reached := sketchReaches(&ap, p, bin, cut, s); reached != (want >= cut) {
					t.Fatalf("probe %d, bin %d: sketchReaches(%d) %v for a score of %d", k, bin, cut, reached, want)
				}
			}
		}
	}
	if nonzero < 100 {
		t.Errorf("only %d non-zero scores: the test compares little", nonzero)
	}
}

func sketchScoreRef(a *alignProbe, p packed, bin uint8, s *alignScratch) int {
	geom, gsk := p.geom, p.sk
	na, nb := len(a.dir), len(geom)
	if na == 0 || nb == 0 {
		return 0
	}
	var gx, gy float32
	for _, g := range geom {
		gx += float32(g.x)
		gy += float32(g.y)
	}
	gx, gy = gx/float32(nb), gy/float32(nb)
	rot := binRotation[bin&(indexRotBins-1)]
	// A gallery point q maps to the probe's frame as R(-rotation) (q -
	// centroid); c and sn also scale the packed positions to pixels.
	c, sn := rot.cos*(1.0/geomPosScale), rot.sin*(1.0/geomPosScale)
	best := uint8(0)
	for i := range na {
		psk := a.sk[i]
		if psk == 0 {
			continue
		}
		lo := a.dir[i] + rot.d - alignDirTol
		j := searchDirRef(geom, lo)
		for k := 0; k < nb; k, j = k+1, j+1 {
			if j == nb {
				j = 0
			}
			g := &geom[j]
			if g.dir-lo > 2*alignDirTol {
				break
			}
			w := sketchAgree(psk, gsk[j]) - sketchMin + 1
			if w <= 0 || gsk[j] == 0 {
				continue
			}
			qx, qy := float32(g.x)-gx, float32(g.y)-gy
			tx := c*qx + sn*qy - a.x[i]
			ty := -sn*qx + c*qy - a.y[i]
			cx := int(tx*(1.0/alignCell) + alignGrid/2)
			cy := int(ty*(1.0/alignCell) + alignGrid/2)
			if cx < 0 || cy < 0 || cx >= alignGrid-1 || cy >= alignGrid-1 {
				continue
			}
			// the vote counts in the four squares of 2 x 2 cells that hold its cell
			for _, at := range [4]int{cy*alignGrid + cx, cy*alignGrid + cx + 1, (cy+1)*alignGrid + cx, (cy+1)*alignGrid + cx + 1} {
				v := &s.grid[at]
				if *v == 0 {
					s.touched = append(s.touched, uint16(at))
				}
				*v = uint8(min(int(*v)+w, math.MaxUint8))
				best = max(best, *v)
			}
		}
	}
	for _, at := range s.touched {
		s.grid[at] = 0
	}
	s.touched = s.touched[:0]
	return int(best)
}
func searchDirRef(geom []cylGeom, d uint16) int {
	lo, hi := 0, len(geom)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if geom[m].dir < d {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == len(geom) {
		return 0
	}
	return lo
}

// BenchmarkFullScattered times what an indexed search's full comparisons
// do in a large gallery: unpack and compare entries of a slab far larger
// than the processor's caches, taken in increasing order at random gaps
// (a shortlist). ASSENT_SCATTER_ENTRIES sets the slab's entries (default
// 100,000, about 180 MB). On the loaded machine of issue 15 item 8 it took
// about 25 us of CPU a comparison against 13.5 for BenchmarkUnpackLarge
// and BenchmarkMatchLarge together (in cache); reading every cache line of
// the next entry ahead of its comparison did not change it (24.9 against
// 25.2 us, three runs each).
func BenchmarkFullScattered(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("ASSENT_SCATTER_ENTRIES")); err == nil && v > 0 {
		n = v
	}
	r := rand.New(rand.NewPCG(3, 4))
	var sl slab
	es := make([]entry, n)
	for i := range es {
		es[i] = sl.put(pack(randomPacked(r, 47)))
	}
	probe := randomPacked(r, 47)
	var short []int
	for i := range n {
		if r.IntN(50) == 0 {
			short = append(short, i)
		}
	}
	var c cylinders
	var s scratch
	defer cpuPerOp(b)()
	k := 0
	for b.Loop() {
		sl.view(es[short[k]]).unpack(&c)
		match(probe, &c, &s)
		if k++; k == len(short) {
			k = 0
		}
	}
}
