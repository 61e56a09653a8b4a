package fingerprint

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/assent-registry/assent/internal/gallery"
	"github.com/assent-registry/assent/internal/hugepage"
)

// Candidate is a gallery entry whose score reached a search threshold.
type Candidate struct {
	Key   string
	Score float64
}

// entry locates one template's cylinders in the gallery's slab.
type entry struct {
	chunk, off int32 // chunk, first cylinder in it
	goff       int32 // first byte of the cylinders' bit positions in the chunk
	n          uint8 // cylinders (at most MaxTemplateMinutiae)
	dead       bool
}

// cylGeom is one gallery cylinder's minutia and bit count, packed: position
// in 1/8 pixel, direction in 1/65536 turn (rounded down, so that its top 8
// bits are the index's direction level), and the number of its 1 bits
// (low 12 bits of onesTyp; at most 672) with the minutia type in the top
// two. 8 bytes where the matcher uses 6 float32 and a type: the cosine and
// sine are looked up from the direction when unpacked (dirTrig).
type cylGeom struct {
	x, y, dir uint16
	onesTyp   uint16
}

// ones is the number of the cylinder's 1 bits.
func (g cylGeom) ones() int { return int(g.onesTyp & 0xfff) }

// typ is the cylinder's minutia type.
func (g cylGeom) typ() uint8 { return uint8(g.onesTyp >> 14) }

const (
	geomPosScale = 8
	geomDirScale = 65536 / (2 * math.Pi)
	trigBits     = 12 // dirTrig's resolution: 4,096 directions (0.09 degree)
)

// dirTrig holds the cosine and sine of every 1/4096 turn: unpacking a
// cylinder reads its direction's (rounded) from it, 32 KB that stay in the
// cache. Its error, at most 1/8192 turn (0.04 degree), moves a neighbour
// 60 pixels away by 0.05 pixel in the comparison's rotation.
var dirTrig = func() []float32 {
	t := make([]float32, 2<<trigBits)
	for i := range 1 << trigBits {
		a := 2 * math.Pi * float64(i) / (1 << trigBits)
		t[2*i], t[2*i+1] = float32(math.Cos(a)), float32(math.Sin(a))
	}
	return t
}()

// trig is the cosine and sine of the packed direction.
func (g cylGeom) trig() (cos, sin float32) {
	i := 2 * ((uint32(g.dir) + 1<<(15-trigBits)) >> (16 - trigBits) & (1<<trigBits - 1))
	t := dirTrig[i : i+2 : i+2]
	return t[0], t[1]
}

func packGeom(x, y, dir float32, ones int, typ uint8) cylGeom {
	q := func(v float32) uint16 {
		return uint16(min(max(math.Round(float64(v)*geomPosScale), 0), math.MaxUint16))
	}
	d := int(float64(dir) * geomDirScale)
	return cylGeom{x: q(x), y: q(y), dir: uint16(min(max(d, 0), math.MaxUint16)), onesTyp: uint16(ones) | uint16(typ&3)<<14}
}

// dirLevel is the index's direction level of a packed direction.
func (g cylGeom) dirLevel() uint32 { return uint32(g.dir >> 8) }

// maxGalleryCylinders bounds the cylinders a gallery keeps of a template
// (its form counts them in a byte; 64 keeps the memory of a gallery and
// the cost of a comparison as they were when extraction kept 64 minutiae).
const maxGalleryCylinders = 64

