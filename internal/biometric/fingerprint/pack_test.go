package fingerprint

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// TestPackUnpack: a gallery keeps a template's cylinder bits exactly
// (gaps of 255 and more included) and its geometry within the packing's
// steps, so that gallery scores are the matcher's to within a hair.
func TestPackUnpack(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	tp := sampleTemplateSeed(r)
	c := tp.cyl
	// Make gaps of every size: a cylinder with only its first and last
	// bits, one empty, one full.
	c.bits = append([]cylBits(nil), c.bits...)
	c.bits[0] = cylBits{}
	c.bits[0][0], c.bits[0][10] = 1, 1<<31
	c.bits[1] = cylBits{}
	for i := range cylBitsUsed {
		c.bits[2][i/64] |= 1 << (i % 64)
	}
	p := pack(&c)
	var got cylinders
	p.unpack(&got)
	if got.n() != c.n() {
		t.Fatalf("%d cylinders, want %d", got.n(), c.n())
	}
	for i := range c.n() {
		if got.bits[i] != c.bits[i] {
			t.Errorf("cylinder %d: bits differ", i)
		}
		for _, d := range []struct {
			name      string
			got, want float32
			tol       float64
		}{{"x", got.x[i], c.x[i], 1.0 / 16}, {"y", got.y[i], c.y[i], 1.0 / 16}, {"dir", got.dir[i], c.dir[i], 2 * math.Pi / 65536},
			// cos and sin come from dirTrig: the direction to 1/8192 turn
			// (rounded), after its packing to 1/65536 (rounded down).
			{"cos", got.cos[i], c.cos[i], 2*math.Pi/8192 + 2*math.Pi/65536}, {"sin", got.sin[i], c.sin[i], 2*math.Pi/8192 + 2*math.Pi/65536}} {
			if math.Abs(float64(d.got-d.want)) > d.tol {
				t.Errorf("cylinder %d: %s %v, want %v", i, d.name, d.got, d.want)
			}
		}
		if got.typ[i] != c.typ[i] {
			t.Errorf("cylinder %d: type %d, want %d", i, got.typ[i], c.typ[i])
		}
		ones := 0
		for _, w := range c.bits[i] {
			ones += popcount(w)
		}
		if got.norm[i] != float32(math.Sqrt(float64(ones))) {
			t.Errorf("cylinder %d: norm %v for %d bits", i, got.norm[i], ones)
		}
	}
	var i int
	p.positions(func(k int, pos []uint16) {
		if k != i || len(pos) != p.geom[k].ones() {
			t.Errorf("positions of cylinder %d: %d for %d", k, len(pos), p.geom[k].ones())
		}
		i++
	})

	g := NewGallery()
	g.Add("a", tp)
	probe := jittered(r, tp)
	cs, err := g.Search(context.Background(), probe, 0, SearchOptions{})
	if err != nil || len(cs) != 1 {
		t.Fatalf("search: %v %v", cs, err)
	}
	if want := Score(probe, tp); math.Abs(cs[0].Score-want) > 0.005 {
		t.Errorf("gallery score %.4f, matcher %.4f", cs[0].Score, want)
	}
}

func popcount(w uint64) int {
	n := 0
	for ; w != 0; w &= w - 1 {
		n++
	}
	return n
}

// BenchmarkUnpack measures what a gallery pays per full comparison to
// restore an entry's cylinders (compare with BenchmarkMatch).
func BenchmarkUnpack(b *testing.B) {
	x, _ := loadTwo(b)
	p := pack(&x.cyl)
	var c cylinders
	for b.Loop() {
		p.unpack(&c)
	}
}
