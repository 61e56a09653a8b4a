package fingerprint

import "math"

// A score-to-FMR table: score and log10(FMR) at the impostor quantiles
// 1/2, 1/10, 1/100, 1/1,000 and 1/10,000 of the 23,040 within-set impostor
// comparisons of the eight FVC2000/FVC2002 B sets (our extractor, see
// docs/fingerprint.md, "The calibration tables"). Beyond the last point the
// tail is extrapolated with the slope of the last decade. Re-measure both
// tables whenever extraction or matching parameters change
// (ASSENT_SLOW_TESTS=1 go test -run TestEvalAllSets -v prints the
// quantiles: "impostor" for 1:1, "gallery impostor" for 1:N).
type calTable []struct{ score, log10FMR float64 }

// calibration is the gallery's (1:N) table: fitted on the scores a gallery
// computes (galleryCylinders: the 64 best-quality cylinders, no ring
// descriptors, no texture weights). FMR and Threshold read it.
//
// Refitted for the STFT extraction with texture counts (fourteenth pass of
// issue 17); before it, on the Gabor pipeline's 64 minutiae, 0.0134 /
// 0.0164 / 0.0213 / 0.0289 / 0.0474.
var calibration = calTable{
	{0, 0},
	{0.0134, math.Log10(0.5)},
	{0.0163, -1},
	{0.0216, -2},
	{0.0290, -3},
	{0.0404, -4}, // from the top 2 of 23,040 scores: coarse
}

// verifyCalibration is the 1:1 table: fitted on the scores Score computes
// (every cylinder, ring descriptors and texture weights), whose impostor
// tail differs from a gallery's. VerifyFMR and VerifyThreshold read it.
// Fitted in the fourteenth pass of issue 17 (before it, 1:1 scores were
// read with the gallery's table, about 3x optimistic for them).
var verifyCalibration = calTable{
	{0, 0},
	{0.0140, math.Log10(0.5)},
	{0.0190, -1},
	{0.0259, -2},
	{0.0357, -3},
	{0.0542, -4}, // from the top 2 of 23,040 scores: coarse
}

// minFMR is the smallest rate FMR reports; the data cannot support less.
const minFMR = 1e-9

// FMR returns the estimated false-match rate of accepting a gallery (1:N)
// comparison whose score is score: the fraction of impostor comparisons
// expected to score at least as high. It decreases monotonically from 1
// (score 0) to minFMR. For Score's (1:1) scores use VerifyFMR.
func FMR(score float64) float64 { return calibration.fmr(score) }

// Threshold returns the smallest gallery (1:N) score whose estimated FMR is
// at most fmr (clamped to [minFMR, 1]). It is the inverse of FMR; the
// threshold of Gallery.Search.
func Threshold(fmr float64) float64 { return calibration.threshold(fmr) }

// VerifyFMR is FMR for a 1:1 comparison: the estimated false-match rate of
// accepting a Score of score.
func VerifyFMR(score float64) float64 { return verifyCalibration.fmr(score) }

// VerifyThreshold is Threshold for 1:1 comparisons (Score): the inverse of
// VerifyFMR.
func VerifyThreshold(fmr float64) float64 { return verifyCalibration.threshold(fmr) }

func (c calTable) fmr(score float64) float64 {
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

func (c calTable) threshold(fmr float64) float64 {
	fmr = min(1, max(minFMR, fmr))
	lf := math.Log10(fmr)
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

// DefaultFMR is the false-match rate the default thresholds are set for.
const DefaultFMR = 1e-4

// DefaultThreshold returns Threshold(DefaultFMR): the gallery (1:N) score at
// or above which two templates are taken to be the same finger by default.
func DefaultThreshold() float64 { return Threshold(DefaultFMR) }

// DefaultVerifyThreshold returns VerifyThreshold(DefaultFMR): the 1:1 Score
// at or above which two templates are taken to be the same finger by
// default.
func DefaultVerifyThreshold() float64 { return VerifyThreshold(DefaultFMR) }
