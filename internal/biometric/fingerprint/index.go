package fingerprint

import (
	"cmp"
	"encoding/binary"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"unsafe"
)

// The gallery index: a first pass that picks, among all gallery entries, the
// few worth a full comparison.
//
// A bit cylinder is sparse (about 30 of its 672 bits set), so the index
// hashes it with MinHash, whose collision probability is the Jaccard
// similarity of the two sets of bits: cylinders of the same minutia in two
// impressions collide often, unrelated cylinders almost never. Each of
// indexTables tables keys a cylinder by indexBand MinHash values (Broder's
// banding), and lists, per bucket, the gallery entries with a cylinder in it
// and that cylinder's minutia direction.
//
// A probe's cylinders are looked up in every table; each collision whose two
// minutia directions differ by at most maxDirGap is a vote for its entry,
// counted per bin of the direction difference (the rotation between the two
// impressions). An entry's index score is its best pair of neighbouring
// rotation bins, divided by the square root of its cylinder count (a large
// template collects chance votes in proportion to its size). Only the
// entries with the highest index scores are compared in full.
//
// The parameters were chosen on the eight FVC B sets pooled (640 templates):
// see docs/fingerprint.md for the fraction of genuine pairs kept at each
// penetration rate. Since the fourteenth pass of issue 17, 20 tables of 2
// MinHash values in 4,096 buckets, gallery directions in 32 levels (see
// unitDirBits), 14-bit postings: at the 1:N threshold of 200,000 templates
// (0.1085) 99.90 % of the genuine pairs kept at 2 % penetration, 99.73 %
// after the second stage (15 tables of 3 values in 32,768 buckets, 18-bit
// postings, before: 99.17 / 99.03 %), and on the STFT engine's cylinders
// (its gallery form's 64 best) 99.46 / 99.11 % at the raw score 0.07
// (98.23 / 97.93 % before), at about the same memory a random 47-cylinder
// entry (TestIndexRetention, TestSecondStageRetention, TestIndexShapes).
const (
	indexTables     = 20 // MinHash tables
	indexBand       = 2  // MinHash values in one key
	indexBucketBits = 12 // buckets per table: 4,096 (unrelated keys share a bucket; a few spurious votes)
	indexMinOnes    = 4  // cylinders with fewer bits set are not indexed (they collide with everything)
	indexRotBins    = 16 // rotation bins over [-maxDirGap, maxDirGap] (7.5 degrees each)
	// indexStopFactor: a bucket holding more than this many times the mean
	// bucket (and more than indexStopMin) is skipped at search, like a stop
	// word: a key that common says little, and such buckets would make most
	// of the work (on FVC this keeps slightly more genuine pairs, too).
	indexStopFactor = 8
	indexStopMin    = 32
	indexDirLevels  = 256
	// indexMaxEntries bounds the entry numbers a posting can hold (24 bits).
	indexMaxEntries = 1 << 24
)

// indexDirGap is maxDirGap in direction levels.
var indexDirGap = int32(math.Floor(float64(maxDirGap) / (2 * math.Pi) * indexDirLevels))

// minhashFuncs is the number of MinHash functions computed: the keys use
// the first indexTables*indexBand; minhashSSE41 takes 8 at a time.
const minhashFuncs = 48

var _ [minhashFuncs - indexTables*indexBand]struct{} // the keys' functions are all computed

// minhashRank[p][f] is the rank of bit position p in the f-th random
// permutation of the positions. Read-only after init; the seed is fixed so
// that a probe and a gallery are keyed alike (the index lives in memory and
// is rebuilt at every start, so it never has to match another binary's).
var minhashRank = func() *[cylWords * 64][minhashFuncs]uint16 {
	var t [cylWords * 64][minhashFuncs]uint16
	rng := rand.New(rand.NewPCG(0x6d696e68, 0x61736821))
	for f := range minhashFuncs {
		for rank, p := range rng.Perm(cylWords * 64) {
			t[p][f] = uint16(rank)
		}
	}
	return &t
}()

