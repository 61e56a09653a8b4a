package fingerprint

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/bits"
	"runtime/pprof"
	rtrace "runtime/trace"
	"slices"
	"sync"
	"unsafe"

	"github.com/assent-registry/assent/internal/gallery"
	"github.com/assent-registry/assent/internal/hugepage"
)

// The gallery form of an entry is what a gallery holds of it, and what
// building its index needs, as bytes: a gallery snapshot (internal/dedup)
// stores it, sealed, so that a start loads a gallery without decoding
// templates or computing MinHash keys. Layout (little-endian):
//
//	n              1 byte   cylinders
//	geometry       8 bytes a cylinder (cylGeom: x, y, dir, onesTyp)
//	gaps length    uvarint, then the Rice-coded bit positions (packed.gaps)
//	k              1 byte   cylinders indexed
//	per indexed cylinder: its index direction level (1 byte) and its
//	bucket in each of the indexTables tables (2 bytes each, the bucket
//	within the table)
//	sketches       4 bytes a cylinder (packed.sk: the second search
//	               stage's; 0 for a cylinder not indexed)
//
// It is derived biometric data: whoever stores it must protect it as the
// template it comes from. It is tied to this code's cylinders, packing and
// index (FormVersion); a form of another version is refused.

// ErrForm is a gallery form that does not parse, or a form build that
// cannot go on (a key given twice).
var ErrForm = errors.New("fingerprint: invalid gallery form")

// FormVersion names the gallery form this code writes and reads: it
// changes with the cylinder code, the packing and the index's parameters
// (tables, band, buckets, directions, the MinHash permutations).
var FormVersion = func() string {
	h := crc32.NewIEEE()
	var b [4]byte
	for p := range minhashRank {
		for f := range minhashFuncs {
			binary.LittleEndian.PutUint16(b[:], minhashRank[p][f])
			h.Write(b[:2])
		}
	}
	return fmt.Sprintf("afp-gallery/3 cyl=%08x rice=%d tables=%d band=%d buckets=%d dirbits=%d minones=%d perm=%08x",
		cylinderTag, riceK, indexTables, indexBand, indexBucketBits, unitDirBits, indexMinOnes, h.Sum32())
}()

// gapsLen is how many bytes of gaps code p's bit positions.
func (p packed) gapsLen() int {
	r := gapReader{b: p.gaps}
	nbits := 0
	for _, cg := range p.geom {
		for range cg.ones() {
			if r.n < 48 {
				r.refill()
			}
			q := uint(bits.TrailingZeros64(r.v))
			r.v >>= q + 1 + riceK
			r.n -= q + 1 + riceK
			nbits += int(q) + 1 + riceK
		}
	}
	return (nbits + 7) / 8
}

// AppendForm appends the gallery form of the entry under key to dst; ok
// is false when the gallery holds no entry under key. Its MinHash keys are
// computed again (the index does not keep them per entry).
func (g *Gallery) AppendForm(dst []byte, key string) (_ []byte, ok bool) {
	g.mu.RLock()
	k, ok := g.names.Lookup(key)
	var i int32
	if ok {
		i, ok = g.index[k]
	}
	var p packed
	if ok {
		p = g.cyl.view(g.entries[i])
		p.gaps = p.gaps[:p.gapsLen()]
	}
	g.mu.RUnlock()
	if !ok {
		return dst, false
	}
	// The chunks are never reallocated and an entry's bytes never change
	// (a compaction makes new chunks), so p stays valid unlocked.
	return appendForm(dst, p), true
}

func appendForm(dst []byte, p packed) []byte {
	dst = append(dst, byte(p.n()))
	for _, g := range p.geom {
		dst = binary.LittleEndian.AppendUint16(dst, g.x)
		dst = binary.LittleEndian.AppendUint16(dst, g.y)
		dst = binary.LittleEndian.AppendUint16(dst, g.dir)
		dst = binary.LittleEndian.AppendUint16(dst, g.onesTyp)
	}
	dst = binary.AppendUvarint(dst, uint64(len(p.gaps)))
	dst = append(dst, p.gaps...)
	// indexKeys sets the sketches in p.sk: in a copy, never in the
	// gallery's chunk that p views (searches read it unlocked).
	p.sk = make([]uint32, p.n())
	ks := indexKeys(p)
	dst = append(dst, byte(len(ks)))
	for _, k := range ks {
		dst = append(dst, byte(k.dir))
		for t, b := range k.buckets {
			dst = binary.LittleEndian.AppendUint16(dst, uint16(b-uint32(t)<<indexBucketBits))
		}
	}
	for _, sk := range p.sk {
		dst = binary.LittleEndian.AppendUint32(dst, sk)
	}
	return dst
}

