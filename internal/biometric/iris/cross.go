package iris

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/assent-registry/assent/internal/biometric/crossset"
)

// Model returns the impostor model fitted by this evaluation (single-shift
// mean and degrees of freedom, effective shifts fitted at FMR 1e-3).
func (r *EvalResult) Model() Model {
	return Model{Mean: r.ImpostorSingleMean, DOF: r.ImpostorDOF, Shifts: r.EffectiveShifts}
}

// ModelPoint is one model threshold checked against measured pairs.
type ModelPoint struct {
	Target    float64 `json:"target_fmr"`
	Threshold float64 `json:"threshold"`
	// Impostors at or under the threshold, and the rates; Measurable is
	// false when the impostor pairs are fewer than 1/Target (a rate of 0
	// then says nothing).
	Impostors  int     `json:"impostors_accepted"`
	FMR        float64 `json:"fmr"`
	FNMR       float64 `json:"fnmr"`
	Measurable bool    `json:"measurable"`
}

// ModelTargets are the rates the far-tail check covers: measured down to
// 1e-6 where the impostors allow it, then the per-comparison rates enrolment
// asks for at 100,000, 1 million and 20 million people with two eyes each
// (1/(100 N) for N eyes), where only the FNMR is measurable.
var ModelTargets = []float64{1e-3, 1e-4, 1e-5, 1e-6, 5e-8, 5e-9, 2.5e-10}

// Fitted says whether the model was fitted: an evaluation with fewer than
// 20,000 impostor pairs (ShiftFitMinPairs beyond FMR 1e-3) cannot fit the
// effective shifts.
func (m Model) Fitted() bool { return m.Shifts > 0 && m.DOF > 0 && m.Mean > 0 }

// CheckModel measures FMR and FNMR of r's pairs at m's thresholds; nil when
// m is not fitted.
func CheckModel(m Model, r *EvalResult) []ModelPoint {
	if !m.Fitted() {
		return nil
	}
	var out []ModelPoint
	for _, target := range ModelTargets {
		t := m.Threshold(target)
		ni, _ := slices.BinarySearch(r.imp, math.Nextafter(t, 3))
		ng, _ := slices.BinarySearch(r.gen, math.Nextafter(t, 3))
		out = append(out, ModelPoint{Target: target, Threshold: t, Impostors: ni,
			FMR:        float64(ni) / float64(max(1, len(r.imp))),
			FNMR:       1 - float64(ng)/float64(max(1, len(r.gen))),
			Measurable: float64(len(r.imp))*target >= 1})
	}
	return out
}

// CrossResult is `assent eval iris --calibrate-on`: the test set scored with
// every tuned quantity fitted on the calibration set. Thresholds in Fit and
// Out are negated distances (crossset works on "higher is more alike").
type CrossResult struct {
	Test        *EvalResult     `json:"test"`
	Calibration *EvalResult     `json:"calibration"`
	Fit         crossset.Fit    `json:"fit"`
	Out         crossset.Report `json:"out_of_sample"`
	// Model fitted on the calibration set, checked on the test set; and
	// the test set's own model checked on itself (in sample: the far tail
	// as measured).
	CalibrationModel Model        `json:"calibration_model"`
	OutModel         []ModelPoint `json:"out_of_sample_model"`
	TestModel        Model        `json:"test_model"`
	InModel          []ModelPoint `json:"in_sample_model"`
	ShippedModel     []ModelPoint `json:"shipped_model"`
}

func negate(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = -x
	}
	return out
}

// EvaluateCross evaluates test and calibration (each with its options) and
// scores test with the thresholds and model fitted on calibration.
func EvaluateCross(ctx context.Context, test, calibration string, testOpt, calOpt EvalOptions, progress func(set string, done, total int)) (*CrossResult, error) {
	prog := func(set string) func(int, int) {
		if progress == nil {
			return nil
		}
		return func(d, t int) { progress(set, d, t) }
	}
	cal, err := EvaluateWith(ctx, calibration, calOpt, prog(calibration))
	if err != nil {
		return nil, err
	}
	tr, err := EvaluateWith(ctx, test, testOpt, prog(test))
	if err != nil {
		return nil, err
	}
	return CrossFrom(tr, cal)
}

// CrossFrom scores the evaluated test set with the thresholds and model
// fitted on the evaluated calibration set.
func CrossFrom(tr, cal *EvalResult) (*CrossResult, error) {
	fit, err := crossset.FitScores([]string{cal.Dataset}, negate(cal.gen), negate(cal.imp))
	if err != nil {
		return nil, fmt.Errorf("iris.EvaluateCross: %w", err)
	}
	out, err := crossset.Apply(fit, tr.Dataset, negate(tr.gen), negate(tr.imp))
	if err != nil {
		return nil, fmt.Errorf("iris.EvaluateCross: %w", err)
	}
	return &CrossResult{Test: tr, Calibration: cal, Fit: fit, Out: out,
		CalibrationModel: cal.Model(), OutModel: CheckModel(cal.Model(), tr),
		TestModel: tr.Model(), InModel: CheckModel(tr.Model(), tr),
		ShippedModel: CheckModel(DefaultModel(), tr)}, nil
}
