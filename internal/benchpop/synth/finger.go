// Package synth makes synthetic fingerprint minutiae sets for benchmarks and
// tests of the enrolment path: plausible prints, and mates that look like
// another impression of the same finger. Nothing here is a real person's.
package synth

import (
	"math"
	"math/rand/v2"

	"github.com/assent-registry/assent/internal/biometric/fingerprint"
)

// Finger is a plausible minutiae set: 35-60 minutiae spread over a 300x400
// print.
type Finger struct{ ms []fingerprint.Minutia }

// NewFinger draws a finger from rng.
func NewFinger(rng *rand.Rand) Finger {
	n := 35 + rng.IntN(26)
	ms := make([]fingerprint.Minutia, n)
	for i := range ms {
		ms[i] = fingerprint.Minutia{X: float32(40 + rng.Float64()*220), Y: float32(40 + rng.Float64()*320),
			Dir: float32(rng.Float64() * 2 * math.Pi), Type: uint8(1 + rng.IntN(2)), Quality: uint8(40 + rng.IntN(60))}
	}
	return Finger{ms: ms}
}

// Template is the finger as enrolled.
func (f Finger) Template() *fingerprint.Template { return fingerprint.NewTemplate(300, 400, f.ms) }

// Mate moves, turns and thins the finger like a new impression.
func (f Finger) Mate(rng *rand.Rand) *fingerprint.Template {
	a := (rng.Float64() - 0.5) * 0.4
	dx, dy := (rng.Float64()-0.5)*40, (rng.Float64()-0.5)*40
	c, s := math.Cos(a), math.Sin(a)
	var out []fingerprint.Minutia
	for _, m := range f.ms {
		if rng.Float64() < 0.15 {
			continue // missed in this impression
		}
		x, y := float64(m.X)-150, float64(m.Y)-200
		m.X = float32(150 + c*x - s*y + dx + rng.NormFloat64()*2)
		m.Y = float32(200 + s*x + c*y + dy + rng.NormFloat64()*2)
		m.Dir = float32(math.Mod(float64(m.Dir)+a+rng.NormFloat64()*0.1+4*math.Pi, 2*math.Pi))
		out = append(out, m)
	}
	return fingerprint.NewTemplate(300, 400, out)
}
