package crossset

import (
	"math"
	"testing"
)

// A threshold fitted on one group is applied frozen to the other: on a test
// set whose scores are shifted, the reported rates move, where a per-set EER
// would hide the shift.
func TestApplyUsesFrozenThresholds(t *testing.T) {
	var gen, imp []float64
	for i := range 1000 {
		imp = append(imp, float64(i)/1000) // impostors 0 .. 0.999
	}
	for i := range 100 {
		gen = append(gen, 0.95+float64(i)/1000) // genuine 0.95 .. 1.049
	}
	f, err := FitScores([]string{"cal"}, gen, imp)
	if err != nil {
		t.Fatal(err)
	}
	// FMR 1e-2 on 1,000 impostors: 10 may reach the threshold, so it sits
	// just above the 11th largest (0.989).
	if th := f.Thresholds[0]; !th.Measured || th.Score <= 0.989 || th.Score > 0.9891 {
		t.Errorf("FMR 1e-2 threshold %+v, want just above 0.989", th)
	}
	// 1e-4 needs 10,000 impostors: not measurable here.
	if f.Thresholds[2].Measured {
		t.Errorf("FMR 1e-4 threshold fitted from 1,000 impostors: %+v", f.Thresholds[2])
	}
	same, err := Apply(f, "same", gen, imp)
	if err != nil {
		t.Fatal(err)
	}
	if p := same.At[1]; p.FMR > 0.01 || p.FMR < 0.009 {
		t.Errorf("in-sample FMR at the 1e-2 threshold %.4f, want 0.010", p.FMR)
	}
	// The test set's impostors score 0.05 higher: the frozen threshold now
	// lets about 6% through, and the EER at the frozen threshold grows.
	var imp2 []float64
	for _, v := range imp {
		imp2 = append(imp2, v+0.05)
	}
	shifted, err := Apply(f, "shifted", gen, imp2)
	if err != nil {
		t.Fatal(err)
	}
	if p := shifted.At[1]; math.Abs(p.FMR-0.061) > 0.002 {
		t.Errorf("shifted FMR at the frozen 1e-2 threshold %.4f, want about 0.061", p.FMR)
	}
	// The frozen-threshold EER never undercuts the in-sample crossing
	// (here FMR 6.1%% against FNMR 0).
	if math.Abs(shifted.EER-shifted.At[0].FMR) > 1e-12 || shifted.EER <= same.EER {
		t.Errorf("EER at the frozen threshold %.4f on the shifted set, %.4f in sample: want larger", shifted.EER, same.EER)
	}
	if _, err := FitScores(nil, nil, imp); err == nil {
		t.Error("fit without genuine scores succeeded")
	}
}