// galleryCylinders returns t's cylinders as a gallery compares them: the
// maxGalleryCylinders of best minutia quality (ties: the earlier minutia,
// which for Extract is the better one), in their order, without ring
// descriptors or texture weights. A search compares its probe in the same
// form, so a gallery's score does not depend on which of two templates was
// the probe.
func (t *Template) galleryCylinders() cylinders {
	c := t.cyl
	c.desc, c.tex = nil, nil
	n := c.n()
	if n <= maxGalleryCylinders {
		return c
	}
	type ranked struct{ q, at, i int }
	rs := make([]ranked, n)
	for i := range n {
		rs[i] = ranked{-1, len(t.Minutiae), i}
		for j, m := range t.Minutiae {
			if m.X == c.x[i] && m.Y == c.y[i] && m.Dir == c.dir[i] {
				rs[i] = ranked{int(m.Quality), j, i}
				break
			}
		}
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		if a.q != b.q {
			return b.q - a.q
		}
		if a.at != b.at {
			return a.at - b.at
		}
		return a.i - b.i
	})
	keep := make([]int, maxGalleryCylinders)
	for k := range keep {
		keep[k] = rs[k].i
	}
	slices.Sort(keep)
	o := cylinders{x: make([]float32, len(keep)), y: make([]float32, len(keep)), dir: make([]float32, len(keep)),
		cos: make([]float32, len(keep)), sin: make([]float32, len(keep)), norm: make([]float32, len(keep)),
		bits: make([]cylBits, len(keep)), typ: make([]uint8, len(keep))}
	for k, i := range keep {
		o.x[k], o.y[k], o.dir[k] = c.x[i], c.y[i], c.dir[i]
		o.cos[k], o.sin[k], o.norm[k] = c.cos[i], c.sin[i], c.norm[i]
		o.bits[k], o.typ[k] = c.bits[i], c.typ[i]
	}
	return o
}

// packed is one template's cylinders as a gallery holds them: geometry,
// and the positions of every cylinder's 1 bits (about 34 of 672), in
// cylinder order, each as its gap after the previous one (the first's
// after -1) in a Rice code of parameter riceK, least significant bit
// first: gap>>riceK zero bits, a one bit, then the gap's low riceK bits.
// The template's code is padded to a byte. About 27 bytes a cylinder for
// the bench's synthetic fingers (35 with one byte a gap, 88 for the bits);
// unpack restores the bits before a full comparison.
type packed struct {
	geom []cylGeom
	gaps []byte
	// sk is each cylinder's sketch for the second search stage (see
	// cylinderSketch), set by indexKeys once the gallery is indexed (zero
	// before).
	sk []uint32
}

// riceK is the Rice parameter of the bit positions' gaps: of 0 to 7, the
// one that codes the synthetic fingers' cylinders (and FVC's) shortest.
const riceK = 4

func (p packed) n() int { return len(p.geom) }

// pack packs a template's cylinders.
func pack(c *cylinders) packed {
	p := packed{geom: make([]cylGeom, c.n()), gaps: make([]byte, 0, 32*c.n()), sk: make([]uint32, c.n())}
	var acc uint64
	nacc := uint(0)
	put := func(v uint64, n uint) {
		acc |= v << nacc
		nacc += n
		for nacc >= 8 {
			p.gaps = append(p.gaps, byte(acc))
			acc >>= 8
			nacc -= 8
		}
	}
	for i := range p.geom {
		ones, prev := 0, -1
		for w, x := range c.bits[i] {
			for x != 0 {
				pos := w*64 + bits.TrailingZeros64(x)
				d := uint64(pos - prev - 1)
				put(1<<(d>>riceK), uint(d>>riceK)+1) // at most 42 bits: d < 704
				put(d&(1<<riceK-1), riceK)
				prev = pos
				ones++
				x &= x - 1
			}
		}
		p.geom[i] = packGeom(c.x[i], c.y[i], c.dir[i], ones, c.typ[i])
	}
	if nacc > 0 {
		p.gaps = append(p.gaps, byte(acc))
	}
	return p
}

// gapReader reads the Rice-coded gaps of a packed template.
type gapReader struct {
	b []byte
	v uint64 // bits not yet read, the next one lowest
	n uint   // valid bits in v
}

// refill loads bytes into v until it holds at least 57 bits or b ends.
// (Not inlined, so that next is.)
//
//go:noinline
func (r *gapReader) refill() {
	if len(r.b) >= 8 {
		r.v |= binary.LittleEndian.Uint64(r.b) << r.n
		k := (63 - r.n) >> 3
		r.b = r.b[k:]
		r.n += k * 8
		return
	}
	for r.n <= 56 && len(r.b) > 0 {
		r.v |= uint64(r.b[0]) << r.n
		r.b = r.b[1:]
		r.n += 8
	}
}

