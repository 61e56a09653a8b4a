package fingerprint

import "math"

// calibration maps scores to false-match rates: score and log10(FMR) at the
// impostor quantiles measured on the 23,040 all-pairs impostor comparisons of
// the eight FVC2000/FVC2002 B sets (our extractor, see docs/fingerprint.md).
// Beyond the last point the tail is extrapolated with the slope of the last
// decade. Re-measure it whenever extraction or matching parameters change
// (ASSENT_SLOW_TESTS=1 go test -run TestEvalAllSets -v prints the quantiles).
// Refitted after the minutia-type evidence of the matcher (before it
// 0.0133 / 0.0165 / 0.0218 / 0.0312 / 0.0532).
var calibration = [...]struct{ score, log10FMR float64 }{
	{0, 0},
	{0.0134, math.Log10(0.5)},
	{0.0164, -1},
	{0.0213, -2},
	{0.0289, -3},
	{0.0474, -4}, // from the top 2 of 23,040 scores: coarse
}

// minFMR is the smallest rate FMR reports; the data cannot support less.
const minFMR = 1e-9

// FMR returns the estimated false-match rate of accepting a comparison whose
// Score is score: the fraction of impostor comparisons expected to score at
// least as high. It decreases monotonically from 1 (score 0) to minFMR.
func FMR(score float64) float64 {
	c := calibration
	if score <= 0 {
		return 1
	}
	for i := 1; i < len(c); i++ {
		if score <= c[i].score {
			t := (score - c[i-1].score) / (c[i].score - c[i-1].score)
			return math.Pow(10, c[i-1].log10FMR+t*(c[i].log10FMR-c[i-1].log10FMR))
		}
	}
	last, prev := c[len(c)-1], c[len(c)-2]
	slope := (last.log10FMR - prev.log10FMR) / (last.score - prev.score)
	return max(minFMR, math.Pow(10, last.log10FMR+slope*(score-last.score)))
}

// Threshold returns the smallest score whose estimated FMR is at most fmr
// (clamped to [minFMR, 1]). It is the inverse of FMR.
func Threshold(fmr float64) float64 {
	fmr = min(1, max(minFMR, fmr))
	lf := math.Log10(fmr)
	c := calibration
	for i := 1; i < len(c); i++ {
		if lf >= c[i].log10FMR {
			t := (lf - c[i-1].log10FMR) / (c[i].log10FMR - c[i-1].log10FMR)
			return c[i-1].score + t*(c[i].score-c[i-1].score)
		}
	}
	last, prev := c[len(c)-1], c[len(c)-2]
	slope := (last.log10FMR - prev.log10FMR) / (last.score - prev.score)
	return last.score + (lf-last.log10FMR)/slope
}

// DefaultFMR is the false-match rate the default threshold is set for.
const DefaultFMR = 1e-4

// DefaultThreshold returns Threshold(DefaultFMR): the score at or above which
// two templates are taken to be the same finger by default.
func DefaultThreshold() float64 { return Threshold(DefaultFMR) }
