package fingerprint

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The index shapes of issue 15 item 4 for the STFT engine's cylinders
// (fourteenth pass): TestIndexShapes re-does the index's votes (as
// TestIndexTuning) and the second stage (on a real gallery's packed
// entries) for other shapes, on the pooled FVC sets, with the gallery side
// kept to its galleryCap best-quality cylinders as the STFT engine's
// gallery form keeps them.

// shapeTemplates returns the pooled templates (no failures), read from the
// file ASSENT_INDEX_CACHE when it exists and written there otherwise (the
// extraction of the eight sets takes minutes on one core).
func shapeTemplates(t *testing.T) ([]*Template, []int) {
	path := os.Getenv("ASSENT_INDEX_CACHE")
	type cache struct {
		T [][]byte
		F []int
	}
	if path != "" {
		if b, err := os.ReadFile(path); err == nil {
			var c cache
			if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil {
				t.Fatal(err)
			}
			ts := make([]*Template, len(c.T))
			for i, raw := range c.T {
				ts[i] = new(Template)
				if err := ts[i].UnmarshalBinary(raw); err != nil {
					t.Fatal(err)
				}
			}
			return ts, c.F
		}
	}
	ts, f := pooledTemplates(t, dataDir(t), false)
	if path != "" {
		c := cache{F: f}
		for _, tp := range ts {
			b, err := tp.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			c.T = append(c.T, b)
		}
		var buf bytes.Buffer
		if err := gob.NewEncoder(&buf).Encode(c); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ts, f
}

// cylQuality returns the quality of each of tp's cylinders' minutiae (the
// minutia at the cylinder's position and direction).
func cylQuality(tp *Template) []int {
	c := &tp.cyl
	q := make([]int, c.n())
	for i := range q {
		best, bd := 0, float32(math.MaxFloat32)
		for _, m := range tp.Minutiae {
			dx, dy := m.X-c.x[i], m.Y-c.y[i]
			d := dx*dx + dy*dy + float32(math.Abs(float64(m.Dir-c.dir[i])))
			if d < bd {
				bd, best = d, int(m.Quality)
			}
		}
		q[i] = best
	}
	return q
}

// capTemplate returns tp with only its k best-quality cylinders (ties:
// the lower minutia, as a stable sort of the quality-ordered minutiae
// keeps them), in their direction order, without descriptors: the STFT
// engine's gallery form.
func capTemplate(tp *Template, k int) *Template {
	c := &tp.cyl
	if k <= 0 || c.n() <= k {
		out := &Template{Width: tp.Width, Height: tp.Height, Minutiae: tp.Minutiae, cyl: *c}
		out.cyl.desc, out.cyl.tex = nil, nil
		return out
	}
	q := cylQuality(tp)
	idx := make([]int, c.n())
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return q[b] - q[a] })
	idx = idx[:k]
	slices.Sort(idx)
	var o cylinders
	for _, i := range idx {
		o.x = append(o.x, c.x[i])
		o.y = append(o.y, c.y[i])
		o.dir = append(o.dir, c.dir[i])
		o.cos = append(o.cos, c.cos[i])
		o.sin = append(o.sin, c.sin[i])
		o.norm = append(o.norm, c.norm[i])
		o.bits = append(o.bits, c.bits[i])
		o.typ = append(o.typ, c.typ[i])
	}
	return &Template{Width: tp.Width, Height: tp.Height, Minutiae: tp.Minutiae, cyl: o}
}

// shapeFuncs is the MinHash functions the harness computes: minhashRank's
// then as many more from another seed.
const shapeFuncs = 2 * minhashFuncs

var extraRank = func() *[cylWords * 64][minhashFuncs]uint16 {
	var t [cylWords * 64][minhashFuncs]uint16
	rng := rand.New(rand.NewPCG(0x73686170, 0x65732121))
	for f := range minhashFuncs {
		for rank, p := range rng.Perm(cylWords * 64) {
			t[p][f] = uint16(rank)
		}
	}
	return &t
}()

func shapeMinhash(pos []uint16, out *[shapeFuncs]uint16) {
	var a, b [minhashFuncs]uint16
	minhashGo(minhashRank, pos, &a)
	minhashGo(extraRank, pos, &b)
	copy(out[:], a[:])
	copy(out[minhashFuncs:], b[:])
}