// next returns the next gap.
func (r *gapReader) next() int {
	if r.n < 48 { // a gap takes at most 42 bits
		r.refill()
	}
	q := uint(bits.TrailingZeros64(r.v))
	r.v >>= q + 1
	d := int(q)<<riceK | int(r.v&(1<<riceK-1))
	r.v >>= riceK
	r.n -= q + 1 + riceK
	return d
}

// positions calls f with the positions of the 1 bits of every cylinder of
// p, in order: f(i, pos) for cylinder i.
func (p packed) positions(f func(i int, pos []uint16)) {
	var buf [cylWords * 64]uint16
	r := gapReader{b: p.gaps}
	for i, cg := range p.geom {
		prev := -1
		for k := range cg.ones() {
			prev += r.next() + 1
			buf[k] = uint16(prev)
		}
		f(i, buf[:cg.ones()])
	}
}

// unpack writes the matcher's view of p into c, reusing c's slices.
func (p packed) unpack(c *cylinders) {
	n := p.n()
	if cap(c.x) < n {
		m := max(n, 64)
		c.x, c.y, c.dir = make([]float32, m), make([]float32, m), make([]float32, m)
		c.cos, c.sin, c.norm = make([]float32, m), make([]float32, m), make([]float32, m)
		c.bits = make([]cylBits, m)
	}
	if cap(c.typ) < n {
		c.typ = make([]uint8, max(n, 64))
	}
	c.x, c.y, c.dir, c.cos, c.sin, c.norm, c.bits = c.x[:n], c.y[:n], c.dir[:n], c.cos[:n], c.sin[:n], c.norm[:n], c.bits[:n]
	c.typ = c.typ[:n]
	// The gaps are decoded as gapReader.next does, with the reader's state
	// in local variables (a gapReader lives in memory, and each gap's
	// decoding then waits on the last one's stores).
	// The geometry first, in a loop of its own (the table lookups inside the
	// decoding loop cost it its registers).
	for i, cg := range p.geom {
		c.x[i] = float32(cg.x) * (1.0 / geomPosScale)
		c.y[i] = float32(cg.y) * (1.0 / geomPosScale)
		c.dir[i] = float32(cg.dir) * float32(1/geomDirScale)
		c.cos[i], c.sin[i] = cg.trig()
	}
	buf := p.gaps
	var v uint64 // bits not yet read, the next one lowest
	var nv uint  // valid bits in v
	for i, cg := range p.geom {
		c.norm[i] = sqrtTab[cg.ones()]
		c.typ[i] = cg.typ()
		var b cylBits
		pos := -1
		for range cg.ones() {
			if nv < 48 { // a gap takes at most 42 bits
				if len(buf) >= 8 {
					v |= binary.LittleEndian.Uint64(buf) << nv
					k := (63 - nv) >> 3
					buf = buf[k:]
					nv += k * 8
				} else {
					for nv <= 56 && len(buf) > 0 {
						v |= uint64(buf[0]) << nv
						buf = buf[1:]
						nv += 8
					}
				}
			}
			q := uint(bits.TrailingZeros64(v))
			pos += int(q)<<riceK | int(v>>(q+1))&(1<<riceK-1) + 1
			v >>= q + 1 + riceK
			nv -= q + 1 + riceK
			b[pos>>6] |= 1 << (pos & 63)
		}
		c.bits[i] = b
	}
}

// slab holds the packed cylinders of many templates in chunks that are
// never reallocated once made: a template's cylinders are contiguous in one
// chunk, so adding to a large gallery copies nothing already there.
type slab struct {
	chunks []packed
	n      int // cylinders held
	gaps   int // bytes of bit positions held
}

const (
	minChunk = 1 << 10 // cylinders in the first chunk
	maxChunk = 1 << 19 // and in every chunk once the slab is large (about 24 MiB: see put)
	gapsPer  = 30      // bytes of bit positions per cylinder a chunk has room for
)