const formKeyBytes = 1 + 2*indexTables

// parsedForm is a form split into its parts (aliasing the input).
type parsedForm struct {
	geom []byte // 8 bytes a cylinder
	gaps []byte
	keys []byte // formKeyBytes a cylinder indexed
	sk   []byte // 4 bytes a cylinder
	n, k int
}

func parseForm(b []byte) (parsedForm, error) {
	var f parsedForm
	if len(b) < 1 {
		return f, fmt.Errorf("%w: empty", ErrForm)
	}
	f.n = int(b[0])
	b = b[1:]
	if f.n > MaxTemplateMinutiae || len(b) < 8*f.n {
		return f, fmt.Errorf("%w: %d cylinders", ErrForm, f.n)
	}
	f.geom, b = b[:8*f.n], b[8*f.n:]
	gl, k := binary.Uvarint(b)
	if k <= 0 || gl > uint64(len(b)-k) {
		return f, fmt.Errorf("%w: bit positions", ErrForm)
	}
	f.gaps, b = b[k:k+int(gl)], b[k+int(gl):]
	if len(b) < 1 {
		return f, fmt.Errorf("%w: no index keys", ErrForm)
	}
	f.k = int(b[0])
	b = b[1:]
	if f.k > f.n || len(b) != f.k*formKeyBytes+4*f.n {
		return f, fmt.Errorf("%w: %d index keys and %d sketches in %d bytes", ErrForm, f.k, f.n, len(b))
	}
	f.keys, f.sk = b[:f.k*formKeyBytes], b[f.k*formKeyBytes:]
	// The bit positions are not decoded here (a tenth of a load's time):
	// a form comes from AppendForm of this FormVersion through storage that
	// authenticates it (a snapshot's sealed records). Only the counts are
	// checked, so that nothing is read beyond the form.
	ones := 0
	for i := range f.n {
		o := int(binary.LittleEndian.Uint16(f.geom[8*i+6:]) & 0xfff)
		if o > cylBitsUsed {
			return f, fmt.Errorf("%w: cylinder of %d bits", ErrForm, o)
		}
		ones += o
	}
	if ones > 0 && len(f.gaps) < (ones*(1+riceK)+7)/8 {
		return f, fmt.Errorf("%w: %d bytes of bit positions for %d bits", ErrForm, len(f.gaps), ones)
	}
	// (The buckets are checked as they are staged: Builder.Add.)
	return f, nil
}

// Builder makes a gallery from entries in gallery form, added in order (a
// snapshot's load), without decoding templates or computing MinHash keys:
// the cylinders are copied into the slab, and the index's sealed segments
// are written directly, one for every segEntries entries, from the
// entries' buckets (a counting sort per table, the tables on every core),
// instead of appending postings bucket by bucket and sealing. The gallery
// it makes is the one AddAll of the same templates in the same order, then
// Seal, makes. A Builder is not safe for concurrent use.
type Builder struct {
	g *Gallery
	// staged index keys of the entries since the last segment: per table,
	// the buckets (within the table) in posting order; the direction unit
	// bits of each posting; the postings of each entry.
	tb   [indexTables][]uint16
	dirs []uint8
	per  []uint8
	segs []*segment
	// the segment built in the background (see flush), and the staging
	// it used, to be reused once it is done
	building sync.WaitGroup
	built    *segment
	spare    staging
	geom     []cylGeom // scratch
	sk       []uint32  // scratch
	scratch  segScratch
	hint     int
	err      error
}

// NewBuilder starts a gallery build; sizeHint is the entries expected (0
// if unknown).
func NewBuilder(sizeHint int) *Builder { return newBuilder(sizeHint, segEntries) }

func newBuilder(sizeHint, seg int) *Builder {
	g := NewGallery()
	g.segEntries = seg
	g.index = make(map[gallery.Key]int32, sizeHint)
	g.keys = make([]gallery.Key, 0, sizeHint)
	g.entries = make([]entry, 0, sizeHint)
	hugepage.Advise(g.keys)
	hugepage.Advise(g.entries)
	return &Builder{g: g, hint: sizeHint}
}

