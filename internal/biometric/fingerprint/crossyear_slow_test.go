package fingerprint

import (
	"math"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/biometric/crossset"
)

// documented holds the per-set figures docs/fingerprint.md reports
// ("Accuracy: in sample and out of sample"), in percent: the in-sample EER
// and FMR1000 (thresholds chosen on the set itself), and out of sample,
// with every threshold fitted on the other FVC year: the larger of FMR and
// FNMR at that year's EER threshold and the FNMR at its FMR 1e-3 threshold.
var documented = map[string]struct{ eer, fmr1000, eerOut, fnmr1e3Out float64 }{
	"fvc2000/db1_b": {0.35, 3.21, 1.39, 0.36},
	"fvc2000/db2_b": {1.74, 5.00, 2.47, 2.86},
	"fvc2000/db3_b": {3.54, 7.50, 4.29, 8.21},
	"fvc2000/db4_b": {1.14, 3.57, 1.77, 2.86},
	"fvc2002/db1_b": {1.43, 2.14, 1.43, 3.21},
	"fvc2002/db2_b": {0.72, 2.50, 1.39, 2.50},
	"fvc2002/db3_b": {1.78, 1.79, 1.79, 5.36},
	"fvc2002/db4_b": {1.43, 2.86, 1.43, 4.29},
}

// Tolerances in percentage points: the pipeline is deterministic, so these
// only absorb floating-point differences between machines; a change to the
// extractor or matcher that moves a figure must update the docs and this
// table together.
const (
	tolEER  = 0.15
	tolFNMR = 0.40
)

type setScores struct {
	gen, imp []float64
}

func scoreSet(t *testing.T, root, dir string, dpi int) setScores {
	t.Helper()
	e := extractSet(t, root, dir, dpi)
	g, im := PairScores(e.imps, e.ts)
	return setScores{g, im}
}

// TestCrossYearFigures is the regression guard of the accuracy headline:
// each shared set's in-sample and out-of-sample (other year's thresholds)
// figures must stay where docs/fingerprint.md says.
func TestCrossYearFigures(t *testing.T) {
	heavy(t)
	root := dataDir(t)
	scores := map[string]setScores{}
	for _, s := range sets {
		scores[s.dir] = scoreSet(t, root, s.dir, s.dpi)
	}
	fits := map[string]crossset.Fit{}
	for _, year := range []string{"fvc2000", "fvc2002"} {
		var g, im []float64
		for dir, sc := range scores {
			if strings.HasPrefix(dir, year) {
				g, im = append(g, sc.gen...), append(im, sc.imp...)
			}
		}
		f, err := crossset.FitScores([]string{year}, g, im)
		if err != nil {
			t.Fatal(err)
		}
		fits[year] = f
	}
	var meanIn, meanOut float64
	for _, s := range sets {
		sc := scores[s.dir]
		in, err := ComputeRates(sc.gen, sc.imp)
		if err != nil {
			t.Fatal(err)
		}
		other := "fvc2000"
		if strings.HasPrefix(s.dir, "fvc2000") {
			other = "fvc2002"
		}
		out, err := crossset.Apply(fits[other], s.dir, sc.gen, sc.imp)
		if err != nil {
			t.Fatal(err)
		}
		got := [4]float64{100 * in.EER, 100 * in.FMR1000, 100 * out.EER, 100 * out.At[2].FNMR}
		want := documented[s.dir]
		t.Logf("%s: in sample EER %.2f%% FMR1000 %.2f%%; thresholds of %s: EER %.2f%%, at FMR 1e-3 FMR %.3f%% FNMR %.2f%%",
			s.dir, got[0], got[1], other, got[2], 100*out.At[2].FMR, got[3])
		for i, w := range [4]float64{want.eer, want.fmr1000, want.eerOut, want.fnmr1e3Out} {
			tol := tolEER
			if i%2 == 1 {
				tol = tolFNMR
			}
			if math.Abs(got[i]-w) > tol {
				t.Errorf("%s: %s = %.2f%%, docs say %.2f%% (tolerance %.2f points)", s.dir,
					[4]string{"in-sample EER", "in-sample FMR1000", "out-of-sample EER", "out-of-sample FNMR at FMR 1e-3"}[i], got[i], w, tol)
			}
		}
		meanIn += got[0] / float64(len(sets))
		meanOut += got[2] / float64(len(sets))
	}
	t.Logf("mean EER in sample %.2f%%, out of sample %.2f%%", meanIn, meanOut)
}