// grow starts a chunk with room for at least n cylinders and gaps bytes
// of bit positions.
func (s *slab) grow(n, gaps int) {
	size := max(n, min(maxChunk, max(minChunk, s.n)))
	// Room for bit positions at the rate seen so far (a little more),
	// so that a chunk's two arrays fill together and trim seldom
	// copies; gapsPer a cylinder until a chunk was seen.
	per := gapsPer * size
	if s.n >= minChunk {
		per = int(int64(s.gaps)*int64(size)*65/64/int64(s.n)) + 64
	}
	// A large chunk's arrays are advised huge pages (unless
	// ASSENT_HUGEPAGES=0: see internal/hugepage; only whole aligned 2 MiB
	// blocks inside an array can be: the geometry takes 4 MiB, the
	// sketches 2 MiB and the bit positions about 14 MiB in a chunk of
	// maxChunk cylinders; with chunks of 1 << 16, none was).
	c := packed{geom: make([]cylGeom, 0, size), gaps: make([]byte, 0, max(gaps, per)), sk: make([]uint32, 0, size)}
	hugepage.Advise(c.geom)
	hugepage.Advise(c.gaps)
	hugepage.Advise(c.sk)
	s.chunks = append(s.chunks, c)
}

// put appends p and returns the entry that locates it.
func (s *slab) put(p packed) entry {
	n := p.n()
	if len(s.chunks) == 0 || !s.chunks[len(s.chunks)-1].fits(p) {
		s.grow(n, len(p.gaps))
	}
	k := len(s.chunks) - 1
	ch := &s.chunks[k]
	e := entry{chunk: int32(k), off: int32(ch.n()), goff: int32(len(ch.gaps)), n: uint8(n)}
	ch.geom = append(ch.geom, p.geom...)
	ch.gaps = append(ch.gaps, p.gaps...)
	ch.sk = append(ch.sk, p.sk...)
	s.n += n
	s.gaps += len(p.gaps)
	return e
}

// putBytes is put for n cylinders given as bytes: geom 8 a cylinder and
// sk 4 a cylinder, as cylGeom and uint32 lie in memory (formLE only).
func (s *slab) putBytes(n int, geom, gaps, sk []byte) entry {
	if len(geom) != 8*n || len(sk) != 4*n {
		panic("fingerprint: putBytes of the wrong length")
	}
	if len(s.chunks) == 0 || !s.chunks[len(s.chunks)-1].fitsN(n, len(gaps)) {
		s.grow(n, len(gaps))
	}
	k := len(s.chunks) - 1
	ch := &s.chunks[k]
	e := entry{chunk: int32(k), off: int32(ch.n()), goff: int32(len(ch.gaps)), n: uint8(n)}
	if n > 0 {
		at, as := len(ch.geom), len(ch.sk)
		ch.geom = ch.geom[:at+n]
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&ch.geom[at])), 8*n), geom)
		ch.sk = ch.sk[:as+n]
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&ch.sk[as])), 4*n), sk)
	}
	ch.gaps = append(ch.gaps, gaps...)
	s.n += n
	s.gaps += len(gaps)
	return e
}

// view returns the packed cylinders of one entry as sub-slices (no copy);
// its gaps run to the end of the chunk's.
func (s *slab) view(e entry) packed {
	c := &s.chunks[e.chunk]
	lo, hi := int(e.off), int(e.off)+int(e.n)
	return packed{geom: c.geom[lo:hi:hi], gaps: c.gaps[e.goff:], sk: c.sk[lo:hi:hi]}
}

// sizeBytes is the memory the chunks take (their capacity).
func (s *slab) sizeBytes() int {
	n := 0
	for _, c := range s.chunks {
		n += cap(c.geom)*int(unsafe.Sizeof(cylGeom{})) + cap(c.gaps) + 4*cap(c.sk)
	}
	return n
}

// trim drops the chunks' spare capacity (a chunk closes when its geometry
// or its bit positions are full, the other usually not), copying one chunk
// at a time. A later put starts a new chunk.
//
// An array with at most a 32nd of spare room is left as it is (the copy
// would cost more than the room): the chunks, sized at the rate of bit
// positions seen so far and a 64th more, mostly fill both arrays so (with
// a 32nd more, the bit positions' array was left with just over a 32nd
// spare and copied in about half the chunks of a load).
func (s *slab) trim() {
	spare := func(c, l int) bool { return c-l > c/32 }
	for i := range s.chunks {
		c := &s.chunks[i]
		if spare(cap(c.geom), len(c.geom)) {
			c.geom = exact(c.geom)
		}
		if spare(cap(c.gaps), len(c.gaps)) {
			c.gaps = exact(c.gaps)
		}
		if spare(cap(c.sk), len(c.sk)) {
			c.sk = exact(c.sk)
		}
	}
}