// Add appends the entry in gallery form under key. A form that does not
// parse, or a key given twice, is an error wrapping ErrForm; the build
// cannot be finished then.
func (b *Builder) Add(key string, form []byte) error {
	if b.err != nil {
		return b.err
	}
	f, err := parseForm(form)
	if err != nil {
		return err
	}
	if b.per == nil { // staging for a segment, made once
		m := min(b.g.segEntries, max(b.hint, 1024))
		for t := range b.tb {
			b.tb[t] = make([]uint16, 0, 48*m)
			hugepage.Advise(b.tb[t])
		}
		b.dirs, b.per = make([]uint8, 0, 48*m), make([]uint8, 0, m)
	}
	// The index keys are staged first (beyond the staging's length, kept
	// only once the form is taken), table by table (not cylinder by
	// cylinder, 15 appends each): the writes go to one staging array at
	// a time, by index. A bucket out of range is seen from all the
	// buckets or-ed.
	at := len(b.dirs)
	var tb [indexTables][]uint16
	var or uint16
	for t := range indexTables {
		dst := slices.Grow(b.tb[t], f.k)[:at+f.k]
		or |= stageTable(dst[at:], f.keys, t)
		tb[t] = dst
	}
	if or >= 1<<indexBucketBits {
		return fmt.Errorf("%w: bucket out of range", ErrForm)
	}
	g := b.g
	// One map operation: a key given twice does not grow the map (the
	// build cannot go on then).
	k := g.names.Key(key)
	held := len(g.index)
	g.index[k] = int32(len(g.entries))
	if len(g.index) == held {
		b.err = fmt.Errorf("%w: key given twice", ErrForm)
		return b.err
	}
	g.entries = append(g.entries, b.put(f))
	g.keys = append(g.keys, k)
	b.tb = tb
	b.dirs = slices.Grow(b.dirs, f.k)[:at+f.k]
	for j := range b.dirs[at:] {
		b.dirs[at+j] = f.keys[j*formKeyBytes] >> dirDrop
	}
	b.per = append(b.per, uint8(f.k))
	if len(b.per) == g.segEntries {
		b.flush(false)
	}
	return nil
}

// put copies f's cylinders into the gallery's slab.
func (b *Builder) put(f parsedForm) entry {
	if formLE {
		// The form's geometry and sketches are the slab's bytes.
		return b.g.cyl.putBytes(f.n, f.geom, f.gaps, f.sk)
	}
	b.geom = b.geom[:0]
	for i := range f.n {
		o := f.geom[8*i : 8*i+8]
		u := func(k int) uint16 { return binary.LittleEndian.Uint16(o[2*k:]) }
		b.geom = append(b.geom, cylGeom{x: u(0), y: u(1), dir: u(2), onesTyp: u(3)})
	}
	b.sk = b.sk[:0]
	for i := range f.n {
		b.sk = append(b.sk, binary.LittleEndian.Uint32(f.sk[4*i:]))
	}
	return b.g.cyl.put(packed{geom: b.geom, gaps: f.gaps, sk: b.sk})
}

// stageTable writes the buckets in table t of the index keys keys
// (formKeyBytes a cylinder, len(dst) cylinders) into dst, and returns
// them or-ed.
//
// Not inlined: inlined into Add, its loop kept the or-ed buckets and the
// index on the stack (Add's other values took the registers), a
// store-and-reload a bucket; on its own it runs in registers, a quarter
// of Add's CPU less (docs/galleries.md, "Twelfth round").
//
//go:noinline
func stageTable(dst []uint16, keys []byte, t int) uint16 {
	if len(keys) < len(dst)*formKeyBytes {
		panic("fingerprint: short index keys")
	}
	var or uint16
	if formLE {
		// (unaligned little-endian loads; in range by the check above)
		p := unsafe.Add(unsafe.Pointer(unsafe.SliceData(keys)), 1+2*t)
		for j := range dst {
			v := *(*uint16)(unsafe.Add(p, j*formKeyBytes))
			dst[j] = v
			or |= v
		}
		return or
	}
	src := keys[1+2*t:]
	for j := range dst {
		v := binary.LittleEndian.Uint16(src[j*formKeyBytes:])
		dst[j] = v
		or |= v
	}
	return or
}

