// Package crossset is the protocol that cannot flatter: every tuned
// quantity of a biometric decision (the score-to-FMR calibration and the
// thresholds it gives) is fitted on one group of data sets and applied,
// frozen, to another. Scores are "higher means more alike"; an engine whose
// output is a distance passes its negation.
//
// A per-set EER picks the best threshold for that very set after seeing it,
// so it flatters; Apply instead reports the error rates a deployed system
// would see on a new set with thresholds chosen beforehand.
package crossset

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Targets are the false-match rates whose thresholds Fit calibrates.
var Targets = []float64{1e-2, 1e-3, 1e-4}

// Fit is what is learned on the calibration group.
type Fit struct {
	// Sets names the calibration sets, for the report.
	Sets []string `json:"sets"`
	// Genuine and Impostor count the pooled calibration scores.
	Genuine  int `json:"genuine"`
	Impostor int `json:"impostor"`
	// EERThreshold is the score where the pooled calibration FMR and FNMR
	// cross (accept when score >= threshold).
	EERThreshold float64 `json:"eer_threshold"`
	// Thresholds holds, for each of Targets, the smallest score whose
	// pooled calibration FMR is at most the target (the empirical impostor
	// quantile).
	Thresholds []Threshold `json:"thresholds"`
}

// Threshold is one fitted threshold. Measured is false (and Score 0) when
// the calibration group has fewer than 1/Target impostor scores.
type Threshold struct {
	Target   float64 `json:"target_fmr"`
	Score    float64 `json:"score"`
	Measured bool    `json:"measured"`
}

// ErrNoScores means a group had no genuine or no impostor scores.
var ErrNoScores = errors.New("crossset: no genuine or no impostor scores")

// FitScores fits the thresholds on the pooled genuine and impostor scores of
// the calibration group.
func FitScores(sets []string, genuine, impostor []float64) (Fit, error) {
	if len(genuine) == 0 || len(impostor) == 0 {
		return Fit{}, ErrNoScores
	}
	g := slices.Clone(genuine)
	im := slices.Clone(impostor)
	slices.Sort(g)
	slices.Sort(im)
	f := Fit{Sets: sets, Genuine: len(g), Impostor: len(im)}
	ts := append(slices.Clone(g), im...)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	best := math.Inf(1)
	for _, t := range ts {
		fmr, fnmr := rates(g, im, t)
		if d := math.Abs(fmr - fnmr); d < best {
			best, f.EERThreshold = d, t
		}
	}
	for _, target := range Targets {
		t, ok := quantile(im, target)
		f.Thresholds = append(f.Thresholds, Threshold{Target: target, Score: t, Measured: ok})
	}
	return f, nil
}

// quantile returns the smallest threshold t (a score of im, or just above
// the largest) with FMR(t) <= target on sorted impostor scores; false when
// fewer than 1/target impostors were measured.
func quantile(im []float64, target float64) (float64, bool) {
	if float64(len(im))*target < 1 {
		return 0, false
	}
	allowed := int(math.Floor(target * float64(len(im)))) // impostors that may reach t
	// t above the (allowed+1)-th largest score: the next larger value.
	v := im[len(im)-1-allowed]
	return math.Nextafter(v, math.Inf(1)), true
}

// rates returns FMR (impostors >= t) and FNMR (genuine < t) on sorted slices.
func rates(g, im []float64, t float64) (fmr, fnmr float64) {
	i, _ := slices.BinarySearch(im, t)
	j, _ := slices.BinarySearch(g, t)
	return float64(len(im)-i) / float64(len(im)), float64(j) / float64(len(g))
}

// Point is one frozen threshold applied to a test set.
type Point struct {
	// Target is the FMR the threshold was fitted for; 0 for the EER threshold.
	Target    float64 `json:"target_fmr"`
	Threshold float64 `json:"threshold"`
	// Measured is false when the calibration could not fit this threshold;
	// FMR and FNMR are then 0 and mean nothing.
	Measured bool    `json:"measured"`
	FMR      float64 `json:"fmr"`
	FNMR     float64 `json:"fnmr"`
}

// Report is one test set scored with a Fit from other sets.
type Report struct {
	Set      string `json:"set"`
	Genuine  int    `json:"genuine"`
	Impostor int    `json:"impostor"`
	// EER is the larger of FMR and FNMR at the calibration group's EER
	// threshold: the error rate a system tuned elsewhere must accept here.
	// It is never below the set's own (in-sample) EER, which is where the
	// larger of the two is smallest, so it cannot flatter; (FMR + FNMR) / 2
	// could (a set with a high floor of failures to enrol would look better
	// at a strict borrowed threshold than at its own crossing).
	EER float64 `json:"eer"`
	// At holds the EER threshold first, then one point per Target.
	At []Point `json:"at"`
}

// Apply scores a test set with the frozen thresholds of f.
func Apply(f Fit, set string, genuine, impostor []float64) (Report, error) {
	if len(genuine) == 0 || len(impostor) == 0 {
		return Report{}, fmt.Errorf("%s: %w", set, ErrNoScores)
	}
	g := slices.Clone(genuine)
	im := slices.Clone(impostor)
	slices.Sort(g)
	slices.Sort(im)
	r := Report{Set: set, Genuine: len(g), Impostor: len(im)}
	fmr, fnmr := rates(g, im, f.EERThreshold)
	r.EER = max(fmr, fnmr)
	r.At = append(r.At, Point{Threshold: f.EERThreshold, Measured: true, FMR: fmr, FNMR: fnmr})
	for _, t := range f.Thresholds {
		p := Point{Target: t.Target, Threshold: t.Score, Measured: t.Measured}
		if t.Measured {
			p.FMR, p.FNMR = rates(g, im, t.Score)
		}
		r.At = append(r.At, p)
	}
	return r, nil
}
