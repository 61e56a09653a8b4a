package fingerprint

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestDescWeight(t *testing.T) {
	full := uint32(0)
	for k := range descRing {
		full |= uint32(k%descLevels) << (4 * k)
	}
	if w, ok := descWeight(full, full); !ok || math.Abs(float64(w)-(1+descWeightK*(1-descCentre))) > 1e-6 {
		t.Errorf("identical descriptors: weight %v %v, want %v", w, ok, 1+descWeightK*(1-descCentre))
	}
	// Every sample a quarter turn of the ridges apart (7 or 8 of 15
	// levels: cos(2 d) about -0.98): no support left.
	var perp uint32
	for k := range descRing {
		perp |= uint32((k+7+k%2)%descLevels) << (4 * k)
	}
	if w, ok := descWeight(full, perp); !ok || w != 0 {
		t.Errorf("perpendicular flow: weight %v %v, want 0", w, ok)
	}
	none := uint32(0xffffffff)
	if w, ok := descWeight(full, none); ok || w != 1 {
		t.Errorf("no common sample: weight %v %v, want 1 and not ok", w, ok)
	}
	// Only one sample in common (descMinCommon is 2): not used.
	one := none&^0xf | full&0xf
	if _, ok := descWeight(full, one); ok {
		t.Errorf("one common sample used")
	}
	// Symmetric.
	for _, p := range [][2]uint32{{full, perp}, {full, 0x12345678}, {0x9abcdeff, 0x01234567}} {
		w1, _ := descWeight(p[0], p[1])
		w2, _ := descWeight(p[1], p[0])
		if math.Abs(float64(w1-w2)) > 1e-6 {
			t.Errorf("descWeight(%08x, %08x) = %v, reversed %v", p[0], p[1], w1, w2)
		}
	}
}

// TestDescExtractRoundTrip: an extracted template carries one descriptor
// per minutia (its cylinders theirs), is written as "AFP4" (with its
// texture counts, texture_test.go) and reads back
// the same; a template made from minutiae has none and stays "AFP2".
func TestDescExtractRoundTrip(t *testing.T) {
	tp, err := Extract(synthetic(300, 340, 0, 0, 0), 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(tp.desc) != len(tp.Minutiae) || len(tp.cyl.desc) != tp.cyl.n() || tp.cyl.n() == 0 {
		t.Fatalf("%d descriptors for %d minutiae, %d for %d cylinders", len(tp.desc), len(tp.Minutiae), len(tp.cyl.desc), tp.cyl.n())
	}
	present := 0
	for _, d := range tp.desc {
		for k := range descRing {
			if d>>(4*k)&0xf != descNone {
				present++
			}
		}
	}
	if present == 0 {
		t.Fatal("no descriptor sample inside the print")
	}
	b, err := tp.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:4]) != magicTex {
		t.Fatalf("magic %q, want %q", b[:4], magicTex)
	}
	var again Template
	if err := again.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	// Positions are stored in 1/4 pixel: compare after one round trip.
	var want Template
	if err := want.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&want, &again, cmp.AllowUnexported(Template{}, cylinders{}, Minutia{}), cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("round trip: %s", d)
	}
	if !slicesEqualU32(again.desc, tp.desc) {
		t.Fatalf("descriptors changed in the round trip")
	}
	if s, self := Score(tp, &again), Score(tp, tp); s < 0.9*self {
		t.Errorf("template against its decoded self: score %.3f, against itself %.3f", s, self)
	}
	plain := NewTemplate(tp.Width, tp.Height, tp.Minutiae)
	if plain.desc != nil || plain.cyl.desc != nil {
		t.Fatalf("NewTemplate made descriptors")
	}
	pb, _ := plain.MarshalBinary()
	if string(pb[:4]) != magicCyl {
		t.Fatalf("template without descriptors written as %q", pb[:4])
	}
	// With descriptors on one side only, the comparison goes without
	// them: the same as between two templates without (the texture
	// weights of tp kept on both sides).
	noDesc := NewTemplate(tp.Width, tp.Height, tp.Minutiae)
	noDesc.setTex()
	if s1, s2 := Score(tp, plain), Score(noDesc, plain); s1 != s2 {
		t.Errorf("one-sided descriptors changed the score: %v against %v", s1, s2)
	}
	// A truncated descriptor block is refused.
	n := len(tp.Minutiae)
	if err := new(Template).UnmarshalBinary(b[:headerLen+n*minutiaSize+n*descSize+n-1]); err == nil {
		t.Errorf("truncated AFP4 accepted")
	}
}

func slicesEqualU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
