package fingerprint

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/assent-registry/assent/internal/biometric/fingerprint/iso19794"
)

// TestTexRoundTrip: an extracted template carries texture counts and
// weights (relative: their mean is 1), writes them as "AFP4" and reads them
// back; the same bytes as "AFP3" (the counts dropped) decode with weight 1
// and still verify against the AFP4 template, as does the template through
// an ISO/IEC 19794-2 record, which carries no texture.
func TestTexRoundTrip(t *testing.T) {
	tp, err := Extract(synthetic(300, 340, 0, 0, 0), 500)
	if err != nil {
		t.Fatal(err)
	}
	if !tp.hasTex || len(tp.cyl.tex) != tp.cyl.n() || tp.cyl.n() == 0 {
		t.Fatalf("hasTex %v, %d weights for %d cylinders", tp.hasTex, len(tp.cyl.tex), tp.cyl.n())
	}
	mean := 0.0
	for _, w := range tp.cyl.tex {
		if !(w > 0) {
			t.Fatalf("weight %v", w)
		}
		mean += float64(w) / float64(len(tp.cyl.tex))
	}
	if math.Abs(mean-1) > 1e-5 {
		t.Errorf("mean weight %v, want 1", mean)
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
	if !again.hasTex || len(again.cyl.tex) != again.cyl.n() {
		t.Fatalf("decoded: hasTex %v, %d weights", again.hasTex, len(again.cyl.tex))
	}
	for i, m := range again.Minutiae {
		if m.tex != tp.Minutiae[i].tex {
			t.Fatalf("minutia %d: count %d, want %d", i, m.tex, tp.Minutiae[i].tex)
		}
	}
	self := Score(tp, tp)
	if s := Score(tp, &again); s < 0.9*self {
		t.Errorf("AFP4 against its decoded self: %.3f, against itself %.3f", s, self)
	}
	// The same template as "AFP3": the counts removed.
	n := len(tp.Minutiae)
	at := headerLen + n*(minutiaSize+descSize)
	old := append(append([]byte(magicDesc), b[4:at]...), b[at+n:]...)
	var v3 Template
	if err := v3.UnmarshalBinary(old); err != nil {
		t.Fatal(err)
	}
	if v3.hasTex || v3.cyl.tex != nil || v3.desc == nil {
		t.Fatalf("AFP3: hasTex %v, weights %v, desc %v", v3.hasTex, v3.cyl.tex != nil, v3.desc != nil)
	}
	if s1, s2 := Score(tp, &v3), Score(&v3, tp); s1 < 0.8*self || s1 != s2 {
		t.Errorf("AFP4 against AFP3: %.3f / %.3f, AFP4 against itself %.3f", s1, s2, self)
	}
	if w, _ := v3.MarshalBinary(); string(w[:4]) != magicDesc {
		t.Errorf("AFP3 template written as %q", w[:4])
	}
	// Through ISO/IEC 19794-2: no texture, no descriptors.
	raw, err := iso19794.Encode(tp.ToISO(1))
	if err != nil {
		t.Fatal(err)
	}
	r, err := iso19794.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	iso, err := FromISO(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if iso.hasTex || iso.cyl.tex != nil {
		t.Fatal("ISO template has texture weights")
	}
	if s := Score(tp, iso); s < 0.5*self {
		t.Errorf("AFP4 against its ISO record: %.3f, against itself %.3f", s, self)
	}
	// A weight of 1 on one side: the score is that of the other side's
	// weights alone.
	plain := NewTemplate(tp.Width, tp.Height, tp.Minutiae)
	ones := NewTemplate(tp.Width, tp.Height, tp.Minutiae)
	ones.cyl.tex = make([]float32, ones.cyl.n())
	for i := range ones.cyl.tex {
		ones.cyl.tex[i] = 1
	}
	if s1, s2 := Score(tp, plain), Score(tp, ones); s1 != s2 {
		t.Errorf("unknown texture %v, weight 1 %v", s1, s2)
	}
}

// TestGalleryCylinders: a gallery keeps the maxGalleryCylinders cylinders of
// best minutia quality, in direction order, without descriptors or weights;
// a template with fewer keeps all of them.
func TestGalleryCylinders(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ms := make([]Minutia, 110)
	for i := range ms {
		ms[i] = Minutia{X: float32(20 + r.IntN(360)), Y: float32(20 + r.IntN(400)),
			Dir: float32(r.Float64() * 2 * math.Pi), Type: uint8(1 + r.IntN(2)), Quality: uint8(1 + r.IntN(100))}
	}
	tp := NewTemplate(400, 440, ms)
	if tp.cyl.n() <= maxGalleryCylinders {
		t.Fatalf("only %d cylinders", tp.cyl.n())
	}
	tp.cyl.tex = make([]float32, tp.cyl.n())
	gc := tp.galleryCylinders()
	if gc.n() != maxGalleryCylinders || gc.desc != nil || gc.tex != nil {
		t.Fatalf("%d cylinders, desc %v, tex %v", gc.n(), gc.desc != nil, gc.tex != nil)
	}
	quality := func(x, y, dir float32) int {
		for _, m := range tp.Minutiae {
			if m.X == x && m.Y == y && m.Dir == dir {
				return int(m.Quality)
			}
		}
		t.Fatalf("cylinder without its minutia")
		return 0
	}
	kept := map[[3]float32]bool{}
	worstKept := 101
	for i := range gc.n() {
		if i > 0 && gc.dir[i] < gc.dir[i-1] {
			t.Fatalf("cylinder %d out of direction order", i)
		}
		kept[[3]float32{gc.x[i], gc.y[i], gc.dir[i]}] = true
		worstKept = min(worstKept, quality(gc.x[i], gc.y[i], gc.dir[i]))
	}
	for i := range tp.cyl.n() {
		if !kept[[3]float32{tp.cyl.x[i], tp.cyl.y[i], tp.cyl.dir[i]}] && quality(tp.cyl.x[i], tp.cyl.y[i], tp.cyl.dir[i]) > worstKept {
			t.Errorf("dropped a cylinder of quality above the worst kept (%d)", worstKept)
		}
	}
	g := NewGallery()
	g.Add("a", tp)
	form, ok := g.AppendForm(nil, "a")
	if !ok || form[0] != maxGalleryCylinders {
		t.Errorf("gallery form holds %d cylinders, want %d", form[0], maxGalleryCylinders)
	}
	small := sampleTemplate()
	if gs := small.galleryCylinders(); gs.n() != small.cyl.n() {
		t.Errorf("a template of %d cylinders keeps %d", small.cyl.n(), gs.n())
	}
}