// fits reports whether a chunk holds p without reallocating.
func (c *packed) fits(p packed) bool { return c.fitsN(p.n(), len(p.gaps)) }

// fitsN reports whether a chunk holds n cylinders and gaps bytes of bit
// positions without reallocating.
func (c *packed) fitsN(n, gaps int) bool {
	return cap(c.geom)-len(c.geom) >= n && cap(c.gaps)-len(c.gaps) >= gaps && cap(c.sk)-len(c.sk) >= n
}

// Gallery holds enrolled templates for 1:N search inside an enrolment, with
// every template's cylinders packed in shared chunks (no pointer per
// template). Keys are caller-chosen strings (for example reference ids).
// Search runs on all cores through internal/gallery. A Gallery is safe for
// concurrent use: searches share a read lock, Add and Remove take the write
// lock. It keeps only templates, never images.
//
// Once it holds more than IndexFrom templates, the gallery also keeps a
// MinHash index of the cylinders (see index.go), which an indexed search uses
// to compare in full only the most promising entries.
type Gallery struct {
	mu sync.RWMutex
	// keys[i] is entry i's key; index numbers the live entries by key.
	// Neither holds a pointer (gallery.Key): the collector does not visit
	// them, however many entries there are.
	keys    []gallery.Key
	entries []entry
	index   map[gallery.Key]int32
	names   gallery.Names // keys over 23 bytes
	dead    int
	cyl     slab   // all entries' cylinders
	idx     *index // nil until the gallery outgrows indexFrom
	// indexFrom is the size at which the index is built (IndexFrom; tests
	// lower it), segEntries the entries in one sealed segment of the index
	// (segEntries; tests lower it).
	indexFrom, segEntries int
}

// IndexFrom is the number of templates at which a gallery builds its index:
// below it an indexed search would compare every entry anyway
// (DefaultMinShortlist), so the index would cost memory for nothing.
const IndexFrom = DefaultMinShortlist

// NewGallery returns an empty gallery.
func NewGallery() *Gallery {
	return &Gallery{index: map[gallery.Key]int32{}, indexFrom: IndexFrom, segEntries: segEntries}
}

// Len returns the number of templates held.
func (g *Gallery) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.index)
}

// Bytes returns the memory the packed templates and the index take, in
// bytes.
func (g *Gallery) Bytes() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := g.cyl.sizeBytes()
	if g.idx != nil {
		n += g.idx.sizeBytes()
	}
	return n
}

// IndexBytes returns the memory the index takes (0 before it is built),
// part of Bytes.
func (g *Gallery) IndexBytes() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.idx == nil {
		return 0
	}
	return g.idx.sizeBytes()
}

// Add stores t under key, replacing any template already stored under it.
func (g *Gallery) Add(key string, t *Template) {
	g.AddAll([]string{key}, []*Template{t})
}

// AddAll stores ts[i] under keys[i] for every i, as many calls of Add would
// (a later key replaces an earlier one), but prepares the templates for the
// index on every core before taking the lock: it is how a gallery is loaded.
// It panics if the slices differ in length.
func (g *Gallery) AddAll(keys []string, ts []*Template) {
	if len(keys) != len(ts) {
		panic("fingerprint: Gallery.AddAll: keys and templates differ in length")
	}
	g.mu.RLock()
	indexed := len(g.index)+len(ts) > g.indexFrom
	g.mu.RUnlock()
	ps := make([]packed, len(ts))
	var prepared [][]cylinderKey
	if indexed {
		prepared = make([][]cylinderKey, len(ts))
	}
	parallel(len(ts), func(i int) {
		gc := ts[i].galleryCylinders()
		ps[i] = pack(&gc)
		if prepared != nil {
			prepared[i] = indexKeys(ps[i])
		}
	})
	g.mu.Lock()
	defer g.mu.Unlock()
	first := len(g.entries)
	for i, s := range keys {
		key := g.names.Key(s)
		if j, ok := g.index[key]; ok {
			g.entries[j].dead = true
			g.dead++
		}
		g.index[key] = int32(len(g.entries))
		g.entries = append(g.entries, g.cyl.put(ps[i]))
		g.keys = append(g.keys, key)
	}
	if g.idx != nil {
		if prepared == nil {
			prepared = make([][]cylinderKey, len(ps))
			for i := range ps {
				prepared[i] = indexKeys(ps[i])
			}
		}
		g.idx.addBatch(first, prepared)
	}
	g.compactLocked()
	g.indexLocked()
}