// cylinderKeys computes the bucket of one cylinder in every table. It
// reports false for a cylinder with too few bits set to index.
func cylinderKeys(b *cylBits, out *[indexTables]uint32) bool {
	var pos [cylWords * 64]uint16
	n := 0
	for w, x := range b {
		for x != 0 {
			pos[n] = uint16(w*64 + bits.TrailingZeros64(x))
			n++
			x &= x - 1
		}
	}
	return positionKeys(pos[:n], out)
}

// positionKeys is cylinderKeys for a cylinder given by the positions of
// its 1 bits.
func positionKeys(pos []uint16, out *[indexTables]uint32) bool {
	_, ok := positionKeysSketch(pos, out)
	return ok
}

// positionKeysSketch is positionKeys that also returns the cylinder's
// sketch (see cylinderSketch; 0 when the cylinder is not indexed).
func positionKeysSketch(pos []uint16, out *[indexTables]uint32) (uint32, bool) {
	if len(pos) < indexMinOnes {
		return 0, false
	}
	var acc [minhashFuncs]uint16
	if useSSE41 {
		minhashSSE41(minhashRank, pos, &acc)
	} else {
		minhashGo(minhashRank, pos, &acc)
	}
	sk := cylinderSketch(&acc)
	const positions = cylWords * 64
	for l := range indexTables {
		k := uint32(0)
		for b := range indexBand {
			k = k*positions + uint32(acc[l*indexBand+b])
		}
		out[l] = uint32(l)<<indexBucketBits | (k*0x9e3779b1)>>(32-indexBucketBits)
	}
	return sk, true
}

// minhashGo sets out[f] to the least rank[p][f] over the positions p in pos
// (math.MaxUint16 when pos is empty).
func minhashGo(rank *[cylWords * 64][minhashFuncs]uint16, pos []uint16, out *[minhashFuncs]uint16) {
	for f := range out {
		out[f] = math.MaxUint16
	}
	for _, p := range pos {
		row := &rank[p]
		for f := range out {
			out[f] = min(out[f], row[f])
		}
	}
}

// dirLevel quantises a direction in [0, 2π) to indexDirLevels levels.
func dirLevel(d float32) uint32 {
	return uint32(int(d*(indexDirLevels/(2*math.Pi)))) % indexDirLevels
}

// index maps buckets to postings (an entry number and the direction level
// of its cylinder). It is not safe for concurrent use on its own; the
// Gallery's lock guards it (add and remap under the write lock, votes under
// the read lock).
//
// Entries are numbered in the order they are added. The postings of runs
// of consecutive entries (at most seg of them) are sealed into segments:
// stored bucket after bucket in one flat array (compressed sparse rows),
// each posting as a unitBits-bit unit (the gap from the bucket's previous
// entry and the direction level: see segment; 14 bits), with no
// spare capacity and no slice header per bucket. A segment is sealed
// whenever the tail holds seg entries, and at the end of a load
// (Gallery.Seal). The postings of the entries after the last segment (the
// tail) are kept per bucket, 4 bytes each (entry number << 8 | direction
// level). Within a bucket, postings are in increasing entry order in every
// segment and in the tail.
type index struct {
	seg       int // most entries in a segment: segEntries (tests lower it)
	sealed    []*segment
	tailStart int        // first entry of the tail: the end of the last segment
	tail      [][]uint32 // [table<<indexBucketBits | bucket]; nil while empty after sealing
	tailCount int        // postings in the tail
	count     int        // postings held in all
}

// segEntries is the most entries in a segment.
const (
	segBits    = 16
	segEntries = 1 << segBits
	buckets    = indexTables << indexBucketBits
)

// segment is the sealed postings of entries [start, start+n): bucket b's
// are the units [off[b], off[b+1]) of units. A unit is unitBits bits,
// gap<<unitDirBits | dir: the posting's entry (number within the segment)
// is the previous posting's in the bucket (0 before the first) plus gap (0
// when two cylinders of an entry share the bucket), and dir its direction
// level's top unitDirBits bits (gallery cylinders' levels are quantised so,
// in indexKeys). A gap of unitEscape or more takes an escape unit
// (unitEscape<<unitDirBits, no posting; the previous entry advances by
// unitEscape) per unitEscape first: with 4,096 buckets a table, an
// entry's postings fall about 90 entries apart in a bucket, so escapes
// are rare (under 1 % of the units). Unit i is bits [i*unitBits,
// (i+1)*unitBits) of units, least significant bit first.
type segment struct {
	start, n int
	postings int      // postings held (units less escapes)
	off      []uint32 // buckets+1
	units    []byte
}

