package fingerprint

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// indexedGallery returns a gallery of n random templates that builds its
// index from the first template on, sealing a segment of the index every
// seg entries.
func indexedGallery(t *testing.T, r *rand.Rand, n, seg int) (*Gallery, []*Template) {
	t.Helper()
	g := NewGallery()
	g.indexFrom = 0
	g.segEntries = seg
	base := make([]*Template, n)
	for i := range base {
		base[i] = sampleTemplateSeed(r)
		g.Add(fmt.Sprint("p", i), base[i])
	}
	if g.idx == nil {
		t.Fatal("the gallery built no index")
	}
	return g, base
}

func keysOf(cs []Candidate) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Key)
	}
	return out
}

func TestIndexedSearch(t *testing.T) {
	for _, seg := range []int{segEntries, 96} {
		t.Run(fmt.Sprint("segments of ", seg), func(t *testing.T) { testIndexedSearch(t, seg) })
	}
}

func testIndexedSearch(t *testing.T, seg int) {
	r := rand.New(rand.NewPCG(11, 12))
	g, base := indexedGallery(t, r, 1000, seg)
	if want := 1000 / seg; len(g.idx.sealed) != want {
		t.Fatalf("%d sealed segments, want %d", len(g.idx.sealed), want)
	}
	ctx := context.Background()
	thr := DefaultThreshold()
	// A shortlist of 10 of 1,000 entries (1 %).
	opt := SearchOptions{Indexed: true, Penetration: 0.01, MinShortlist: 1}

	t.Run("finds mates among a 1% shortlist", func(t *testing.T) {
		for _, i := range []int{0, 17, 500, 999} {
			got, err := g.Search(ctx, jittered(r, base[i]), thr, opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 || got[0].Key != fmt.Sprint("p", i) {
				t.Errorf("probe %d: candidates %v", i, keysOf(got))
			}
		}
	})
	t.Run("same candidates as the exhaustive scan", func(t *testing.T) {
		probe := jittered(r, base[42])
		full, err := g.Search(ctx, probe, thr, SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fast, err := g.Search(ctx, probe, thr, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(full) == 0 {
			t.Fatal("the exhaustive scan found nothing")
		}
		if diff := cmpCandidates(full, fast); diff != "" {
			t.Error(diff)
		}
	})
	t.Run("a stranger gets no candidate", func(t *testing.T) {
		got, err := g.Search(ctx, sampleTemplateSeed(r), thr, opt)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 {
			t.Errorf("candidates %v for a stranger", keysOf(got))
		}
	})
	t.Run("removed and replaced entries", func(t *testing.T) {
		g.Remove("p17")
		g.Add("p18", base[300]) // p18 now holds another finger
		for _, tc := range []struct {
			probe *Template
			not   string
		}{{base[17], "p17"}, {base[18], "p18"}} {
			got, _ := g.Search(ctx, tc.probe, thr, opt)
			if slices.Contains(keysOf(got), tc.not) {
				t.Errorf("%s still found: %v", tc.not, keysOf(got))
			}
		}
		got, _ := g.Search(ctx, jittered(r, base[300]), thr, opt)
		if ks := keysOf(got); !slices.Contains(ks, "p18") || !slices.Contains(ks, "p300") {
			t.Errorf("replacement not found: %v", ks)
		}
	})
	t.Run("compaction renumbers the index", func(t *testing.T) {
		for i := range 700 {
			g.Remove(fmt.Sprint("p", i))
		}
		if g.Len() != 300 || len(g.entries) >= 1001 {
			t.Fatalf("Len %d, entries %d: compaction did not run", g.Len(), len(g.entries))
		}
		opt := SearchOptions{Indexed: true, Penetration: 0.01, MinShortlist: 1} // 3 of 300
		for _, i := range []int{700, 850, 999} {
			got, _ := g.Search(ctx, jittered(r, base[i]), thr, opt)
			if len(got) == 0 || got[0].Key != fmt.Sprint("p", i) {
				t.Errorf("probe %d after compaction: %v", i, keysOf(got))
			}
		}
		got, _ := g.Search(ctx, base[5], thr, opt)
		if len(got) != 0 {
			t.Errorf("removed entries found after compaction: %v", keysOf(got))
		}
	})
	t.Run("sealed whole, then added to", func(t *testing.T) {
		g.Seal()
		if g.idx.tail != nil || g.idx.tailStart != len(g.entries) {
			t.Fatalf("after Seal: tail starts at %d of %d entries", g.idx.tailStart, len(g.entries))
		}
		g.Add("late", base[950])
		opt := SearchOptions{Indexed: true, Penetration: 0.01, MinShortlist: 1}
		for _, i := range []int{700, 999} {
			got, _ := g.Search(ctx, jittered(r, base[i]), thr, opt)
			if len(got) == 0 || got[0].Key != fmt.Sprint("p", i) {
				t.Errorf("probe %d after sealing: %v", i, keysOf(got))
			}
		}
		got, _ := g.Search(ctx, jittered(r, base[950]), thr, opt)
		if ks := keysOf(got); !slices.Contains(ks, "late") || !slices.Contains(ks, "p950") {
			t.Errorf("entry added after sealing not found: %v", ks)
		}
	})
	t.Run("postings stay in entry order", func(t *testing.T) {
		// voteBlock and voteSegment rely on it.
		at := 0
		for k, s := range g.idx.sealed {
			if s.start != at || s.n < 1 || s.n > seg {
				t.Fatalf("segment %d covers [%d, %d), want a start at %d and at most %d entries", k, s.start, s.start+s.n, at, seg)
			}
			at += s.n
		}
		if at != g.idx.tailStart {
			t.Fatalf("segments end at %d, the tail starts at %d", at, g.idx.tailStart)
		}
		count := 0
		for b, ps := range g.idx.tail {
			count += len(ps)
			for i := 1; i < len(ps); i++ {
				if ps[i]>>8 < ps[i-1]>>8 {
					t.Fatalf("bucket %d: entry %d after %d", b, ps[i]>>8, ps[i-1]>>8)
				}
			}
			for i, p := range ps {
				if int(p>>8) < g.idx.tailStart {
					t.Fatalf("bucket %d: posting %d of entry %d in the tail, which starts at %d", b, i, p>>8, g.idx.tailStart)
				}
			}
		}
		for k, s := range g.idx.sealed {
			held := 0
			for b := range buckets {
				prev := 0
				s.decode(b, func(e int, _ uint32) {
					if e < prev || e >= s.n {
						t.Fatalf("segment %d, bucket %d: entry %d after %d (segment of %d)", k, b, e, prev, s.n)
					}
					prev = e
					held++
				})
			}
			if held != s.postings {
				t.Fatalf("segment %d: %d postings decoded, %d held", k, held, s.postings)
			}
			count += held
		}
		if count != g.idx.count {
			t.Errorf("%d postings held, count says %d", count, g.idx.count)
		}
	})
}

func cmpCandidates(want, got []Candidate) string {
	if len(want) != len(got) {
		return fmt.Sprintf("indexed search found %v, exhaustive %v", keysOf(got), keysOf(want))
	}
	for i := range want {
		if want[i] != got[i] {
			return fmt.Sprintf("candidate %d: indexed %v, exhaustive %v", i, got[i], want[i])
		}
	}
	return ""
}

// TestIndexBuiltWhenLarge: a gallery builds its index only once it holds
// more than IndexFrom templates, and an indexed search of a gallery no
// larger than the shortlist compares every entry.
func TestIndexBuiltWhenLarge(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	g := NewGallery()
	g.indexFrom = 20
	var ts []*Template
	for i := range 20 {
		ts = append(ts, sampleTemplateSeed(r))
		g.Add(fmt.Sprint(i), ts[i])
	}
	if g.idx != nil {
		t.Fatal("index built for 20 templates")
	}
	small := g.Bytes()
	got, err := g.Search(context.Background(), jittered(r, ts[3]), DefaultThreshold(), SearchOptions{Indexed: true})
	if err != nil || len(got) == 0 || got[0].Key != "3" {
		t.Fatalf("indexed search of a small gallery: %v %v", keysOf(got), err)
	}
	g.Add("20", sampleTemplateSeed(r))
	if g.idx == nil || g.idx.count == 0 {
		t.Fatal("no index at 21 templates")
	}
	if g.Bytes() <= small {
		t.Errorf("Bytes %d does not count the index (was %d)", g.Bytes(), small)
	}
}

func TestCylinderKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	set := func(ps ...int) cylBits {
		var b cylBits
		for _, p := range ps {
			b[p/64] |= 1 << (p % 64)
		}
		return b
	}
	var ka, kb [indexTables]uint32
	t.Run("too few bits", func(t *testing.T) {
		b := set(1, 2, 3)
		if cylinderKeys(&b, &ka) {
			t.Error("a cylinder with 3 bits set was indexed")
		}
	})
	t.Run("collision rate follows the Jaccard similarity", func(t *testing.T) {
		// Two sets of 30 bits sharing s: Jaccard j = s/(60-s). A table
		// collides with probability j^indexBand (plus 1/4,096 bucket
		// sharing); 20 shared bits: j = 1/2.
		half := math.Pow(0.5, indexBand)
		for _, tc := range []struct {
			shared   int
			min, max float64
		}{{30, 1, 1}, {0, 0, 0.002}, {20, 0.7 * half, 1.3 * half}} {
			collided, tables := 0, 0
			for range 200 {
				perm := r.Perm(cylWords*64 - 32)
				a := set(perm[:30]...)
				b := set(append(slices.Clone(perm[:tc.shared]), perm[30:60-tc.shared]...)...)
				if !cylinderKeys(&a, &ka) || !cylinderKeys(&b, &kb) {
					t.Fatal("not indexed")
				}
				for l := range ka {
					if ka[l] == kb[l] {
						collided++
					}
					tables++
				}
			}
			if rate := float64(collided) / float64(tables); rate < tc.min || rate > tc.max {
				t.Errorf("%d shared bits: collision rate %.4f, want in [%.3f, %.3f]", tc.shared, rate, tc.min, tc.max)
			}
		}
	})
}

// TestTopK: the shortlist is the k highest scores, ties to the lower entry
// number, whatever the order they came in.
func TestTopK(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, n := range []int{1, 2, 10, 1000} {
		for _, k := range []int{1, n / 2, n - 1} {
			if k < 1 {
				continue
			}
			s := make([]scored, n)
			for i := range s {
				s[i] = makeScored(float32(r.IntN(20)), int32(i)) // many ties
			}
			want := slices.Clone(s)
			slices.SortFunc(want, func(a, b scored) int {
				return cmp.Or(cmp.Compare(b.score(), a.score()), cmp.Compare(a.entry(), b.entry()))
			})
			var wantIDs []int32
			for _, w := range want[:k] {
				wantIDs = append(wantIDs, w.entry())
			}
			slices.Sort(wantIDs)
			if got := topK(s, k); !slices.Equal(got, wantIDs) {
				t.Errorf("n %d k %d: got %v, want %v", n, k, got, wantIDs)
			}
		}
	}
}

// BenchmarkIndexAdd measures adding one random 35-minutia template to an
// indexed gallery of 20,000 (the cost a start pays per fingerprint on top of
// decoding it).
func BenchmarkIndexAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(19, 20))
	ts := make([]*Template, 256)
	for i := range ts {
		ts[i] = sampleTemplateSeed(r)
	}
	g := NewGallery()
	g.indexFrom = 0
	for i := range 20000 {
		g.Add(fmt.Sprint(i), ts[i%len(ts)])
	}
	i := 0
	for b.Loop() {
		g.Add(fmt.Sprint("b", i), ts[i%len(ts)])
		i++
	}
}

