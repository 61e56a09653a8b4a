package iris

import (
	"math"
	"math/bits"
)

// Matcher defaults.
const (
	// DefaultRotations is the largest circular shift, in columns, tried in
	// each direction: 2*15+1 = 31 shifts. With 256 columns one column is 1.4
	// degrees, so ±15 columns cover ±21 degrees of head tilt.
	DefaultRotations = 15
	// DefaultMinBits is the fewest bits that must be compared (usable in
	// both masks) for a distance to count; fewer means "not comparable".
	DefaultMinBits = 600
	// DefaultNormBits is the number of compared bits at which the rescaled
	// distance equals the raw one for a pair of codes with rowCorrRef
	// degrees of freedom per bit (see Matcher.NormBits).
	DefaultNormBits = 2000
)

// Matcher compares templates. The zero value is not useful; use
// DefaultMatcher or set every field. A Matcher is a value and is safe for
// concurrent use.
type Matcher struct {
	// Rotations is the largest shift, in columns, tried in each direction.
	Rotations int
	// MinBits is the fewest jointly usable bits for a valid comparison.
	MinBits int
	// NormBits rescales the raw fractional Hamming distance hd computed over
	// n bits to 0.5 - (0.5-hd)*sqrt(n/N) (Daugman 2007), so a distance from
	// few bits, which is noisier, is pulled towards 0.5 and a fixed
	// threshold means the same false-match rate whatever the occlusion.
	// N is NormBits times ((1 + S) rowCorrRef)^dofWeight, S the product of
	// the two codes' corrRoot (RowCorrelation, pairNorm): n counted in
	// degrees of freedom, weighted so that codes whose bits follow their
	// neighbours more (another sensor's optics) are not more easily
	// matched.
	NormBits int
}

// DefaultMatcher returns the matcher that Distance uses.
func DefaultMatcher() Matcher {
	return Matcher{Rotations: DefaultRotations, MinBits: DefaultMinBits, NormBits: DefaultNormBits}
}

// Distance is DefaultMatcher().Distance(a, b).
func Distance(a, b *Template) (hd float64, ok bool) {
	return DefaultMatcher().Distance(a, b)
}

// Distance returns the smallest rescaled masked fractional Hamming distance
// between a and b over all shifts of b within ±Rotations columns; 0 means
// identical, about 0.5 means unrelated. ok is false, and hd is 1, when the
// templates are incompatible or no shift has MinBits jointly usable bits:
// the caller must treat that as a non-match.
func (m Matcher) Distance(a, b *Template) (hd float64, ok bool) {
	if !compatible(a, b) {
		return 1, false
	}
	w := a.words()
	rc := make([]uint64, w)
	rm := make([]uint64, w)
	best, found := 1.0, false
	norm := pairNorm(float64(m.NormBits), corrRoot(a.RowCorrelation()), corrRoot(b.RowCorrelation()))
	for s := -m.Rotations; s <= m.Rotations; s++ {
		rotate(rc, b.Code, b.Rows, b.Cols, s)
		rotate(rm, b.Mask, b.Rows, b.Cols, s)
		var diff, n int
		for i := range w {
			mk := a.Mask[i] & rm[i]
			diff += bits.OnesCount64((a.Code[i] ^ rc[i]) & mk)
			n += bits.OnesCount64(mk)
		}
		if n < m.MinBits || n == 0 {
			continue
		}
		if d := rescale(diff, n, norm); d < best {
			best, found = d, true
		}
	}
	return best, found
}

// rescale is Daugman's normalisation of a raw distance over n bits, clamped
// to [0, 1].
func rescale(diff, n int, normBits float64) float64 {
	raw := float64(diff) / float64(n)
	return min(max(0.5-(0.5-raw)*math.Sqrt(float64(n)/normBits), 0), 1)
}

// ThresholdForFMR returns the distance threshold at which the expected
// false-match rate of one comparison (all shifts included) is fmr, from the
// binomial model of Daugman (2003): the impostor distance at one shift is a
// binomial fraction with dof degrees of freedom around 0.5, and the minimum
// over k shifts has cumulative 1-(1-F(x))^k. dof and k come from the
// calibration measured on CASIA-IrisV1 (ImpostorDOF, EffectiveShifts).
// Accept a comparison when hd <= threshold.
func ThresholdForFMR(fmr float64) float64 { return DefaultModel().Threshold(fmr) }

// Model is the impostor model behind ThresholdForFMR: mean and degrees of
// freedom of the single-shift impostor distance and the number of
// independent shifts whose minimum reproduces the measured tail.
type Model struct {
	Mean   float64 `json:"mean"`
	DOF    float64 `json:"dof"`
	Shifts float64 `json:"shifts"`
}

// DefaultModel is the shipped calibration (the constants below).
func DefaultModel() Model {
	return Model{Mean: ImpostorMean, DOF: ImpostorDOF, Shifts: EffectiveShifts}
}

// Threshold returns the distance at which the model's false-match rate of
// one comparison is fmr (accept when hd <= threshold).
func (m Model) Threshold(fmr float64) float64 {
	if fmr <= 0 {
		return 0
	}
	if fmr >= 1 {
		return 1
	}
	// Per-shift tail probability p with 1-(1-p)^k = fmr.
	p := -math.Expm1(math.Log1p(-fmr) / m.Shifts)
	sd := math.Sqrt(0.25 / m.DOF)
	return m.Mean + sd*math.Sqrt2*math.Erfinv(2*p-1)
}

// Calibration of ThresholdForFMR, measured with `assent eval iris` on
// CASIA-IrisV1 (docs/iris.md): mean and degrees of freedom of the impostor
// distance at a single shift, and the number of independent shifts that
// reproduces the impostor minimum over all shifts (fitted over the
// decades CASIA measures, 1e-3 and 1e-4). Refitted for the distance with
// the pair's degrees of freedom raised to dofWeight (issue 17, seventh
// round: 0.4962, 407, 44.0; 0.4961, 384, 43.1 for the fifth round's
// weight 1; before that 0.4962, 367, 43), and again for the tenth round's
// lower-lid mask, which changes 322 of CASIA's 756 templates (0.4961,
// 410, 34.7), and for the eleventh round's limbus split, which changes 8
// (0.4961, 410, 34.5).
const (
	ImpostorMean    = 0.4961
	ImpostorDOF     = 410
	EffectiveShifts = 34.5
)