// A gallery cylinder's direction level is kept to its top unitDirBits bits
// in the index (the middle of its range of levels): of the direction
// difference's rotation bins (indexRotBins over 2 maxDirGap, about 5.3
// levels each) a vote may fall in the neighbouring one, which the index
// score's pair of neighbouring bins mostly absorbs. The probe's levels are
// kept whole.
const (
	unitDirBits = 5
	dirDrop     = 8 - unitDirBits
	dirHalf     = 1 << dirDrop >> 1
)

// galleryDir is the level a gallery cylinder of level l is indexed at.
func galleryDir(l uint32) uint32 { return l>>dirDrop<<dirDrop | dirHalf }

// dirOfUnit is the direction level of a unit's posting.
func dirOfUnit(u uint32) uint32 { return (u&(1<<unitDirBits-1))<<dirDrop | dirHalf }

const (
	// unitGapBits: an entry's postings fall about 2^indexBucketBits/47
	// entries apart in a bucket (47 indexed cylinders an entry), so a gap
	// needs an escape unit with probability about exp(-2^unitGapBits/87):
	// under 0.3 %.
	unitGapBits = indexBucketBits - 3
	unitBits    = unitGapBits + unitDirBits
	unitEscape  = 1<<unitGapBits - 1 // the gap of an escape unit
	unitMask    = 1<<unitBits - 1
)

// unit returns unit i.
func (s *segment) unit(i uint32) uint32 {
	bit := uint(i) * unitBits
	k := bit >> 3
	u := s.units[k : k+3 : k+3]
	v := uint32(u[0]) | uint32(u[1])<<8 | uint32(u[2])<<16
	return v >> (bit & 7) & unitMask
}

// unitBytes is the bytes that hold n units (and the padding unit reads).
func unitBytes(n int) int { return (n*unitBits+7)/8 + 3 }

// putUnit writes unit i (v <= unitMask) into a zeroed buf.
func putUnit(buf []byte, i int, v uint32) {
	bit := uint(i) * unitBits
	k := bit >> 3
	w := v << (bit & 7)
	buf[k] |= byte(w)
	buf[k+1] |= byte(w >> 8)
	buf[k+2] |= byte(w >> 16)
}

// unitsFor is the number of units that code an entry d after the
// previous one (the gap).
func unitsFor(d uint32) int { return int(d/unitEscape) + 1 }

// decode calls f(entry, dir) for every posting of bucket b, in order.
func (s *segment) decode(b int, f func(e int, dir uint32)) {
	prev := 0
	for i := s.off[b]; i < s.off[b+1]; i++ {
		u := s.unit(i)
		if gap := int(u >> unitDirBits); gap == unitEscape {
			prev += unitEscape
		} else {
			prev += gap
			f(prev, dirOfUnit(u))
		}
	}
}

func newIndex(seg int) *index {
	return &index{seg: seg}
}

// cylinderKey is one indexed cylinder: its bucket in every table and its
// direction level.
type cylinderKey struct {
	buckets [indexTables]uint32
	dir     uint32
}

// indexKeys computes the keys of every cylinder of a gallery entry that is
// indexed, and sets every cylinder's sketch in p.sk.
func indexKeys(p packed) []cylinderKey {
	out := make([]cylinderKey, 0, p.n())
	var k cylinderKey
	p.positions(func(i int, pos []uint16) {
		sk, ok := positionKeysSketch(pos, &k.buckets)
		p.sk[i] = sk
		if ok {
			k.dir = galleryDir(p.geom[i].dirLevel())
			out = append(out, k)
		}
	})
	return out
}

// probeKeys computes the keys of every cylinder of a probe that is indexed.
func probeKeys(c *cylinders) []cylinderKey {
	out := make([]cylinderKey, 0, c.n())
	var k cylinderKey
	for i := range c.bits {
		if cylinderKeys(&c.bits[i], &k.buckets) {
			k.dir = dirLevel(c.dir[i])
			out = append(out, k)
		}
	}
	return out
}