// flush writes the staged entries' postings as a segment.
//
// The segment is built in the background (on every core) while the
// next entries are added: the staging arrays are swapped with a second
// set; at most one build is in flight.
func (b *Builder) flush(last bool) {
	if len(b.per) == 0 {
		return
	}
	b.wait()
	start := len(b.g.entries) - len(b.per)
	cur := staging{tb: b.tb, dirs: b.dirs, per: b.per}
	next := b.spare
	if next.per == nil && !last { // (no entries come after the last)
		for t := range next.tb {
			next.tb[t] = make([]uint16, 0, cap(cur.tb[t]))
			hugepage.Advise(next.tb[t])
		}
		next.dirs, next.per = make([]uint8, 0, cap(cur.dirs)), make([]uint8, 0, cap(cur.per))
	}
	for t := range next.tb {
		b.tb[t] = next.tb[t][:0]
	}
	b.dirs, b.per = next.dirs[:0], next.per[:0]
	b.spare = staging{}
	b.building.Add(1)
	go func() {
		defer b.building.Done()
		// (a profile tells the segments' build apart by this label)
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("stage", "index segments")))
		defer rtrace.StartRegion(context.Background(), "index segments").End()
		b.built = b.scratch.build(start, cur.per, &cur.tb, cur.dirs)
		b.spare = cur
	}()
}

// staging is a set of staged index keys (see Builder).
type staging struct {
	tb   [indexTables][]uint16
	dirs []uint8
	per  []uint8
}

// wait waits for the segment being built, and keeps it.
func (b *Builder) wait() {
	b.building.Wait()
	if b.built != nil {
		b.segs = append(b.segs, b.built)
		b.built = nil
	}
}

// Gallery finishes the build and returns the gallery, with its index
// when it holds more than IndexFrom entries (as AddAll would have built
// it), sealed. The Builder is not used after.
func (b *Builder) Gallery() (*Gallery, error) {
	if b.err != nil {
		return nil, b.err
	}
	g := b.g
	n := len(g.entries)
	switch {
	case n >= indexMaxEntries || n <= g.indexFrom:
		b.wait()
	default:
		b.flush(true)
		b.wait()
		x := newIndex(g.segEntries)
		x.sealed, x.tailStart = b.segs, n
		for _, s := range b.segs {
			x.count += s.postings
		}
		g.idx = x
	}
	b.tb, b.dirs, b.per, b.segs, b.spare, b.scratch = [indexTables][]uint16{}, nil, nil, nil, staging{}, segScratch{}
	g.cyl.trim()
	if cap(g.entries) > len(g.entries) { // sized by the hint: spare room only if fewer came
		g.entries, g.keys = exact(g.entries), exact(g.keys)
	}
	b.g = nil
	return g, nil
}

// buildSegment writes the sealed segment of entries [start,
// start+len(per)), entry e having per[e] indexed cylinders whose buckets
// in table t are the next per[e] of tb[t] and whose direction units the
// next of dirs: the segment seal would make from the same postings.
//
// Each table is done by one core, in two passes over its postings: the
// units of every bucket are counted (their offsets follow), then each
// posting is coded straight into the segment at its bucket's cursor. A
// table's 4,096 cursors (32 KB) and the cache lines its buckets are being
// written at (about 256 KB) stay in a core's cache, so the writes,
// scattered over 4,096 places, do not go to memory one by one (with the
// 32,768 buckets a table of the index before issue 17's fourteenth pass
// they did not fit, and the postings were partitioned by groups of
// buckets first: two more passes, and a copy).
func buildSegment(start int, per []uint8, tb *[indexTables][]uint16, dirs []uint8) *segment {
	var sc segScratch
	return sc.build(start, per, tb, dirs)
}

// segScratch is buildSegment's working memory, kept from one segment to
// the next of a build (fresh memory costs its first touch and clearing).
type segScratch struct {
	counts [indexTables][]unitCount
}

// unitCount is a bucket's units counted so far (its cursor, when coding)
// and its last entry (side by side: a posting reads and writes one cache
// line).
type unitCount struct {
	units uint32
	last  int32
}

// codeSerialBelow: a segment of fewer postings a table than this is coded
// on one core (see build).
const codeSerialBelow = 64