// Seal packs the whole index (what was added since the index was last
// sealed) into its compact form: 2.25 bytes per posting and no spare
// capacity, where the entries added one by one are kept at 4 bytes per
// posting with room to grow until 65,536 of them are sealed together; and
// it drops the spare room of the packed cylinders' chunks. A load calls it
// once at the end. Searches are not affected.
func (g *Gallery) Seal() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.idx != nil {
		g.idx.sealAll(len(g.entries))
	}
	g.cyl.trim()
	g.entries, g.keys = exact(g.entries), exact(g.keys)
}

// parallel calls f(i) for every i in [0, n) on every core.
func parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// indexLocked builds the index once the gallery holds more than indexFrom
// templates, and drops it if the entries outgrow what a posting can number
// (searches are then exhaustive).
func (g *Gallery) indexLocked() {
	switch {
	case len(g.entries) >= indexMaxEntries:
		g.idx = nil
	case g.idx == nil && len(g.index) > g.indexFrom:
		g.idx = newIndex(g.segEntries)
		ks := make([][]cylinderKey, len(g.entries))
		parallel(len(ks), func(i int) {
			if e := g.entries[i]; !e.dead {
				ks[i] = indexKeys(g.cyl.view(e))
			}
		})
		g.idx.addBatch(0, ks)
	}
}

// Remove deletes the template stored under key and reports whether there was
// one. Its cylinders are dropped from memory once removed entries make up
// half the gallery.
func (g *Gallery) Remove(s string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	key, ok := g.names.Lookup(s)
	if !ok {
		return false
	}
	i, ok := g.index[key]
	if !ok {
		return false
	}
	delete(g.index, key)
	g.entries[i].dead = true
	g.dead++
	g.compactLocked()
	return true
}

func (g *Gallery) compactLocked() {
	if g.dead == 0 || 2*g.dead < len(g.entries) {
		return
	}
	old := g.cyl
	oldEntries, oldKeys := g.entries, g.keys
	g.cyl = slab{}
	g.entries, g.keys, g.dead = nil, nil, 0
	g.index = make(map[gallery.Key]int32, len(oldEntries))
	newNum := make([]int32, len(oldEntries))
	for i, e := range oldEntries {
		newNum[i] = -1
		if e.dead {
			continue
		}
		newNum[i] = int32(len(g.entries))
		g.index[oldKeys[i]] = int32(len(g.entries))
		g.entries = append(g.entries, g.cyl.put(old.view(e)))
		g.keys = append(g.keys, oldKeys[i])
	}
	if g.idx != nil {
		g.idx.remap(newNum)
	}
}

// Defaults of an indexed search: the share of the gallery the index
// shortlists (SearchPenetration lowers it at the threshold of a large
// gallery), and the least number of entries shortlisted (a smaller gallery
// is scanned whole).
const (
	DefaultPenetration  = 0.02
	DefaultMinShortlist = 2048
)