func bitPositions(b *cylBits) []uint16 {
	var pos []uint16
	for w, x := range b {
		for ; x != 0; x &= x - 1 {
			pos = append(pos, uint16(w*64+trailingZeros(x)))
		}
	}
	return pos
}

func trailingZeros(x uint64) int {
	n := 0
	for x&1 == 0 {
		x >>= 1
		n++
	}
	return n
}

// shape is one index shape.
type shape struct {
	tables, band, bucketBits int
	maxCyl                   int    // cylinders of an entry indexed (0: all)
	sel                      string // which: quality, ones, centre
	dirBits                  int    // gallery direction bits (6 shipped)
	alpha                    float64
	norm                     string // all or indexed: the count the score is divided by
	stop                     int    // stop-word factor (-1 none; 100+f: f without the floor indexStopMin)
}

func (s shape) String() string {
	return fmt.Sprintf("%dx%d b%d k%d%s d%d a%.2f %s stop%d", s.tables, s.band, s.bucketBits, s.maxCyl, s.sel, s.dirBits, s.alpha, s.norm, s.stop)
}

// shapeBytes is the modelled memory per entry of BenchmarkLargeIndexedSearch
// (random 47-cylinder entries) with shape s: the measured 3,384 bytes less
// the shipped index's model plus s's.
func shapeBytes(s shape) float64 {
	// gaps of gapBits bits, an escape unit per longer gap: an entry's
	// postings fall 2^bucketBits/indexed entries apart in a bucket
	model := func(tables, bucketBits, indexed, dirBits int) float64 {
		mean := float64(int(1)<<bucketBits) / float64(indexed)
		gapBits := bucketBits - 3
		esc := math.Exp(-float64(int(1)<<gapBits-1) / mean)
		return float64(indexed*tables)*float64(gapBits+dirBits)/8*(1+esc) + float64(tables<<bucketBits)*4/segEntries
	}
	k := 47
	if s.maxCyl > 0 {
		k = min(k, s.maxCyl)
	}
	return 3384 - model(15, 15, 47, 6) + model(s.tables, s.bucketBits, k, s.dirBits)
}