func BenchmarkCylinderKeys(b *testing.B) {
	r := rand.New(rand.NewPCG(21, 22))
	t := sampleTemplateSeed(r)
	var keys [indexTables]uint32
	for b.Loop() {
		for i := range t.cyl.bits {
			cylinderKeys(&t.cyl.bits[i], &keys)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(t.cyl.n()), "ns/cylinder")
}

// TestMinhashKernels: the SSE4.1 minima (where the processor has it) equal
// the Go ones.
func TestMinhashKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{0, 1, 4, 34, 200, cylWords * 64} {
		pos := make([]uint16, n)
		for i := range pos {
			pos[i] = uint16(r.IntN(cylWords * 64))
		}
		var want, got [minhashFuncs]uint16
		minhashGo(minhashRank, pos, &want)
		minhashSSE41(minhashRank, pos, &got)
		if want != got {
			t.Errorf("%d positions: SSE4.1 %v, Go %v", n, got, want)
		}
	}
}

func BenchmarkMinhash(b *testing.B) {
	r := rand.New(rand.NewPCG(25, 26))
	pos := make([]uint16, 34) // a typical cylinder's 1 bits
	for i := range pos {
		pos[i] = uint16(r.IntN(cylWords * 64))
	}
	var out [minhashFuncs]uint16
	b.Run("go", func(b *testing.B) {
		for b.Loop() {
			minhashGo(minhashRank, pos, &out)
		}
	})
	b.Run("sse4.1", func(b *testing.B) {
		for b.Loop() {
			minhashSSE41(minhashRank, pos, &out)
		}
	})
}