// SearchOptions tunes Search. The zero value compares the probe with every
// entry, on every core, and keeps every candidate.
type SearchOptions struct {
	Workers   int // goroutines; 0 means runtime.GOMAXPROCS(0)
	ChunkSize int // entries per unit of work; 0 means 1024
	Limit     int // keep at most this many best candidates; 0 keeps all

	// Indexed runs the index first and compares in full only the
	// max(MinShortlist, Penetration x size) entries it ranks highest; a
	// gallery no larger than that is compared whole. Genuine pairs that the
	// index ranks lower are missed: docs/fingerprint.md gives how many.
	//
	// A second stage then compares in full only the shortlisted entries
	// whose alignment evidence (see index_rerank.go) reaches SecondStage;
	// docs/fingerprint.md gives what it loses and saves.
	Indexed      bool
	Penetration  float64 // 0 means SearchPenetration(threshold) in Search, DefaultPenetration in ShortlistSize
	MinShortlist int     // 0 means DefaultMinShortlist
	SecondStage  int     // 0 means SecondStageCut(threshold); negative turns the second stage off

	// modelPass (benchmarks only) also passes this share of the
	// shortlist through the second stage, spread evenly over it, to give
	// a gallery of random strangers (which hardly ever pass) the
	// full-comparison load of real fingers' impostors.
	modelPass float64
}

// ShortlistSize is how many of n entries an indexed search with opt
// compares in full: max(MinShortlist, Penetration x n), at most n.
func ShortlistSize(n int, opt SearchOptions) int {
	p := opt.Penetration
	if p <= 0 {
		p = DefaultPenetration
	}
	k := opt.MinShortlist
	if k <= 0 {
		k = DefaultMinShortlist
	}
	return min(n, max(k, int(math.Ceil(p*float64(n)))))
}

// Search compares probe with the templates in the gallery (every one, or the
// index's shortlist when opt.Indexed) and returns those scoring at least
// threshold, best first (ties by insertion order). It is meant for
// deduplication inside an enrolment the person consented to; it returns keys
// and scores only.
func (g *Gallery) Search(ctx context.Context, probe *Template, threshold float64, opt SearchOptions) ([]Candidate, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var shortlist []int32
	if opt.Indexed && g.idx != nil {
		if opt.Penetration <= 0 {
			opt.Penetration = SearchPenetration(threshold)
		}
		if k := ShortlistSize(len(g.index), opt); k < len(g.index) {
			var err error
			var rot []uint8
			if shortlist, rot, err = g.shortlist(ctx, probe, k, opt.Workers); err != nil {
				return nil, fmt.Errorf("fingerprint: search: %w", err)
			}
			if cut := opt.SecondStage; cut >= 0 {
				if cut == 0 {
					cut = SecondStageCut(threshold)
				}
				var all []int32
				if opt.modelPass > 0 {
					all = slices.Clone(shortlist)
				}
				if shortlist, err = g.secondStage(ctx, probe, shortlist, rot, cut, opt.Workers); err != nil {
					return nil, fmt.Errorf("fingerprint: search: %w", err)
				}
				if all != nil {
					shortlist = withShare(shortlist, all, opt.modelPass)
				}
			}
		}
	}
	n := len(g.entries)
	at := func(i int) int { return i }
	chunk := opt.ChunkSize
	if shortlist != nil {
		n = len(shortlist)
		at = func(i int) int { return int(shortlist[i]) }
		if chunk == 0 {
			chunk = 64 // a few thousand comparisons: small units keep the cores evenly busy
		}
	}
	pc := probe.galleryCylinders()
	scorer := func(lo, hi int, emit func(int, float64)) {
		var s scratch
		var c cylinders
		for i := lo; i < hi; i++ {
			e := g.entries[at(i)]
			if e.dead {
				continue
			}
			g.cyl.view(e).unpack(&c)
			if sc := match(&pc, &c, &s); sc >= threshold {
				emit(at(i), sc)
			}
		}
	}
	found, err := gallery.Scan(ctx, n, scorer, gallery.Options{Workers: opt.Workers, ChunkSize: chunk, Limit: opt.Limit})
	if err != nil {
		return nil, fmt.Errorf("fingerprint: search: %w", err)
	}
	out := make([]Candidate, len(found))
	for i, c := range found {
		out[i] = Candidate{Key: g.names.Text(g.keys[c.Index]), Score: c.Score}
	}
	return out, nil
}

