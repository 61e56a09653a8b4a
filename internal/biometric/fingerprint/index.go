package fingerprint

import (
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
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
// penetration rate.
const (
	indexTables     = 32 // MinHash tables
	indexBand       = 3  // MinHash values in one key
	indexBucketBits = 15 // buckets per table: 32,768 (unrelated keys share a bucket; a few spurious votes)
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

// minhashRank[p][f] is the rank of bit position p in the f-th random
// permutation of the positions. Read-only after init; the seed is fixed so
// that a probe and a gallery are keyed alike (the index lives in memory and
// is rebuilt at every start, so it never has to match another binary's).
var minhashRank = func() *[cylWords * 64][indexTables * indexBand]uint16 {
	var t [cylWords * 64][indexTables * indexBand]uint16
	rng := rand.New(rand.NewPCG(0x6d696e68, 0x61736821))
	for f := range indexTables * indexBand {
		for rank, p := range rng.Perm(cylWords * 64) {
			t[p][f] = uint16(rank)
		}
	}
	return &t
}()

// cylinderKeys computes the bucket of one cylinder in every table. It
// reports false for a cylinder with too few bits set to index.
func cylinderKeys(b *cylBits, out *[indexTables]uint32) bool {
	var acc [indexTables * indexBand]uint16
	for f := range acc {
		acc[f] = math.MaxUint16
	}
	n := 0
	for w, x := range b {
		for x != 0 {
			row := &minhashRank[w*64+bits.TrailingZeros64(x)]
			for f := range acc {
				acc[f] = min(acc[f], row[f])
			}
			x &= x - 1
			n++
		}
	}
	if n < indexMinOnes {
		return false
	}
	const positions = cylWords * 64
	for l := range indexTables {
		k := (uint32(acc[l*indexBand])*positions+uint32(acc[l*indexBand+1]))*positions + uint32(acc[l*indexBand+2])
		out[l] = uint32(l)<<indexBucketBits | (k*0x9e3779b1)>>(32-indexBucketBits)
	}
	return true
}

// dirLevel quantises a direction in [0, 2π) to indexDirLevels levels.
func dirLevel(d float32) uint32 {
	return uint32(int(d*(indexDirLevels/(2*math.Pi)))) % indexDirLevels
}

// index maps buckets to postings: entry number << 8 | direction level. It
// is not safe for concurrent use on its own; the Gallery's lock guards it
// (add and remap under the write lock, votes under the read lock).
type index struct {
	postings [][]uint32 // [table<<indexBucketBits | bucket]
	count    int        // postings held
}

func newIndex() *index {
	return &index{postings: make([][]uint32, indexTables<<indexBucketBits)}
}

// cylinderKey is one indexed cylinder: its bucket in every table and its
// direction level.
type cylinderKey struct {
	buckets [indexTables]uint32
	dir     uint32
}

// indexKeys computes the keys of every cylinder of c that is indexed.
func indexKeys(c *cylinders) []cylinderKey {
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

// add indexes the cylinders of entry e, whose keys are ks (computed here
// when nil).
func (x *index) add(e int, c cylinders, ks []cylinderKey) {
	if ks == nil {
		ks = indexKeys(&c)
	}
	for _, k := range ks {
		p := uint32(e)<<8 | k.dir
		for _, b := range k.buckets {
			x.postings[b] = append(x.postings[b], p)
		}
	}
	x.count += len(ks) * indexTables
}

// remap renumbers the entries after a compaction: newNum[e] is the new
// number of entry e, or -1 when it was dropped.
func (x *index) remap(newNum []int32) {
	x.count = 0
	for b, ps := range x.postings {
		out := ps[:0]
		for _, p := range ps {
			if n := newNum[p>>8]; n >= 0 {
				out = append(out, uint32(n)<<8|p&0xff)
			}
		}
		x.postings[b] = slices.Clip(out)
		x.count += len(out)
	}
}

// sizeBytes is the memory the postings take, their spare capacity
// included.
func (x *index) sizeBytes() int {
	n := len(x.postings) * 24
	for _, ps := range x.postings {
		n += cap(ps) * 4
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

// probeLists returns the posting lists a probe's cylinders (keys pk) read,
// with each cylinder's direction level, leaving out stop-word buckets.
func (x *index) probeLists(pk []cylinderKey) []postingList {
	limit := max(indexStopMin, indexStopFactor*x.count/len(x.postings))
	out := make([]postingList, 0, len(pk)*indexTables)
	for _, ck := range pk {
		for _, k := range ck.buckets {
			if ps := x.postings[k]; len(ps) > 0 && len(ps) <= limit {
				out = append(out, postingList{ps, ck.dir})
			}
		}
	}
	return out
}

type postingList struct {
	ps  []uint32
	dir uint32 // the probe cylinder's direction level
}

// voteBlock counts the votes for entries [lo, hi) into votes (indexRotBins
// saturating counters per entry, entry lo first).
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

// indexScore is an entry's index score from its rotation bins.
func indexScore(bins []uint8, ncyl int32) float32 {
	best := uint32(0)
	for b := 0; b+1 < len(bins); b++ {
		best = max(best, uint32(bins[b])+uint32(bins[b+1]))
	}
	return float32(best) * invSqrt[max(1, min(int(ncyl), MaxTemplateMinutiae))]
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