// TestSealedVotes checks that sealing changes no index score: the scores
// of a gallery whose postings are all in the tail equal those once it is
// sealed in one segment (the coded units, escapes included: entry 0 and
// the last entry hold a template no other holds, so its buckets' gaps
// take escapes), with one goroutine or several (each decoding a run of
// blocks from its cursor), and in segments smaller than a block.
func TestSealedVotes(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	pool := make([]*Template, 200)
	for i := range pool {
		pool[i] = sampleTemplateSeed(r)
	}
	lone := sampleTemplateSeed(r)
	n := 2*indexBlock + 1234 // three blocks
	keys, ts := make([]string, n), make([]*Template, n)
	for i := range n {
		keys[i], ts[i] = fmt.Sprint("p", i), pool[r.IntN(len(pool))]
	}
	ts[0], ts[n-1] = lone, lone
	g := NewGallery()
	g.indexFrom = 0
	g.AddAll(keys, ts)
	if len(g.idx.sealed) != 0 {
		t.Fatalf("%d segments before Seal", len(g.idx.sealed))
	}
	probes := []*Template{lone, pool[0], jittered(r, pool[1]), sampleTemplateSeed(r)}
	want := make([][]scored, len(probes))
	for i, p := range probes {
		want[i] = g.indexScores(p, 1)
	}
	g.Seal()
	if len(g.idx.sealed) != 1 || g.idx.tail != nil {
		t.Fatalf("after Seal: %d segments, tail %v", len(g.idx.sealed), g.idx.tail != nil)
	}
	escapes := 0
	s := g.idx.sealed[0]
	for i := range s.off[buckets] {
		if s.unit(i)>>unitDirBits == unitEscape {
			escapes++
		}
	}
	if escapes == 0 {
		t.Fatal("no escape unit: the test does not cover them")
	}
	for i, p := range probes {
		for _, w := range []int{1, 2, 3} {
			if got := g.indexScores(p, w); !slices.Equal(got, want[i]) {
				t.Errorf("probe %d, %d workers: sealed scores differ from the tail's", i, w)
			}
		}
	}
	if votes := want[0][0].score(); votes == 0 {
		t.Error("the lone template gets no votes from itself")
	}
	// Segments of 5,000 entries: a block reads several segments, and a
	// goroutine's first block starts within one (its cursors pass over the
	// postings before it).
	g2 := NewGallery()
	g2.indexFrom, g2.segEntries = 0, 5000
	g2.AddAll(keys, ts)
	g2.Seal()
	if len(g2.idx.sealed) != (n+4999)/5000 {
		t.Fatalf("%d segments of 5,000 for %d entries", len(g2.idx.sealed), n)
	}
	for i, p := range probes {
		// (a segment's stop words are its own: the scores are not the
		// tail's, but those of the units decoded one by one)
		want := sealedScoresRef(g2, p)
		for _, w := range []int{1, 2, 3} {
			if got := g2.indexScores(p, w); !slices.Equal(got, want) {
				t.Errorf("probe %d, %d workers, segments of 5,000: scores differ from the reference", i, w)
			}
		}
	}
}

