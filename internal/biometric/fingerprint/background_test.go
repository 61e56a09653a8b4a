package fingerprint

import (
	"math"
	"math/rand/v2"
	"testing"
)

// withNeutralDesc returns a copy of t whose minutiae carry descriptors with
// no sample (every pair keeps its similarity), so that a comparison of two
// such templates differs from one without descriptors only by the
// background normalisation.
func withNeutralDesc(t *Template) *Template {
	c := NewTemplate(t.Width, t.Height, t.Minutiae)
	desc := make([]uint32, len(c.Minutiae))
	for i := range desc {
		desc[i] = 0xffffffff
	}
	c.setDesc(desc)
	return c
}

// bruteBackground is the mean local similarity over every pair of
// cylinders whose directions differ by less than maxDirGap, computed
// plainly.
func bruteBackground(a, b *cylinders) float64 {
	sum, n := 0.0, 0
	for i := range a.n() {
		for j := range b.n() {
			d := float64(b.dir[j] - a.dir[i])
			d = math.Mod(d+3*math.Pi, 2*math.Pi) - math.Pi
			if d < -maxDirGap || d >= maxDirGap {
				continue
			}
			r := math.Sqrt(float64(hamming(&a.bits[i], &b.bits[j]))) / float64(a.norm[i]+b.norm[j])
			if r <= 1 {
				sum += r
				n++
			}
		}
	}
	return 1 - sum/float64(n)
}

// TestBackgroundNormalisation: a 1:1 comparison of two extracted templates
// (both with ring descriptors) divides the similarities by the pair's
// background, the mean local similarity of every cylinder pair compared;
// the relaxation is linear in the similarities and the pairs kept depend
// only on their ratios, so below the caps the score is that of the plain
// comparison times bgRef / background. A gallery's comparison (one side
// without descriptors) goes without it.
func TestBackgroundNormalisation(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 1))
	checked := 0
	for k := range 20 {
		a := sampleTemplateSeed(r)
		b := sampleTemplateSeed(r)
		if k%2 == 0 {
			b = jittered(r, a) // a mate: high scores, capped at times
		}
		na, nb := withNeutralDesc(a), withNeutralDesc(b)
		plain, norm := Score(a, b), Score(na, nb)
		if oneSided := Score(na, b); oneSided != plain {
			t.Errorf("pair %d: descriptors on one side changed the score: %v against %v", k, oneSided, plain)
		}
		mu := bruteBackground(&na.cyl, &nb.cyl)
		want := plain * bgRef / mu
		if want >= 0.9 || plain == 0 {
			continue // caps (a pair's similarity or the score at 1) may apply
		}
		checked++
		if math.Abs(norm-want) > 1e-4*max(1, want/0.01) {
			t.Errorf("pair %d: normalised score %.6f, want plain %.6f x %.3f / background %.4f = %.6f", k, norm, plain, bgRef, mu, want)
		}
	}
	if checked < 10 {
		t.Fatalf("only %d pairs below the caps", checked)
	}
}
