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
// Each table is done by one core, in three passes over its postings: the
// units of every bucket are counted (their offsets follow, and the
// postings of each group of partGroup buckets: its buckets' units less
// its escapes); the postings are
// partitioned by group (a stable counting sort into 1 << partBits groups,
// so that the writes go to few places at a time); and each group's
// postings are coded into a scratch of the group's units, bucket cursors
// of the group only (a few kilobytes of units, in cache), then copied
// into the segment. The first byte of a table's units may hold the
// previous table's last unit's bits (another core's): it is or-ed in
// after.
func buildSegment(start int, per []uint8, tb *[indexTables][]uint16, dirs []uint8) *segment {
	var sc segScratch
	return sc.build(start, per, tb, dirs)
}

// segScratch is buildSegment's working memory, kept from one segment to
// the next of a build (fresh memory costs its first touch and clearing:
// about 23 MB a segment).
type segScratch struct {
	counts [indexTables][]unitCount
	bufs   chan []uint32 // partition buffers, one a core
}

// unitCount is a bucket's units counted so far and its last entry (side
// by side: the count pass reads and writes one cache line a posting).
type unitCount struct {
	units uint32
	last  int32
}

const (
	partBits  = 8
	partGroup = 1 << indexBucketBits >> partBits // buckets in a group
)