// sealedScoresRef is indexScores for a sealed gallery, each list's units
// decoded one by one (segment.unit) into counters for every entry.
func sealedScoresRef(g *Gallery, p *Template) []scored {
	pc := p.galleryCylinders()
	pl := g.idx.probeLists(probeKeys(&pc))
	n := len(g.entries)
	votes := make([]uint8, n*indexRotBins)
	for k, s := range pl.segs {
		for _, l := range pl.sealed[k] {
			e := s.start
			for i := l.lo; i < l.hi; i++ {
				u := s.unit(i)
				if gap := int(u >> unitDirBits); gap == unitEscape {
					e += unitEscape
					continue
				} else {
					e += gap
				}
				if bin := binOf[(dirOfUnit(u)-l.pdir)&(indexDirLevels-1)]; bin >= 0 && votes[e*indexRotBins+int(bin)] < 255 {
					votes[e*indexRotBins+int(bin)]++
				}
			}
		}
	}
	out := make([]scored, n)
	for i := range out {
		sc, _ := indexScoreBin(votes[i*indexRotBins:(i+1)*indexRotBins], g.entries[i].n)
		out[i] = makeScored(sc, int32(i))
	}
	return out
}

func TestUnits(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vs := make([]uint32, 1001)
	for i := range vs {
		vs[i] = r.Uint32N(unitMask + 1)
	}
	s := &segment{units: make([]byte, unitBytes(len(vs)))}
	for i, v := range vs {
		putUnit(s.units, i, v)
	}
	for i, v := range vs {
		if got := s.unit(uint32(i)); got != v {
			t.Fatalf("unit %d: %#x, want %#x", i, got, v)
		}
	}
}
