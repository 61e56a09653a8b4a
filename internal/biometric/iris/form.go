package iris

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/assent-registry/assent/internal/gallery"
	"github.com/assent-registry/assent/internal/hugepage"
)

// The gallery form of an entry is the entry as the gallery packs it (code
// and mask word pairs, the coarse pass's words first, then its
// degrees-of-freedom factor as a float32), as little-endian bytes: a gallery snapshot (internal/dedup) stores it, sealed, so that a
// start appends it without decoding a template. It is tied to the
// gallery's geometry, encoder and coarse layout (FormVersion).

// ErrForm is a gallery form that does not fit the gallery, or a key given
// twice to AddForms.
var ErrForm = errors.New("iris: invalid gallery form")

// FormVersion names the gallery form g writes and reads.
func (g *Gallery) FormVersion() string {
	return fmt.Sprintf("iris-gallery/2 encoder=%d rows=%d cols=%d stride=%d", g.encoder, g.rows, g.cols, g.coarseStride)
}

// AppendForm appends the gallery form of the entry under key to dst; ok
// is false when the gallery holds none.
func (g *Gallery) AppendForm(dst []byte, key string) (_ []byte, ok bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	k, ok := g.names.Lookup(key)
	if !ok {
		return dst, false
	}
	i, ok := g.index[k]
	if !ok {
		return dst, false
	}
	h, t := g.entry(i)
	for _, w := range h {
		dst = binary.LittleEndian.AppendUint64(dst, w)
	}
	for _, w := range t {
		dst = binary.LittleEndian.AppendUint64(dst, w)
	}
	return binary.LittleEndian.AppendUint32(dst, math.Float32bits(g.q[i])), true
}

// FormBytes is the length of one entry's gallery form: the code and mask
// words, then the entry's degrees-of-freedom factor (q, a float32), so
// that a load does not compute it again (about 6 us of CPU an eye at a
// million people; form version 2).
func (g *Gallery) FormBytes() int { return 16*g.words + 4 }

// Grow makes room for n more entries, so that AddForms appends them
// without growing the arrays again.
func (g *Gallery) Grow(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	// With a 64th to spare (slices.Grow rounds up further): the first
	// adds after a load must not copy the whole gallery (see Trim).
	grow := func(s []uint64, more int) []uint64 {
		out := make([]uint64, len(s), withSpare(len(s)+more))
		hugepage.Advise(out)
		copy(out, s)
		return out
	}
	g.head = grow(g.head, n*2*g.coarseWords)
	g.tail = grow(g.tail, n*2*(g.words-g.coarseWords))
	g.keys = slices.Grow(g.keys, n)
	g.q = slices.Grow(g.q, withSpare(len(g.q)+n)-len(g.q))
	if len(g.keys) == 0 { // a load: fresh arrays
		hugepage.Advise(g.keys)
		hugepage.Advise(g.q)
	}
	if len(g.index) == 0 { // a load: the index sized once, not grown by rehashing
		g.index = make(map[gallery.Key]int, n)
	}
}

// AddForms appends the entries in gallery form forms[i] under keys[i]. A
// form of the wrong length, or a key already held or given twice, is an
// error wrapping ErrForm, and nothing is added.
func (g *Gallery) AddForms(keys []string, forms [][]byte) error {
	if len(keys) != len(forms) {
		return fmt.Errorf("%w: %d keys, %d forms", ErrForm, len(keys), len(forms))
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range keys {
		if len(forms[i]) != g.FormBytes() {
			return fmt.Errorf("%w: %d bytes, want %d", ErrForm, len(forms[i]), g.FormBytes())
		}
		if q := formQ(forms[i]); !(q >= 0 && q < 1e6) { // NaN, infinite or negative
			return fmt.Errorf("%w: degrees-of-freedom factor %v", ErrForm, q)
		}
	}
	// One map operation a key (a load makes millions): a key held or
	// given twice does not grow the index; the keys entered before it are
	// taken out again, and a held entry's place put back.
	ks := make([]gallery.Key, len(keys))
	n0 := len(g.keys)
	for i, s := range keys {
		k := g.names.Key(s)
		held := len(g.index)
		g.index[k] = n0 + i
		if len(g.index) == held {
			for _, d := range ks[:i] {
				delete(g.index, d)
			}
			if j := slices.Index(g.keys, k); j >= 0 {
				g.index[k] = j
			}
			return fmt.Errorf("%w: key given twice", ErrForm)
		}
		ks[i] = k
	}
	hw, tw := 2*g.coarseWords, 2*(g.words-g.coarseWords)
	// The words written by index into arrays grown once for the batch
	// (an append per word cost more than the copy).
	h0, t0 := len(g.head), len(g.tail)
	head := slices.Grow(g.head, hw*len(keys))[:h0+hw*len(keys)]
	tail := slices.Grow(g.tail, tw*len(keys))[:t0+tw*len(keys)]
	for i, k := range ks {
		f := forms[i]
		g.keys = append(g.keys, k)
		h := head[h0+i*hw : h0+(i+1)*hw]
		for j := range h {
			h[j] = binary.LittleEndian.Uint64(f[8*j:])
		}
		f = f[8*hw:]
		t := tail[t0+i*tw : t0+(i+1)*tw]
		for j := range t {
			t[j] = binary.LittleEndian.Uint64(f[8*j:])
		}
	}
	g.head, g.tail = head, tail
	for _, f := range forms {
		g.q = append(g.q, formQ(f))
	}
	return nil
}

// formQ is the degrees-of-freedom factor at the end of a gallery form.
func formQ(form []byte) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(form[len(form)-4:]))
}
