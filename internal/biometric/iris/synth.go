package iris

import (
	"math"
	"math/rand/v2"
)

// Synth makes synthetic iris codes with realistic statistics for benchmarks
// and tests: each template comes from a smooth random field along the angle
// (as a band-pass filter response is), quantised to phase bits, with an
// eyelid-shaped mask and a sprinkling of masked fragile bits. Mates of a field
// share it up to noise and a random rotation. A Synth is immutable and safe
// for concurrent use; randomness comes from the caller's *rand.Rand.
type Synth struct {
	Rows, Cols int
	Smooth     int     // box width of the angular smoothing, applied twice
	MateNoise  float64 // std of the noise added to a mate's field (field std is 1)
	MaxShift   int     // mates are rotated by up to this many columns
}

// NewSynth returns a Synth whose mated distances fall around 0.25-0.3 and
// whose impostor distances centre on 0.5, like real iris codes.
func NewSynth(rows, cols int) Synth {
	return Synth{Rows: rows, Cols: cols, Smooth: 5, MateNoise: 0.8, MaxShift: 10}
}

// Field draws the hidden real-valued texture of one synthetic eye:
// Rows*2 sequences of Cols values.
func (s Synth) Field(rng *rand.Rand) []float64 {
	f := make([]float64, s.Rows*2*s.Cols)
	for q := range s.Rows * 2 {
		row := f[q*s.Cols : (q+1)*s.Cols]
		for i := range row {
			row[i] = rng.NormFloat64()
		}
		s.smooth(row)
		s.smooth(row)
	}
	return f
}

// smooth applies a circular box filter of width Smooth and rescales to unit
// variance.
func (s Synth) smooth(row []float64) {
	n, w := len(row), s.Smooth
	tmp := make([]float64, n)
	for i := range n {
		var sum float64
		for k := -w / 2; k <= w/2; k++ {
			sum += row[((i+k)%n+n)%n]
		}
		tmp[i] = sum
	}
	var ss float64
	for _, v := range tmp {
		ss += v * v
	}
	sd := math.Sqrt(ss / float64(n))
	for i := range row {
		row[i] = tmp[i] / sd
	}
}

// Template quantises field with a little noise and a fresh mask.
func (s Synth) Template(field []float64, rng *rand.Rand) *Template {
	return s.code(field, 0.2, 0, rng)
}

// Mate is another capture of the eye of field: more noise, a new mask and a
// random rotation within ±MaxShift columns.
func (s Synth) Mate(field []float64, rng *rand.Rand) *Template {
	return s.code(field, s.MateNoise, rng.IntN(2*s.MaxShift+1)-s.MaxShift, rng)
}

func (s Synth) code(field []float64, noise float64, shift int, rng *rand.Rand) *Template {
	t := &Template{Encoder: EncoderVersion, Rows: s.Rows, Cols: s.Cols}
	t.Code = make([]uint64, t.words())
	t.Mask = make([]uint64, t.words())
	// Eyelids cover the outer rows around the top and bottom of the iris.
	up, down := rng.Float64()*0.8, rng.Float64()*0.4
	for c := range s.Cols {
		theta := 2 * math.Pi * float64(c) / float64(s.Cols)
		cover := max(up*math.Sin(theta), -down*math.Sin(theta)) // fraction of rows covered, from the outside
		src := ((c-shift)%s.Cols + s.Cols) % s.Cols
		for r := range s.Rows {
			occluded := float64(s.Rows-r) <= cover*float64(s.Rows)*1.5
			for k := range 2 {
				v := field[(r*2+k)*s.Cols+src] + noise*rng.NormFloat64()
				i := (c*s.Rows+r)*2 + k
				if v > 0 {
					t.Code[i>>6] |= 1 << (i & 63)
				}
				if !occluded && math.Abs(v) > 0.15 {
					t.Mask[i>>6] |= 1 << (i & 63)
				}
			}
		}
	}
	return t
}