// addBatch indexes entries first, first+1, ..., whose cylinders' keys are
// ks[0], ks[1], ... (nil for an entry not indexed). Entries must be added
// in increasing order of their numbers, each after every entry already
// indexed. The postings are appended table by table, the tables spread over
// the cores: one table's buckets (768 KiB of slice headers) stay in the
// core's cache while it works, where appending entry by entry would touch
// every table's buckets for every entry.
func (x *index) addBatch(first int, ks [][]cylinderKey) {
	n := 0
	for _, k := range ks {
		n += len(k)
	}
	if x.tail == nil {
		x.tail = make([][]uint32, buckets)
	}
	parallel(indexTables, func(t int) {
		tail := x.tail[t<<indexBucketBits : (t+1)<<indexBucketBits]
		lo := uint32(t) << indexBucketBits
		// Grow each bucket once for the batch, doubling (append grows a
		// large slice by a quarter, copying it again and again while a load
		// fills the tail; the tail's spare room goes when it is sealed).
		// (Not worth a pass over the table's buckets for a few entries.)
		if len(ks) >= 64 {
			var more [1 << indexBucketBits]int32
			for _, k := range ks {
				for j := range k {
					more[k[j].buckets[t]-lo]++
				}
			}
			for b, m := range more {
				if ps := tail[b]; m > 0 && cap(ps)-len(ps) < int(m) {
					tail[b] = slices.Grow(ps, max(int(m), len(ps)))
				}
			}
		}
		for i, k := range ks {
			e := uint32(first+i) << 8
			for j := range k {
				b := k[j].buckets[t] - lo
				tail[b] = append(tail[b], e|k[j].dir)
			}
		}
	})
	x.count += n * indexTables
	x.tailCount += n * indexTables
	for first+len(ks)-x.tailStart >= x.seg {
		x.seal(x.seg)
	}
}

// sealAll seals the whole tail, whose last entry is entries-1.
func (x *index) sealAll(entries int) {
	for entries > x.tailStart {
		x.seal(min(x.seg, entries-x.tailStart))
	}
	x.tail = nil
}