func (sc *segScratch) build(start int, per []uint8, tb *[indexTables][]uint16, dirs []uint8) *segment {
	const tbk = 1 << indexBucketBits
	s := &segment{start: start, n: len(per), off: make([]uint32, buckets+1)}
	// Units per bucket, every table on its own core.
	parallel(indexTables, func(t int) {
		cs := sc.counts[t]
		if cs == nil {
			cs = make([]unitCount, tbk)
			sc.counts[t] = cs
		} else {
			clear(cs)
		}
		countTable(cs, tb[t], per)
		off := s.off[t*tbk : (t+1)*tbk]
		for b := range cs {
			off[b] = cs[b].units
		}
	})
	at := uint32(0)
	for b, c := range s.off[:buckets] {
		s.off[b] = at
		at += c
	}
	s.off[buckets] = at
	s.units = make([]byte, unitBytes(int(at)))
	hugepage.Advise(s.units)
	s.postings = len(dirs) * indexTables
	// A unit is or-ed into the 4 bytes from its first, which may hold the
	// next table's first bits: tables coded at the same time are never
	// neighbours (the even ones, then the odd ones; a table of at least
	// codeSerialBelow postings spans more than 4 bytes), and a smaller
	// segment is coded on one core.
	code := func(t int) {
		cs := sc.counts[t]
		for b := range cs {
			cs[b] = unitCount{units: s.off[t*tbk+b]}
		}
		codeTable(s.units, cs, tb[t], dirs, per)
	}
	if len(dirs) < codeSerialBelow {
		for t := range indexTables {
			code(t)
		}
		return s
	}
	for parity := range 2 {
		parallel((indexTables+1-parity)/2, func(i int) { code(2*i + parity) })
	}
	return s
}

// countTable counts into cs the units of each bucket of one table (buckets
// bs, per[e] postings for entry e): a unit a posting and an escape unit
// per unitEscape of a gap. A function of its own, as codeTable.
func countTable(cs []unitCount, bs []uint16, per []uint8) {
	if len(cs) != 1<<indexBucketBits {
		panic("fingerprint: bucket counts")
	}
	j := 0
	for e, k := range per {
		end := j + int(k)
		for ; j < end; j++ {
			c := &cs[bs[j]&(1<<indexBucketBits-1)] // (in range: Add checked)
			// (escapes are rare: a branch, not a division a posting)
			d, u := uint32(int32(e)-c.last), c.units+1
			if d >= unitEscape {
				u += d / unitEscape
			}
			c.units, c.last = u, int32(e)
		}
	}
}

// orUnit ors unit value v into buf at bit: 4 bytes from bit/8 are read
// and written, which the caller has made sure are in buf (unchecked with
// formLE: a bounds check a unit was a fifth of the coding's time).
func orUnit(buf []byte, bit uint, v uint32) {
	k := bit >> 3
	if formLE {
		p := (*uint32)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(buf)), k))
		*p |= v << (bit & 7)
		return
	}
	w := binary.LittleEndian.Uint32(buf[k:]) | v<<(bit&7)
	binary.LittleEndian.PutUint32(buf[k:], w)
}

// codeTable codes the postings of one table (buckets bs, direction units
// dirs, per[e] postings for entry e, in entry order) into units, from the
// buckets' cursors cs (each bucket's next unit, and its last entry: 0
// before the first). A function of its own: inside the build's closure a
// loop like this reloaded its values from the stack a posting
// (docs/galleries.md, "Twelfth round").
func codeTable(units []byte, cs []unitCount, bs []uint16, dirs []uint8, per []uint8) {
	if len(dirs) < len(bs) || len(cs) != 1<<indexBucketBits {
		panic("fingerprint: short direction units")
	}
	dirs = dirs[:len(bs)]
	// One loop over the postings, the entry advanced at its end.
	e, end := int32(-1), 0
	for j, b := range bs {
		for j == end {
			e++
			end += int(per[e])
		}
		c := &cs[b&(1<<indexBucketBits-1)]
		d := uint32(e - c.last)
		i := c.units
		for ; d >= unitEscape; d -= unitEscape {
			orUnit(units, uint(i)*unitBits, unitEscape<<unitDirBits)
			i++
		}
		orUnit(units, uint(i)*unitBits, d<<unitDirBits|uint32(dirs[j])&(1<<unitDirBits-1))
		c.units, c.last = i+1, e
	}
}