func (sc *segScratch) build(start int, per []uint8, tb *[indexTables][]uint16, dirs []uint8) *segment {
	const tbk = 1 << indexBucketBits
	s := &segment{start: start, n: len(per), off: make([]uint32, buckets+1)}
	if sc.bufs == nil {
		sc.bufs = make(chan []uint32, indexTables)
	}
	// Units per bucket, and postings per group (the partition's starts),
	// every table on its own core.
	var starts [indexTables][1<<partBits + 1]int32
	parallel(indexTables, func(t int) {
		cs := sc.counts[t]
		if cs == nil {
			cs = make([]unitCount, tbk)
			sc.counts[t] = cs
		} else {
			clear(cs)
		}
		st := &starts[t]
		var esc [1 << partBits]int32 // escape units of each group
		bs := tb[t]
		j := 0
		for e, k := range per {
			end := j + int(k)
			for ; j < end; j++ {
				b := bs[j]
				c := &cs[b]
				// (escapes are rare: a branch, not a division a posting)
				d, u := uint32(int32(e)-c.last), c.units+1
				if d >= unitEscape {
					u += d / unitEscape
					esc[b>>(indexBucketBits-partBits)] += int32(d / unitEscape)
				}
				c.units, c.last = u, int32(e)
			}
		}
		// A group's postings: its buckets' units less its escapes (summed
		// here, not counted a posting: 5 % of the build's time less).
		off := s.off[t*tbk : (t+1)*tbk]
		for b := range cs {
			off[b] = cs[b].units
			st[b/partGroup+1] += int32(cs[b].units)
		}
		for g, n := range esc {
			st[g+1] -= n
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
	firsts := make([]byte, indexTables) // each table's first byte, or-ed in at the end
	// one partition buffer a core, reused from table to table
	bufs := sc.bufs
	parallel(indexTables, func(t int) {
		bs := tb[t]
		n := len(bs)
		var sorted []uint32
		select {
		case sorted = <-bufs:
		default:
		}
		if cap(sorted) < n {
			sorted = make([]uint32, n)
			hugepage.Advise(sorted)
		}
		sorted = sorted[:n]
		defer func() { bufs <- sorted }()
		// Partition the postings (entry << 13 | bucket in its group << 6 |
		// direction unit bits) by group, keeping entry order.
		start := &starts[t]
		for g := 1; g < len(start); g++ {
			start[g] += start[g-1]
		}
		pos := *start
		partitionTable(sorted, &pos, bs, dirs, per)
		// A group's units are coded into scr (in cache: the group's 128
		// buckets are 128 cursors), then copied into the segment in one
		// pass.
		fb := int(s.off[t*tbk]) * unitBits / 8 // the table's first byte
		var scr []byte
		var cp [partGroup]groupCursor
		for g := range 1 << partBits {
			base := t*tbk + g*partGroup
			u0, u1 := s.off[base], s.off[base+partGroup]
			if u0 == u1 {
				continue
			}
			b0 := int(u0) * unitBits / 8
			b1 := (int(u1)*unitBits + 7) / 8 // the group's bytes: [b0, b1)
			// (a unit is or-ed into the 4 bytes from its first)
			scr = slices.Grow(scr[:0], b1-b0+4)[:b1-b0+4]
			clear(scr)
			bit0 := uint(b0) * 8
			for b := range cp {
				cp[b] = groupCursor{at: s.off[base+b]}
			}
			codeGroup(scr, sorted[start[g]:start[g+1]], &cp, bit0)
			// The group's first and last bytes may hold another group's
			// bits (this table's: or-ed, by this goroutine), and the
			// table's first byte the previous table's (kept for the end);
			// the bytes between are this group's alone.
			n := b1 - b0
			if b0 == fb {
				firsts[t] = scr[0]
			} else if scr[0] != 0 {
				s.units[b0] |= scr[0]
			}
			if n > 1 {
				copy(s.units[b0+1:b1-1], scr[1:n-1])
				if scr[n-1] != 0 {
					s.units[b1-1] |= scr[n-1]
				}
			}
		}
	})
	for t, v := range firsts {
		s.units[int(s.off[t*tbk])*unitBits/8] |= v
	}
	return s
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

// groupCursor is where the coding of a bucket of a group stands: its next
// unit and the entry of its last posting (0 before the first).
type groupCursor struct {
	at   uint32
	prev int32
}

// partitionTable writes the postings of one table (buckets bs, direction
// units dirs, per[e] postings for entry e) into sorted by group, pos[g]
// being where group g's next goes (advanced).
func partitionTable(sorted []uint32, pos *[1<<partBits + 1]int32, bs []uint16, dirs []uint8, per []uint8) {
	if len(dirs) < len(bs) {
		panic("fingerprint: short direction units")
	}
	dirs = dirs[:len(bs)]
	// One loop over the postings, the entry advanced at its end (the
	// compiler reloads fewer values from the stack a posting than in a
	// loop per entry; no faster measured: the scattered stores bound it).
	e, end := 0, 0
	for j, b := range bs {
		for j == end {
			end += int(per[e])
			e++
		}
		b &= 1<<indexBucketBits - 1 // (in range: Add checked)
		g := b >> (indexBucketBits - partBits)
		p := pos[g]
		sorted[p] = uint32(e-1)<<13 | uint32(b&(partGroup-1))<<6 | uint32(dirs[j])
		pos[g] = p + 1
	}
}

// codeGroup codes the postings ps of one group (entry << 13 | bucket in
// the group << 6 | direction unit bits, in entry order) into scr, whose
// first bit is unit bit0/unitBits of the segment, from the buckets'
// cursors cp. A function of its own, each bucket's cursor and last entry
// side by side: inside the build's closure the loop reloaded five of its
// values from the stack a posting (a sixth more time, one thread;
// docs/galleries.md, "Twelfth round").
func codeGroup(scr []byte, ps []uint32, cp *[partGroup]groupCursor, bit0 uint) {
	for _, p := range ps {
		c := &cp[(p>>6)&(partGroup-1)]
		e := int32(p >> 13)
		d := uint32(e - c.prev)
		i := c.at
		for ; d >= unitEscape; d -= unitEscape {
			orUnit(scr, uint(i)*unitBits-bit0, unitEscape<<unitDirBits)
			i++
		}
		orUnit(scr, uint(i)*unitBits-bit0, d<<unitDirBits|p&(1<<unitDirBits-1))
		c.at, c.prev = i+1, e
	}
}