// seal moves the postings of the tail's first n entries into a segment.
func (x *index) seal(n int) {
	base := uint32(x.tailStart)
	end := base + uint32(n)
	s := &segment{start: x.tailStart, n: n, off: make([]uint32, buckets+1)}
	if x.tail == nil {
		x.sealed = append(x.sealed, s)
		x.tailStart += n
		return
	}
	// How many postings of each bucket fall in the segment, and the units
	// that code them.
	cut := make([]int, buckets)
	total, units := 0, 0
	for b, ps := range x.tail {
		k, _ := slices.BinarySearchFunc(ps, end, func(p, e uint32) int { return cmpU32(p>>8, e) })
		cut[b] = k
		total += k
		prev := base
		for _, p := range ps[:k] {
			units += unitsFor(p>>8 - prev)
			prev = p >> 8
		}
	}
	s.units = make([]byte, unitBytes(units))
	at := 0
	for b, ps := range x.tail {
		s.off[b] = uint32(at)
		prev := base
		for _, p := range ps[:cut[b]] {
			d := p>>8 - prev
			for ; d >= unitEscape; d -= unitEscape {
				putUnit(s.units, at, unitEscape<<unitDirBits)
				at++
			}
			putUnit(s.units, at, d<<unitDirBits|(p&0xff)>>dirDrop)
			at++
			prev = p >> 8
		}
		if rest := ps[cut[b]:]; len(rest) == 0 {
			x.tail[b] = nil
		} else {
			x.tail[b] = slices.Clone(rest)
		}
	}
	s.off[buckets] = uint32(at)
	s.postings = total
	x.sealed = append(x.sealed, s)
	x.tailStart += n
	x.tailCount -= total
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// remap renumbers the entries after a compaction: newNum[e] is the new
// number of entry e, or -1 when it was dropped. Renumbering keeps the
// order, so every bucket stays in entry order; everything is sealed again
// on the new numbers.
func (x *index) remap(newNum []int32) {
	tail := make([][]uint32, buckets)
	count := 0
	for b := range tail {
		var out []uint32
		for _, s := range x.sealed {
			s.decode(b, func(e int, dir uint32) {
				if n := newNum[s.start+e]; n >= 0 {
					out = append(out, uint32(n)<<8|dir)
				}
			})
		}
		if x.tail != nil {
			for _, p := range x.tail[b] {
				if n := newNum[p>>8]; n >= 0 {
					out = append(out, uint32(n)<<8|p&0xff)
				}
			}
		}
		tail[b] = slices.Clip(out)
		count += len(out)
	}
	live := 0
	for _, n := range newNum {
		if n >= 0 {
			live++
		}
	}
	*x = index{seg: x.seg, tail: tail, count: count, tailCount: count}
	x.sealAll(live)
}

// sizeBytes is the memory the postings take, the spare capacity of the
// tail's buckets included.
func (x *index) sizeBytes() int {
	n := cap(x.tail) * 24
	for _, ps := range x.tail {
		n += cap(ps) * 4
	}
	for _, s := range x.sealed {
		n += cap(s.off)*4 + cap(s.units)
	}
	return n
}

// binOf maps a direction difference in levels (mod indexDirLevels) to its
// rotation bin, or -1 beyond maxDirGap. Read-only after init.
var binOf = func() (t [indexDirLevels]int8) {
	gap := indexDirGap
	for d := range int32(indexDirLevels) {
		s := d
		if s >= indexDirLevels/2 {
			s -= indexDirLevels
		}
		t[d] = -1
		if s >= -gap && s <= gap {
			t[d] = int8((s + gap) * indexRotBins / (2*gap + 1))
		}
	}
	return t
}()

// indexBlock is the number of entries whose votes are counted at a time:
// their counters (indexRotBins bytes each, 256 KiB) stay in the core's
// cache while the postings of every probe bucket that fall in the block are
// read. Postings are in increasing entry order in every bucket (entries are
// numbered in the order they are added, and compaction keeps the order), so
// each bucket's postings for a block are one run.
const indexBlock = 1 << 14

// probeLists is what a probe's cylinders read from the index: for each of
// its keys, the bucket's postings in every segment and in the tail, leaving
// out stop-word buckets.
type probeLists struct {
	segs   []*segment
	sealed [][]segList // [segment]
	tail   []postingList
	base   int // number of the tail's first entry
}

// segList is a bucket's units in a segment: [lo, hi).
type segList struct {
	lo, hi uint32
	pdir   uint32 // the probe cylinder's direction level
}

// segCursor is where the decoding of a segList stands: the next unit and
// the entry before it (0 at the start).
type segCursor struct {
	at   uint32
	prev int32
}

type postingList struct {
	ps  []uint32
	dir uint32 // the probe cylinder's direction level
}

// probeLists returns the posting lists a probe's cylinders (keys pk) read.
// A bucket holding more than indexStopFactor times the mean (and more than
// indexStopMin) postings of its segment, or of the tail, is skipped there
// (in a segment, a bucket's units are counted: its postings and its rare
// escapes).
func (x *index) probeLists(pk []cylinderKey) probeLists {
	out := probeLists{segs: x.sealed, sealed: make([][]segList, len(x.sealed)), base: x.tailStart}
	for k, s := range x.sealed {
		limit := uint32(max(indexStopMin, indexStopFactor*s.postings/buckets))
		ls := make([]segList, 0, len(pk)*indexTables)
		for _, ck := range pk {
			for _, b := range ck.buckets {
				lo, hi := s.off[b], s.off[b+1]
				if hi > lo && hi-lo <= limit {
					ls = append(ls, segList{lo, hi, ck.dir})
				}
			}
		}
		out.sealed[k] = ls
	}
	if x.tail == nil {
		return out
	}
	limit := max(indexStopMin, indexStopFactor*x.tailCount/buckets)
	out.tail = make([]postingList, 0, len(pk)*indexTables)
	for _, ck := range pk {
		for _, b := range ck.buckets {
			if ps := x.tail[b]; len(ps) > 0 && len(ps) <= limit {
				out.tail = append(out.tail, postingList{ps, ck.dir})
			}
		}
	}
	return out
}

// voter counts the votes of one probe's lists block after block, the
// blocks in increasing order: sealed postings are decoded from the start
// of their bucket, so each list's cursor carries over from one block to
// the next. One goroutine uses a voter.
type voter struct {
	pl   *probeLists
	curs [][]segCursor // [segment][list]; nil until the segment is reached
}

func (pl *probeLists) voter() *voter {
	return &voter{pl: pl, curs: make([][]segCursor, len(pl.segs))}
}

// vote counts the votes for entries [lo, hi) into votes (indexRotBins
// saturating counters per entry, entry lo first). lo must be at least the
// hi of the voter's previous call; hi-lo at most indexBlock, and votes
// holds indexBlock entries' counters.
func (v *voter) vote(lo, hi int, votes []uint8) {
	pl := v.pl
	off := 0 // entry lo's counters in votes
	// the first segment that ends after lo
	k, _ := slices.BinarySearchFunc(pl.segs, lo, func(s *segment, e int) int { return cmp.Compare(s.start+s.n-1, e) })
	for ; lo < hi && k < len(pl.segs); k++ {
		s := pl.segs[k]
		end := min(hi, s.start+s.n)
		if v.curs[k] == nil {
			cs := make([]segCursor, len(pl.sealed[k]))
			for i, l := range pl.sealed[k] {
				cs[i] = segCursor{at: l.lo}
			}
			v.curs[k] = cs
		}
		voteSegment(s, pl.sealed[k], v.curs[k], lo-s.start, end-s.start, votes, off)
		off += end - lo
		lo = end
	}
	if lo < hi {
		voteBlock(pl.tail, lo, hi, votes[off*indexRotBins:])
	}
}

// voteSegment is voteBlock for sealed postings, from where the cursors
// stand; lo and hi are numbers within the segment. votes holds indexBlock
// entries' counters, entry lo's the off-th (off+hi-lo <= indexBlock).
func voteSegment(s *segment, lists []segList, curs []segCursor, lo, hi int, votes []uint8, off int) {
	first, end := int32(lo), int32(hi)
	base := int32(off) - first // entry e's counters: the (base+e)-th
	// units[at*unitBits/8:][:4] is read without bounds checks: at is below
	// the bucket's hi, and unitBytes pads the units for the 4 bytes
	units := unsafe.Pointer(unsafe.SliceData(s.units))
	// The counters as one block's array: an index masked to it needs no
	// bounds check (it is in range anyway: first <= e < end).
	vb := (*[indexBlock * indexRotBins]uint8)(votes[:indexBlock*indexRotBins])
	for j := range lists {
		l, c := &lists[j], &curs[j]
		at, prev, stop := c.at, c.prev, l.hi
		// the postings before the block (a goroutine's first block) are
		// passed over
		for at < stop {
			u := unitAt(units, at)
			gap := int32(u >> unitDirBits)
			if gap == unitEscape {
				prev += unitEscape
			} else if prev+gap >= first {
				break
			} else {
				prev += gap
			}
			at++
		}
		tab := &dirBins[l.pdir&(indexDirLevels-1)]
		for ; at < stop; at++ {
			u := unitAt(units, at)
			gap := int32(u >> unitDirBits)
			if gap == unitEscape {
				prev += unitEscape
				continue
			}
			e := prev + gap
			if e >= end {
				break
			}
			prev = e
			// Without branches (whether the directions agree is a coin
			// toss to the predictor): a posting beyond maxDirGap adds 0
			// (to its entry's bin 0), and a counter at 255 stays.
			d := tab[u&(1<<unitDirBits-1)]
			v := &vb[(int(base+e)*indexRotBins+int(d&(indexRotBins-1)))&(indexBlock*indexRotBins-1)]
			x := *v
			*v = x + d>>4&uint8((uint32(x)+1)>>8^1)
		}
		c.at, c.prev = at, prev
	}
}

// unitAt is s.unit(i) for units, s.units's first byte, without bounds
// checks: i must be below s.off[buckets] (unitBytes's padding lets it read
// 4 bytes).
func unitAt(units unsafe.Pointer, i uint32) uint32 {
	bit := uint(i) * unitBits
	b := (*[4]byte)(unsafe.Add(units, bit>>3))
	return binary.LittleEndian.Uint32(b[:]) >> (bit & 7) & unitMask
}

// dirBins[p][d] is the rotation bin of a sealed posting of direction bits
// d (see dirOfUnit) for a probe cylinder of level p, coded for
// voteSegment: 16 | bin (binOf's) within maxDirGap, 0 beyond it.
// Read-only after init.
var dirBins = func() (t [indexDirLevels][1 << unitDirBits]uint8) {
	for p := range uint32(indexDirLevels) {
		for d := range uint32(1 << unitDirBits) {
			if bin := binOf[(dirOfUnit(d)-p)&(indexDirLevels-1)]; bin >= 0 {
				t[p][d] = 16 | uint8(bin)
			}
		}
	}
	return t
}()

var _ = [1]struct{}{}[indexRotBins-16] // dirBins's code: bin in 4 bits

// voteBlock counts the votes of the tail's postings for entries [lo, hi)
// into votes (indexRotBins saturating counters per entry, entry lo first).
func voteBlock(lists []postingList, lo, hi int, votes []uint8) {
	first, end := uint32(lo)<<8, uint32(hi)<<8
	for _, l := range lists {
		ps := l.ps
		// first posting of the block: binary search
		a, b := 0, len(ps)
		for a < b {
			m := int(uint(a+b) >> 1)
			if ps[m] < first {
				a = m + 1
			} else {
				b = m
			}
		}
		for _, p := range ps[a:] {
			if p >= end {
				break
			}
			if bin := binOf[(p-l.dir)&(indexDirLevels-1)]; bin >= 0 {
				if v := &votes[int(p>>8-uint32(lo))*indexRotBins+int(bin)]; *v < math.MaxUint8 {
					*v++
				}
			}
		}
	}
}

// invSqrt[n] is 1/sqrt(n) for cylinder counts (n >= 1).
var invSqrt = func() (t [MaxTemplateMinutiae + 1]float32) {
	for n := 1; n < len(t); n++ {
		t[n] = float32(1 / math.Sqrt(float64(n)))
	}
	return t
}()

// indexScoreBin is an entry's index score from its rotation bins, and the
// first bin of the best pair of neighbouring bins (the lowest such bin of
// a tie): the rotation between the two impressions, as the index sees it.
func indexScoreBin(bins []uint8, ncyl uint8) (float32, uint8) {
	best, at := uint32(0), 0
	for b := 0; b+1 < len(bins); b++ {
		if v := uint32(bins[b]) + uint32(bins[b+1]); v > best {
			best, at = v, b
		}
	}
	return float32(best) * invSqrt[max(1, min(int(ncyl), MaxTemplateMinutiae))], uint8(at)
}

// topK returns the numbers of the k entries with the highest scores (all
// of them when there are fewer), in increasing order. scores is reordered.
func topK(scores []scored, k int) []int32 {
	if k < len(scores) {
		selectHighest(scores, k)
		scores = scores[:k]
	}
	out := make([]int32, len(scores))
	for i, s := range scores {
		out[i] = s.entry()
	}
	slices.Sort(out)
	return out
}

// scored is an entry's index score and number in one sortable word: the
// score's float32 bits (order-preserving for scores >= 0) above the
// complement of the number, so that a higher word is a higher score, or an
// equal score and a lower number.
type scored uint64

func makeScored(score float32, entry int32) scored {
	return scored(uint64(math.Float32bits(score))<<32 | uint64(^uint32(entry)))
}

func (s scored) score() float32 { return math.Float32frombits(uint32(s >> 32)) }
func (s scored) entry() int32   { return int32(^uint32(s)) }

// selectHighest reorders s so that s[:k] holds its k highest elements, in
// any order among themselves (quickselect). The elements must be distinct.
func selectHighest[T ~uint64](s []T, k int) {
	lo, hi := 0, len(s)-1
	for lo < hi && k > 0 && k < len(s) {
		// median of three as pivot, sorted high to low
		mid := int(uint(lo+hi) >> 1)
		if s[mid] > s[lo] {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if s[hi] > s[lo] {
			s[hi], s[lo] = s[lo], s[hi]
		}
		if s[hi] > s[mid] {
			s[hi], s[mid] = s[mid], s[hi]
		}
		pivot := s[mid]
		i, j := lo, hi
		for i <= j {
			for s[i] > pivot {
				i++
			}
			for pivot > s[j] {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		// s[lo..j] >= pivot >= s[i..hi]
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}