// withShare adds to passed (increasing entry numbers, a subset of all)
// an evenly spread share of all, keeping the order; see
// SearchOptions.modelPass.
func withShare(passed, all []int32, share float64) []int32 {
	in := make(map[int32]bool, len(passed))
	for _, e := range passed {
		in[e] = true
	}
	out := slices.Clone(passed)
	for i, e := range all {
		if int(float64(i+1)*share) > int(float64(i)*share) && !in[e] {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out
}

// shortlist returns the numbers of the k live entries the index ranks
// highest for probe. The caller holds the read lock.
// rot[e] is entry e's best rotation bin (see indexVotes), for every entry.
func (g *Gallery) shortlist(ctx context.Context, probe *Template, k, workers int) (short []int32, rot []uint8, err error) {
	rot = make([]uint8, len(g.entries))
	buf, _ := scoreBufs.Get().(*[]scored)
	if buf == nil || cap(*buf) < len(g.entries) {
		b := make([]scored, len(g.entries))
		buf = &b
	}
	defer scoreBufs.Put(buf)
	scores := g.indexVotesInto(probe, workers, rot, (*buf)[:len(g.entries)])
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	return topK(scores, k), rot, nil
}

// scoreBufs holds indexed searches' per-entry scores for reuse (8 bytes an
// entry, 32 MB a search at 4,000,000 entries: allocating it every search
// would be most of what a search allocates, and make the collector run
// more often in a large gallery).
var scoreBufs sync.Pool // of *[]scored

// indexScores returns the index score of every live entry for probe. The
// entries are voted in blocks (see indexBlock), spread over up to workers
// goroutines, each taking a run of consecutive blocks (sealed postings are
// decoded from the start of their bucket, so a goroutine reads what comes
// before its first block once, not before every block). The caller holds
// the read lock.
func (g *Gallery) indexScores(probe *Template, workers int) []scored {
	return g.indexVotes(probe, workers, nil)
}

// indexVotes is indexScores that also sets rot[i], when rot is not nil
// (one per entry), to the first of entry i's best pair of neighbouring
// rotation bins (see indexScoreBin).
func (g *Gallery) indexVotes(probe *Template, workers int, rot []uint8) []scored {
	return g.indexVotesInto(probe, workers, rot, make([]scored, len(g.entries)))
}

// indexVotesInto is indexVotes writing the scores into all (one per
// entry, overwritten) and returning part of it.
func (g *Gallery) indexVotesInto(probe *Template, workers int, rot []uint8, all []scored) []scored {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	pc := probe.galleryCylinders() // the probe as the entries are held
	lists := g.idx.probeLists(probeKeys(&pc))
	n := len(g.entries)
	blocks := (n + indexBlock - 1) / indexBlock
	workers = max(1, min(workers, blocks))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			votes := make([]uint8, indexBlock*indexRotBins)
			v := lists.voter()
			for b := w * blocks / workers; b < (w+1)*blocks/workers; b++ {
				lo, hi := b*indexBlock, min(n, (b+1)*indexBlock)
				clear(votes)
				v.vote(lo, hi, votes)
				for i := lo; i < hi; i++ {
					v := (i - lo) * indexRotBins
					bins := votes[v : v+indexRotBins : v+indexRotBins]
					// most entries got no vote at all: score 0, bin 0,
					// as indexScoreBin gives, read 8 bins at a time
					// (indexRotBins is 16: binsWords)
					var sc float32
					var bin uint8
					if binary.LittleEndian.Uint64(bins)|binary.LittleEndian.Uint64(bins[8:]) != 0 {
						sc, bin = indexScoreBin(bins, g.entries[i].n)
					}
					all[i] = makeScored(sc, int32(i))
					if rot != nil {
						rot[i] = bin
					}
				}
			}
		}()
	}
	wg.Wait()
	if g.dead == 0 {
		return all
	}
	scores := all[:0]
	for i, sc := range all {
		if !g.entries[i].dead {
			scores = append(scores, sc)
		}
	}
	return scores
}

// binsWords: indexVotes reads an entry's indexRotBins counters as two
// 8-byte words.
var _ = [1]struct{}{}[indexRotBins-16]

// exact returns a copy of s whose capacity is its length.
func exact[T any](s []T) []T {
	if s == nil {
		return nil
	}
	out := make([]T, len(s))
	copy(out, s)
	return out
}