func TestIndexShapes(t *testing.T) {
	heavy(t)
	spec := os.Getenv("ASSENT_INDEX_SHAPES")
	if spec == "" {
		t.Skip("set ASSENT_INDEX_SHAPES")
	}
	ts, fingers := shapeTemplates(t)
	gcap := 64
	if v := os.Getenv("ASSENT_INDEX_GALLERY_CAP"); v != "" {
		gcap, _ = strconv.Atoi(v)
	}
	n := len(ts)
	gal := make([]*Template, n)
	maxN, sumN := 0, 0
	for i, tp := range ts {
		gal[i] = capTemplate(tp, gcap)
		maxN = max(maxN, tp.cyl.n())
		sumN += gal[i].cyl.n()
	}
	t.Logf("%d templates, probe cylinders up to %d, gallery %.1f a template (cap %d)", n, maxN, float64(sumN)/float64(n), gcap)
	// a real gallery of the capped templates, for the second stage's
	// packed entries and sketches
	g := NewGallery()
	g.indexFrom = 0
	keys := make([]string, n)
	for i := range keys {
		keys[i] = strconv.Itoa(i)
	}
	g.AddAll(keys, gal)
	type cylInfo struct {
		acc  [shapeFuncs]uint16
		dir  uint32 // level in 256
		ones int
		q    int
		dc   float64
	}
	info := func(tp *Template, geom bool) []cylInfo {
		c := &tp.cyl
		out := make([]cylInfo, c.n())
		q := cylQuality(tp)
		var cx, cy float64
		for k := range c.n() {
			cx += float64(c.x[k])
			cy += float64(c.y[k])
		}
		cx /= float64(max(1, c.n()))
		cy /= float64(max(1, c.n()))
		var p packed
		if geom {
			p = pack(c)
		}
		for k := range out {
			pos := bitPositions(&c.bits[k])
			out[k].ones = len(pos)
			shapeMinhash(pos, &out[k].acc)
			if geom {
				out[k].dir = p.geom[k].dirLevel()
			} else {
				out[k].dir = dirLevel(c.dir[k])
			}
			out[k].q = q[k]
			out[k].dc = math.Hypot(float64(c.x[k])-cx, float64(c.y[k])-cy)
		}
		return out
	}
	gi := make([][]cylInfo, n)
	pi := make([][]cylInfo, n)
	for i := range n {
		gi[i] = info(gal[i], true)
		pi[i] = info(ts[i], false)
	}
	grid := []float64{0.07, 0.08, 0.09, 0.10, 0.11, Threshold(1 / (100 * 200000.0))}
	cuts := []int{DefaultSecondStage, 6, 7}
	type pair struct {
		i, j int
		full float64
	}
	var pairs []pair
	var s scratch
	for i := range n {
		for j := range n {
			if i != j && fingers[i] == fingers[j] {
				pc, mc := ts[i].cyl, gal[j].cyl
				pc.desc, mc.desc = nil, nil
				if f := match(&pc, &mc, &s); f >= grid[0] {
					pairs = append(pairs, pair{i, j, f})
				}
			}
		}
	}
	aps := make([]alignProbe, n)
	for i := range n {
		aps[i] = newAlignProbe(&ts[i].cyl)
	}
	run := func(cf shape) string {
		nb := cf.tables << cf.bucketBits
		type posting struct {
			e   int32
			dir uint8
		}
		// With dirKey direction bins in the key (ASSENT_INDEX_DIRKEY), a
		// gallery cylinder is keyed with its direction's bin as well, and
		// a probe cylinder reads its bin and the two beside it (bins of
		// 360/dirKey >= maxDirGap degrees hold every posting that can
		// vote).
		dirKey, _ := strconv.Atoi(os.Getenv("ASSENT_INDEX_DIRKEY"))
		keyDir := func(acc *[shapeFuncs]uint16, l, dbin int) int {
			k := uint32(0)
			for b := range cf.band {
				k = k*cylWords*64 + uint32(acc[l*cf.band+b])
			}
			if dirKey > 0 {
				k = k*uint32(dirKey) + uint32(dbin)
			}
			return l<<cf.bucketBits | int((k*0x9e3779b1)>>(32-cf.bucketBits))
		}
		dbinOf := func(level uint32) int { return int(level) * max(1, dirKey) / indexDirLevels }
		buckets := make([][]posting, nb)
		indexed := make([]int, n)
		count := 0
		dropBits := 8 - cf.dirBits
		for e := range n {
			var ks []int
			for k, ci := range gi[e] {
				if ci.ones >= indexMinOnes {
					ks = append(ks, k)
				}
			}
			if cf.maxCyl > 0 && len(ks) > cf.maxCyl {
				switch cf.sel {
				case "quality":
					slices.SortStableFunc(ks, func(a, b int) int { return gi[e][b].q - gi[e][a].q })
				case "ones":
					slices.SortStableFunc(ks, func(a, b int) int { return gi[e][b].ones - gi[e][a].ones })
				case "centre":
					slices.SortStableFunc(ks, func(a, b int) int {
						return int(math.Copysign(1, gi[e][a].dc-gi[e][b].dc))
					})
				}
				ks = ks[:cf.maxCyl]
			}
			indexed[e] = len(ks)
			for _, k := range ks {
				ci := &gi[e][k]
				d := galleryDirBits(ci.dir, dropBits)
				for l := range cf.tables {
					b := keyDir(&ci.acc, l, dbinOf(ci.dir))
					buckets[b] = append(buckets[b], posting{int32(e), uint8(d)})
					count++
				}
			}
		}
		limit := max(indexStopMin, cf.stop*count/nb)
		if cf.stop >= 100 {
			// (stop-100) times the mean bucket without indexStopMin's
			// floor: a large gallery's stop words, where the floor never
			// binds (FVC's 640 templates hold a few postings a bucket)
			limit = (cf.stop - 100) * count / nb
		}
		if cf.stop < 0 {
			limit = math.MaxInt // no stop words
		}
		var reads int
		kept := make([][]int, len(grid)) // [threshold][0: index, 1+c: cut c]
		total := make([]int, len(grid))
		for k := range kept {
			kept[k] = make([]int, 1+len(cuts))
		}
		var shortImp int
		passImp := make([]int, len(cuts))
		votes := make([][indexRotBins]int32, n)
		sc := make([]float64, n)
		rb := make([]uint8, n)
		var as alignScratch
		pairAt := 0
		for i := range n {
			clear(votes)
			for _, ci := range pi[i] {
				if ci.ones < indexMinOnes {
					continue
				}
				for l := range cf.tables {
					for db := -1; db <= 1; db++ {
						if dirKey == 0 && db != 0 {
							continue
						}
						ps := buckets[keyDir(&ci.acc, l, (dbinOf(ci.dir)+db+max(1, dirKey))%max(1, dirKey))]
						if len(ps) > limit {
							continue
						}
						reads += len(ps)
						for _, p := range ps {
							gd := uint32(p.dir)<<dropBits | (1 << dropBits >> 1)
							if bin := binOf[(gd-ci.dir)&(indexDirLevels-1)]; bin >= 0 {
								votes[p.e][bin]++
							}
						}
					}
				}
			}
			for e := range n {
				best, at := int32(0), 0
				for b := 0; b+1 < indexRotBins; b++ {
					if v := min(255, votes[e][b]) + min(255, votes[e][b+1]); v > best {
						best, at = v, b
					}
				}
				m := len(gi[e])
				if cf.norm == "indexed" {
					m = indexed[e]
				}
				sc[e] = float64(best) / math.Pow(float64(max(1, m)), cf.alpha)
				rb[e] = uint8(at)
			}
			imp := 0
			var impScores []float64
			for e := range n {
				if fingers[e] != fingers[i] {
					imp++
					impScores = append(impScores, sc[e])
				}
			}
			slices.Sort(impScores)
			// above(v): impostors scoring at least v
			above := func(v float64) int {
				k, _ := slices.BinarySearch(impScores, v)
				return len(impScores) - k
			}
			pen := DefaultPenetration * float64(imp)
			for e := range n {
				if fingers[e] != fingers[i] && float64(above(sc[e])) <= pen {
					shortImp++
					ss := sketchScore(&aps[i], g.cyl.view(g.entries[e]), rb[e], &as)
					for c, cut := range cuts {
						if ss >= cut {
							passImp[c]++
						}
					}
				}
			}
			for ; pairAt < len(pairs) && pairs[pairAt].i == i; pairAt++ {
				p := pairs[pairAt]
				in := float64(above(sc[p.j])) <= pen
				ss := -1
				if in {
					ss = sketchScore(&aps[i], g.cyl.view(g.entries[p.j]), rb[p.j], &as)
				}
				for k, th := range grid {
					if p.full < th {
						continue
					}
					total[k]++
					if in {
						kept[k][0]++
						for c, cut := range cuts {
							if ss >= cut {
								kept[k][1+c]++
							}
						}
					}
				}
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%v: postings/template %.1f, reads/entry/search %.2f, model bytes/entry (47 random) %.0f;", cf, float64(count)/float64(n), float64(reads)/float64(n)/float64(n), shapeBytes(cf))
		for k, th := range grid {
			fmt.Fprintf(&b, " | %.4f (%d): %.2f", th, total[k], 100*float64(kept[k][0])/float64(max(1, total[k])))
			for c := range cuts {
				fmt.Fprintf(&b, "/%.2f", 100*float64(kept[k][1+c])/float64(max(1, total[k])))
			}
		}
		fmt.Fprintf(&b, " | impostors passed at cuts %v:", cuts)
		for c := range cuts {
			fmt.Fprintf(&b, " %.3f", float64(passImp[c])/float64(max(1, shortImp)))
		}
		return b.String()
	}
	for _, sp := range strings.Split(spec, ";") {
		var cf shape
		if _, err := fmt.Sscanf(strings.TrimSpace(sp), "%d %d %d %d %s %d %g %s %d", &cf.tables, &cf.band, &cf.bucketBits, &cf.maxCyl, &cf.sel, &cf.dirBits, &cf.alpha, &cf.norm, &cf.stop); err != nil {
			t.Fatalf("shape %q: %v", sp, err)
		}
		if cf.tables*cf.band > shapeFuncs {
			t.Fatalf("shape %q: more than %d functions", sp, shapeFuncs)
		}
		t.Log(run(cf))
	}
}

// galleryDirBits is a gallery direction level kept to its top 8-drop bits.
func galleryDirBits(l uint32, drop int) uint32 { return l >> drop }
