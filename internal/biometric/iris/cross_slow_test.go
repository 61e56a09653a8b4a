package iris

import (
	"bufio"
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/assent-registry/assent/internal/datasets"
)

// sameEyesIITD reads docs/data/iitd-same-eyes.txt.
func sameEyesIITD(t *testing.T) [][2]string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, err := os.Open(filepath.Join(filepath.Dir(file), "..", "..", "..", "docs", "data", "iitd-same-eyes.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if fs := strings.Fields(line); len(fs) == 2 {
			out = append(out, [2]string{fs[0], fs[1]})
		}
	}
	return out
}

// irisDocumented holds the figures docs/iris.md reports ("Cross-set
// protocol"), in percent: in sample EER, FTE, FMR1000; out of sample (the
// other set's thresholds) EER (the larger of FMR and FNMR at the other set's
// EER threshold) and FNMR at the other set's FMR 1e-3 threshold. The
// pipeline is deterministic; the tolerance of 0.1 points absorbs
// floating-point differences between machines only.
var irisDocumented = map[string][5]float64{
	"casia": {0.220, 0, 0.309, 0.270, 0.309},
	"iitd":  {0.312, 0.045, 0.395, 0.312, 0.354},
}

// TestCrossSetFigures evaluates CASIA-IrisV1 and IITD (same eyes filed
// twice excluded, docs/data/iitd-same-eyes.txt), scores each with the
// thresholds and impostor model fitted on the other, and checks the
// documented figures. ASSENT_SLOW_TESTS=1, ASSENT_IRIS_DATA (CASIA) and
// ASSENT_IITD_DATA; about 10 CPU-minutes.
func TestCrossSetFigures(t *testing.T) {
	if os.Getenv("ASSENT_SLOW_TESTS") == "" {
		t.Skip("full-dataset evaluation; set ASSENT_SLOW_TESTS=1")
	}
	casiaDir := datasets.IrisSet(t)
	iitdDir := datasets.IITDSet(t)
	ctx := context.Background()
	casia, err := Evaluate(ctx, casiaDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	iitd, err := EvaluateWith(ctx, iitdDir, EvalOptions{SameEyes: sameEyesIITD(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		test, cal *EvalResult
	}{{"casia", casia, iitd}, {"iitd", iitd, casia}} {
		r, err := CrossFrom(c.test, c.cal)
		if err != nil {
			t.Fatal(err)
		}
		tr := r.Test
		t.Logf("%s in sample: EER %.3f%% FTE %.2f%% FMR1000 %.3f%% FMR10000 %.3f%% FMR100000 %.3f%% ZeroFMR %.3f%%; %d genuine %d impostor, excluded %d (%d under EER threshold); close impostors %d; identical %d; lowest impostor %.4f; failures %v",
			c.name, 100*tr.EER, 100*tr.FTE, 100*tr.FMR1000, 100*tr.FMR10000, 100*tr.FMR100000, 100*tr.ZeroFMR, tr.Genuine, tr.Impostor, tr.ExcludedPairs, tr.ExcludedUnder, len(tr.CloseImpostors), len(tr.IdenticalImages), tr.imp[0], tr.Failures)
		t.Logf("%s out of sample: EER %.3f%% (FMR %.4f%% FNMR %.3f%% at %.4f)", c.name, 100*r.Out.EER, 100*r.Out.At[0].FMR, 100*r.Out.At[0].FNMR, -r.Out.At[0].Threshold)
		for _, p := range r.Out.At[1:] {
			t.Logf("  fitted FMR %g at %.4f: measured FMR %.4f%% FNMR %.3f%% (fitted %v)", p.Target, -p.Threshold, 100*p.FMR, 100*p.FNMR, p.Measured)
		}
		for _, m := range []struct {
			name string
			m    Model
			ps   []ModelPoint
		}{{"calibration model", r.CalibrationModel, r.OutModel}, {"own model", r.TestModel, r.InModel}, {"shipped model", DefaultModel(), r.ShippedModel}} {
			t.Logf("  %s %+v:", m.name, m.m)
			for _, p := range m.ps {
				t.Logf("    FMR %g at %.4f: %d impostors, measured %.2e (%.2fx) FNMR %.3f%% measurable %v", p.Target, p.Threshold, p.Impostors, p.FMR, p.FMR/p.Target, 100*p.FNMR, p.Measurable)
			}
		}
		for _, e := range tr.CloseEyePairs {
			t.Logf("  close eyes %s~%s %d/%d", e.A, e.B, e.Close, e.Pairs)
		}
		if c.name == "iitd" {
			// docs/iris.md, far tail: IITD's own model (k fitted over the
			// measured decades) within 2x of the measured FMR at 1e-4 and
			// 1e-5 (documented 1.02x and 1.24x), and FNMR at the shipped
			// model's 1e-5 threshold at most 5 % (documented 0.77 %).
			for _, p := range r.InModel[1:3] {
				if ratio := p.FMR / p.Target; ratio < 0.5 || ratio > 2 {
					t.Errorf("iitd: own model at FMR %g: measured %.2e (%.2fx), want within 2x", p.Target, p.FMR, ratio)
				}
			}
			if f := r.ShippedModel[2].FNMR; f > 0.05 {
				t.Errorf("iitd: FNMR %.3f%% at the shipped model's 1e-5 threshold, want at most 5%%", 100*f)
			}
		}
		want := irisDocumented[c.name]
		got := [5]float64{100 * tr.EER, 100 * tr.FTE, 100 * tr.FMR1000, 100 * r.Out.EER, 100 * r.Out.At[2].FNMR}
		names := [5]string{"in-sample EER", "FTE", "in-sample FMR1000", "out-of-sample EER", "out-of-sample FNMR at FMR 1e-3"}
		for i := range got {
			if math.Abs(got[i]-want[i]) > 0.1 {
				t.Errorf("%s: %s = %.3f%%, docs say %.3f%% (tolerance 0.1 points)", c.name, names[i], got[i], want[i])
			}
		}
	}
}
